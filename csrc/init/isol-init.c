/*
 * isol-init: isol's init as its own small static program (PID 1 of a pid
 * namespace, or a child-subreaper supervisor without one). core.so embeds
 * it and execs it from a sealed memfd in the cloned child (see ../init.h
 * for why, and for the command line).
 *
 * It holds no host memory, has an empty environment and is non-dumpable
 * from its first instruction on (so /proc/1/mem, /proc/1/environ and
 * /proc/1/fd are out of the sandbox's reach without CAP_SYS_PTRACE); every
 * fd it receives is made CLOEXEC before the command starts, so the command
 * inherits none of them.
 *
 * It starts the command (a vfork-like clone; in the command: a process
 * group of its own in the init's new session, or with -T a session of its
 * own, PR_SET_PDEATHSIG SIGKILL, landlock_restrict_self, PATH search, execve;
 * an exec failure goes to the error pipe as an isol_error {errno, context}
 * whose strerror the parent appends), reaps every child, forwards
 * SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2/SIGWINCH to the command,
 * watches the spawning process's pidfd (a pidfd refers to a process, not a
 * thread: a spawning thread that exits does not fire it), enforces the
 * timeout with a timerfd, and when the command has ended kills what is
 * left (subreaper mode: every descendant, found through the host /proc
 * dirfd) and writes exactly one struct isol_init_record to the status fd,
 * then exits with ISOL_INIT_EXIT_OK. Any failure of its own before the
 * command runs: an isol_error on the error pipe and exit 127.
 *
 * Built with musl-gcc -static -Os (see the Makefile): libc only, no
 * allocation.
 */
#define _GNU_SOURCE
#define ISOL_INIT_PROGRAM 1
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../error.h"
#include "../execpath.h"
#include "../init.h"
#include "../procfs.h"

#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static struct {
	int pidns, new_session, new_root, ctty;
	int status_fd, parent_fd, err_fd, proc_fd, landlock_fd;
	long timeout_ms;
	const char *file;
	char **argv, **envp;
	char *cmd_lo, *cmd_hi; /* the command's strings in our argv area */
} opt = { 0, 0, 0, 0, -1, -1, -1, -1, -1, 0, NULL, NULL, NULL, NULL, NULL };

static pid_t cmd = -1;
static int cmd_status, cmd_done;

/* An isol_error with its strerror left to the parent (error.h). */
static void die(int errnum, const char *what, const char *obj) __attribute__((noreturn));
static void die(int errnum, const char *what, const char *obj)
{
	isol_error e;

	memset(&e, 0, sizeof e);
	e.code = errnum > 0 ? errnum : EIO;
	snprintf(e.msg, sizeof e.msg, "%s%s%s", what, obj ? " " : "", obj ? obj : "");
	e.strerror_pending = 1;
	if (opt.err_fd >= 0) {
		ssize_t w = write(opt.err_fd, &e, sizeof e);
		(void)w;
	}
	_exit(127);
}

static long num(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		die(EINVAL, "isol-init: bad argument", s);
	return v;
}

static void parse(int argc, char **argv)
{
	int i = 1;
	long nenv;

	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || !a[1])
			die(EINVAL, "isol-init: bad option", a);
		switch (a[1]) {
		case 'n':
			opt.pidns = 1;
			break;
		case 'S':
			opt.new_session = 1;
			break;
		case 'R':
			opt.new_root = 1;
			break;
		case 'T':
			opt.ctty = 1;
			break;
		case 's':
			opt.status_fd = (int)num(a + 2);
			break;
		case 'p':
			opt.parent_fd = (int)num(a + 2);
			break;
		case 'e':
			opt.err_fd = (int)num(a + 2);
			break;
		case 'r':
			opt.proc_fd = (int)num(a + 2);
			break;
		case 'l':
			opt.landlock_fd = (int)num(a + 2);
			break;
		case 't':
			opt.timeout_ms = num(a + 2);
			break;
		default:
			die(EINVAL, "isol-init: bad option", a);
		}
	}
	if (i + 2 >= argc)
		die(EINVAL, "isol-init: no command", NULL);
	nenv = num(argv[++i]);
	if (nenv < 0 || nenv > argc - i - 3)
		die(EINVAL, "isol-init: bad environment count", argv[i]);
	opt.envp = argv + i + 1;
	opt.file = argv[i + 1 + nenv];
	argv[i + 1 + nenv] = NULL; /* terminates envp */
	opt.argv = argv + i + 2 + nenv;
	/* The kernel lays argv strings out contiguously: from NENV to the end
	 * of the last one are the command's (see forget_command). */
	opt.cmd_lo = argv[i];
	opt.cmd_hi = argv[argc - 1] + strlen(argv[argc - 1]);
}

