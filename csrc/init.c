/*
 * isol's init (see init.h).
 */
#define _GNU_SOURCE
#include "init.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pidfd.h"
#include "procfs.h"

static void kill_descendants(void);

static void close_fds_except(const int *keep, int n)
{
	int sorted[8], i, j, lo = 3;

	if (n > 8)
		n = 8;
	for (i = 0; i < n; i++)
		sorted[i] = keep[i];
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			int t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if (sorted[i] < lo)
			continue;
		if (sorted[i] > lo)
			syscall(SYS_close_range, lo, sorted[i] - 1, 0);
		lo = sorted[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
}

static void reap(pid_t cmd, int *cmd_status, int *cmd_done)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p == cmd) {
			*cmd_status = st;
			*cmd_done = 1;
		}
	}
}

struct cmd_start {
	sigset_t mask;
	int status_fd, parent_pidfd;
	int (*fn)(void *);
	void *arg;
};

/* Runs in the command's process, on its own stack, sharing the init's
 * memory (CLONE_VM|CLONE_VFORK) until it execs: it only restores the signal
 * mask, closes the init's private fds (the fd table is not shared) and hands
 * over to fn, which execs or _exits. */
static int cmd_trampoline(void *p)
{
	struct cmd_start *c = p;

	sigprocmask(SIG_SETMASK, &c->mask, NULL);
	if (c->status_fd >= 0)
		close(c->status_fd);
	if (c->parent_pidfd >= 0)
		close(c->parent_pidfd);
	_exit(c->fn(c->arg));
}

/* Start the command. A vfork-style clone (CLONE_VM|CLONE_VFORK) does not
 * copy the init's address space, which is a copy of the whole host process
 * (the Lua state and everything else): a plain fork would copy its page
 * tables once more only to throw them away at exec. The init is suspended
 * until the command has exec'd (or failed), so nothing runs concurrently on
 * the shared memory. */
static pid_t start_command(struct cmd_start *c)
{
	const size_t size = 256 * 1024;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pid_t pid;

	if (stack == MAP_FAILED)
		return -1;
	pid = clone(cmd_trampoline, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, c);
	munmap(stack, size);
	return pid;
}

int isol_init_run(int parent_pidfd, int status_fd, int err_fd, int pidns, int (*cmd_fn)(void *),
		  void *cmd_arg, isol_error *err)
{
	static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	sigset_t set, old;
	struct pollfd pfd[2];
	int sfd, cmd_status = 0, cmd_done = 0, keep[3], nkeep = 0;
	pid_t cmd;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(&set, forwarded[i]);
	sigaddset(&set, SIGCHLD);
	/* Block first, so that no signal is lost between fork and signalfd. */
	sigprocmask(SIG_BLOCK, &set, &old);
	if (!pidns)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	{
		struct cmd_start c = { .mask = old, .status_fd = status_fd, .parent_pidfd = parent_pidfd,
				       .fn = cmd_fn, .arg = cmd_arg };
		cmd = start_command(&c);
	}
	if (cmd < 0) {
		int e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return isol_fail(err, e, "fork command under init");
	}

	/* The init: from here on it never returns. A status pipe whose reader
	 * went away (a detached sandbox) must not kill it with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (err_fd >= 0)
		close(err_fd);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (status_fd >= 0)
		keep[nkeep++] = status_fd;
	if (parent_pidfd >= 0)
		keep[nkeep++] = parent_pidfd;
	if (sfd >= 0)
		keep[nkeep++] = sfd;
	/* Hold nothing of the host's: no listening socket, no pipe end. */
	close_fds_except(keep, nkeep);
	prctl(PR_SET_NAME, "isol-init", 0, 0, 0);

	if (sfd < 0) {
		/* No signalfd (fd limit?): still reap, just without forwarding. */
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		while (!cmd_done) {
			int st;
			pid_t p = waitpid(-1, &st, 0);
			if (p == cmd)
				cmd_status = st, cmd_done = 1;
			else if (p < 0 && errno != EINTR)
				break;
		}
	}
	pfd[0].fd = sfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = parent_pidfd;
	pfd[1].events = POLLIN;
	while (!cmd_done) {
		int r = poll(pfd, parent_pidfd >= 0 ? 2 : 1, -1);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (parent_pidfd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP))) {
			/* The spawning process is gone: take the sandbox with us.
			 * As PID 1, kill(-1) reaches every process of the namespace
			 * (and the kernel kills the rest when we exit). As a plain
			 * supervisor we are a child subreaper: every descendant,
			 * setsid escapees included, is re-parented to us, so killing
			 * children until none is left ends them all. */
			if (pidns)
				kill(-1, SIGKILL);
			else
				kill_descendants();
			_exit(128 + SIGKILL);
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if ((int)si.ssi_signo == SIGCHLD)
					reap(cmd, &cmd_status, &cmd_done);
				else
					kill(cmd, (int)si.ssi_signo);
				if (cmd_done)
					break;
			}
			/* signalfd coalesces SIGCHLD: always sweep once more. */
			reap(cmd, &cmd_status, &cmd_done);
		}
	}
	/* The sandbox ends with its command, with or without a pid namespace:
	 * leftover daemons and escapees die here rather than leak to the host. */
	if (!pidns)
		kill_descendants();
	if (status_fd >= 0) {
		ssize_t w = write(status_fd, &cmd_status, sizeof cmd_status);
		(void)w;
	}
	if (WIFEXITED(cmd_status))
		_exit(WEXITSTATUS(cmd_status));
	_exit(128 + WTERMSIG(cmd_status));
}
static int kill_if_child(pid_t pid, void *ctx)
{
	struct isol_procstat st;
	long *n = ctx;

	if (isol_procfs_stat(-1, pid, &st) == 0 && st.ppid == getpid() && st.state != 'Z') {
		kill(pid, SIGKILL);
		(*n)++;
	}
	return 0;
}

static void kill_descendants(void)
{
	for (;;) {
		long n = 0, reaped = 0;
		int st;
		pid_t p;
		siginfo_t probe;

		/* The common case, nothing left: no child at all (orphans are
		 * re-parented to us synchronously when their parent exits, so none
		 * can be on its way once we have reaped the command). This saves a
		 * scan of all /proc on every sandbox exit. */
		if (waitid(P_ALL, 0, &probe, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD)
			return;
		isol_procfs_each(-1, kill_if_child, &n);
		/* Reap what is dead without blocking; orphans of the killed come
		 * back to us (we are a subreaper) and the next pass kills them. */
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			reaped++;
		if (p < 0 && errno == ECHILD)
			return;
		if (n == 0 && reaped == 0) {
			/* An orphan on its way to us, not yet in /proc as ours. */
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
			continue;
		}
		/* Block for the signalled children not reaped yet: each of them
		 * dies, so every wait returns; any other death is progress too
		 * and only makes us wait less (never for an unsignalled child). */
		for (long i = reaped; i < n; i++) {
			p = waitpid(-1, &st, 0);
			if (p < 0 && errno == EINTR)
				i--;
			else if (p < 0)
				return;
		}
	}
}

void isol_init_status(int status_fd, struct isol_wait *w)
{
	int st;
	/* EOF means the init itself was killed (SIGKILL of the whole sandbox). */
	if (read(status_fd, &st, sizeof st) == (ssize_t)sizeof st) {
		memset(w, 0, sizeof *w);
		if (WIFEXITED(st))
			w->exited = 1, w->code = WEXITSTATUS(st);
		else if (WIFSIGNALED(st))
			w->signal = WTERMSIG(st), w->core = WCOREDUMP(st) ? 1 : 0;
	}
}