/* Once the command is forked, the init needs none of its argv or
 * environment: wipe them, so that /proc/1/cmdline shows only isol-init's
 * options (a ps or pgrep for the command finds the command alone) and no
 * copy of the command's environment stays in the init's memory. */
static void forget_command(void)
{
	if (opt.cmd_lo && opt.cmd_hi > opt.cmd_lo)
		memset(opt.cmd_lo, 0, (size_t)(opt.cmd_hi - opt.cmd_lo));
}

static void cloexec(int fd)
{
	if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		die(errno, "isol-init: cloexec", NULL);
}

/* The command's process runs on this stack until its execve. It shares
 * the init's memory (CLONE_VM | CLONE_VFORK, the way posix_spawn starts its
 * child): no copy of the init's page tables is made, and torn down again
 * by the execve, on each spawn; the init sleeps until the command has
 * exec'd or exited. So command() writes no memory but this stack (errno
 * aside, which the init does not read after the clone) and the error pipe,
 * and the init's signal dispositions are its own (no CLONE_SIGHAND). */
static char cmd_stack[32768] __attribute__((aligned(16)));

/* In the command's process (see cmd_stack). */
static void command(const sigset_t *mask, int init_pidfd) __attribute__((noreturn));
static void command(const sigset_t *mask, int init_pidfd)
{
	struct pollfd self = { .fd = init_pidfd, .events = POLLIN };
	char buf[4096];
	const char *tried;
	int r;

	/* -T: the command leads a session of its own, whose controlling
	 * terminal is the one on fd 0 (an interactive shell gets job control);
	 * the init never takes it. -S alone: the init already leads a new
	 * session without a terminal (made before it was exec'd); the command
	 * stays in it, in a process group of its own, so that a `kill 0` from
	 * the sandbox never reaches the init. A group, not a second session:
	 * each setsid also makes a scheduler autogroup (~15 us here). */
	if (opt.ctty) {
		if (setsid() < 0)
			die(errno, "setsid", NULL);
		if (ioctl(0, TIOCSCTTY, 0) < 0)
			die(errno, "make fd 0 the controlling terminal (TIOCSCTTY)", NULL);
	} else if (opt.new_session && setpgid(0, 0) < 0) {
		die(errno, "setpgid", NULL);
	}
	/* The command dies with its init: no orphan outlives a killed sandbox. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		die(errno, "prctl PDEATHSIG", NULL);
	/* The init died before PDEATHSIG was armed? (getppid() cannot tell: in
	 * a joined pid namespace our parent has no pid, and an orphan's new
	 * parent could be anyone; a pidfd of the init can. As PID 1 of our pid
	 * namespace, the init's death kills us anyway: no pidfd then.) */
	if (init_pidfd >= 0 && poll(&self, 1, 0) != 0)
		_exit(128 + SIGKILL);
	if (opt.landlock_fd >= 0 && syscall(SYS_landlock_restrict_self, opt.landlock_fd, 0) < 0)
		die(errno, "landlock_restrict_self", NULL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	r = isol_exec_path(opt.file, opt.argv, opt.envp, buf, &tried);
	if (r == -ENOENT) {
		isol_error e;
		memset(&e, 0, sizeof e);
		e.code = ENOENT;
		snprintf(e.msg, sizeof e.msg, "exec %s: not found%s%s", opt.file,
			 strchr(opt.file, '/') ? "" : " in PATH", opt.new_root ? " inside the new root" : "");
		if (write(opt.err_fd, &e, sizeof e) < 0)
			_exit(127);
		_exit(127);
	}
	die(-r, "exec", tried);
}

struct command_start {
	const sigset_t *mask;
	int init_pidfd;
};

static int command_main(void *arg)
{
	const struct command_start *cs = arg;

	command(cs->mask, cs->init_pidfd);
}

static void reap(void)
{
	int st;
	pid_t p;

	/* Once the command is reaped the loop ends: the rest is killed and
	 * reaped by kill_descendants, or by the kernel with PID 1. */
	while (!cmd_done && (p = waitpid(-1, &st, WNOHANG)) > 0)
		if (p == cmd)
			cmd_status = st, cmd_done = 1;
}

static int kill_if_child(pid_t pid, void *ctx)
{
	struct isol_procstat st;
	long *n = ctx;

	if (isol_procfs_stat(opt.proc_fd, pid, &st) == 0 && st.ppid == getpid() && st.state != 'Z') {
		kill(pid, SIGKILL);
		(*n)++;
	}
	return 0;
}

/* Subreaper mode: kill every descendant and reap until no child is left.
 * Orphans are re-parented to us, so killing children until none remains
 * ends them all. The /proc scanned is the host's (opt.proc_fd), opened by
 * the parent before the root change. */
static void kill_descendants(void)
{
	for (;;) {
		long n = 0, reaped = 0;
		int st;
		pid_t p;
		siginfo_t probe;

		/* Nothing left: no child at all (orphans are re-parented to us
		 * synchronously when their parent exits). */
		if (waitid(P_ALL, 0, &probe, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD)
			return;
		if (isol_procfs_each(opt.proc_fd, kill_if_child, &n) < 0) {
			/* No /proc at all: our children are still ours to kill by
			 * waiting; send SIGKILL to the command's group at least. */
			if (cmd > 0 && !cmd_done)
				kill(cmd, SIGKILL);
		}
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			if (p == cmd)
				cmd_status = st, cmd_done = 1;
			reaped++;
		}
		if (p < 0 && errno == ECHILD)
			return;
		if (n == 0 && reaped == 0) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
			continue;
		}
		for (long i = reaped; i < n; i++) {
			p = waitpid(-1, &st, 0);
			if (p == cmd)
				cmd_status = st, cmd_done = 1;
			if (p < 0 && errno == EINTR)
				i--;
			else if (p < 0)
				return;
		}
	}
}

static void kill_sandbox(void)
{
	if (opt.pidns)
		kill(-1, SIGKILL);
	else
		kill_descendants();
}

int main(int argc, char **argv)
{
	static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	struct pollfd pfd[3];
	sigset_t set, blocked, empty;
	int sfd, tfd = -1, self, timed_out = 0;

	/* First: no ptrace-style access to our memory, fds or environment. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	prctl(PR_SET_NAME, "isol-init", 0, 0, 0);
	parse(argc, argv);
	cloexec(opt.status_fd);
	cloexec(opt.parent_fd);
	cloexec(opt.err_fd);
	cloexec(opt.proc_fd);
	cloexec(opt.landlock_fd);

	sigemptyset(&empty);
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(&set, forwarded[i]);
	sigaddset(&set, SIGCHLD);
	/* The init is exec'd with every signal blocked (init.h): from here on
	 * only these are, before the command starts, so that no signal is
	 * lost; and SIGPIPE, so that a status or error pipe whose reader went
	 * away does not kill us (EPIPE; blocked rather than ignored: the
	 * command's process leaves with the empty mask, its SIGPIPE untouched). */
	blocked = set;
	sigaddset(&blocked, SIGPIPE);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
	if (!opt.pidns && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		die(errno, "prctl CHILD_SUBREAPER", NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		die(errno, "isol-init: signalfd", NULL);
	if (opt.timeout_ms > 0) {
		struct itimerspec its = { { 0, 0 },
					  { opt.timeout_ms / 1000, (opt.timeout_ms % 1000) * 1000000 } };
		tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0)
			die(errno, "isol-init: timerfd", NULL);
	}
	/* For the command's check that we did not die before its PDEATHSIG
	 * was armed (a pidfd is close-on-exec from the start). As PID 1 of a
	 * pid namespace there is nothing to check: when PID 1 dies, the kernel
	 * kills every process of the namespace. */
	self = opt.pidns ? -1 : (int)syscall(SYS_pidfd_open, getpid(), 0);
	{
		struct command_start cs = { &empty, self };

		cmd = clone(command_main, cmd_stack + sizeof cmd_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &cs,
			    NULL, NULL, NULL);
	}
	if (cmd < 0)
		die(errno, "start command under init", NULL);
	if (self >= 0)
		close(self);
	forget_command();
	/* The exec of the command alone decides the error pipe's EOF. */
	close(opt.err_fd);
	opt.err_fd = -1;

	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = opt.parent_fd, .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = tfd, .events = POLLIN };
	while (!cmd_done) {
		int r = poll(pfd, 3, -1); /* fd -1 entries are ignored */

		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP)) {
			/* The spawning process is gone: take the sandbox with us. */
			kill_sandbox();
			_exit(128 + SIGKILL);
		}
		if (pfd[2].revents & POLLIN) {
			timed_out = 1;
			pfd[2].fd = -1;
			kill_sandbox();
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si[8];
			ssize_t n;

			/* one read for what is pending, unless more than fits */
			do {
				n = read(sfd, si, sizeof si);
				for (ssize_t i = 0; i < n / (ssize_t)sizeof si[0]; i++)
					if ((int)si[i].ssi_signo != SIGCHLD)
						kill(cmd, (int)si[i].ssi_signo);
			} while (n == (ssize_t)sizeof si);
		}
		/* signalfd coalesces SIGCHLD: always sweep. */
		reap();
	}
	/* The sandbox ends with its command, with or without a pid namespace. */
	if (!opt.pidns)
		kill_descendants();
	if (opt.status_fd >= 0) {
		struct isol_init_record rec = { cmd_status,
						ISOL_INIT_MAGIC | (timed_out ? ISOL_INIT_TIMEOUT : 0) };
		ssize_t w = write(opt.status_fd, &rec, sizeof rec);
		(void)w;
	}
	_exit(ISOL_INIT_EXIT_OK);
}
