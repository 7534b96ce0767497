#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "SIGHUP", SIGHUP },     { "SIGINT", SIGINT },       { "SIGQUIT", SIGQUIT },
	{ "SIGILL", SIGILL },     { "SIGTRAP", SIGTRAP },     { "SIGABRT", SIGABRT },
	{ "SIGBUS", SIGBUS },     { "SIGFPE", SIGFPE },       { "SIGKILL", SIGKILL },
	{ "SIGUSR1", SIGUSR1 },   { "SIGSEGV", SIGSEGV },     { "SIGUSR2", SIGUSR2 },
	{ "SIGPIPE", SIGPIPE },   { "SIGALRM", SIGALRM },     { "SIGTERM", SIGTERM },
	{ "SIGSTKFLT", SIGSTKFLT }, { "SIGCHLD", SIGCHLD },   { "SIGCONT", SIGCONT },
	{ "SIGSTOP", SIGSTOP },   { "SIGTSTP", SIGTSTP },     { "SIGTTIN", SIGTTIN },
	{ "SIGTTOU", SIGTTOU },   { "SIGURG", SIGURG },       { "SIGXCPU", SIGXCPU },
	{ "SIGXFSZ", SIGXFSZ },   { "SIGVTALRM", SIGVTALRM }, { "SIGPROF", SIGPROF },
	{ "SIGWINCH", SIGWINCH }, { "SIGIO", SIGIO },         { "SIGPWR", SIGPWR },
	{ "SIGSYS", SIGSYS },     { NULL, 0 },
};

int isol_signal_number(const char *name)
{
	const char *bare = strncasecmp(name, "SIG", 3) == 0 ? name + 3 : name;

	for (int i = 0; signals[i].name; i++)
		if (strcasecmp(bare, signals[i].name + 3) == 0)
			return signals[i].sig;
	return 0;
}

const char *isol_signal_name(int sig)
{
	for (int i = 0; signals[i].name; i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	return NULL;
}

int isol_pidfd_open(pid_t pid, isol_error *err)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0)
		return isol_fail(err, errno, "pidfd_open %d", (int)pid);
	return fd;
}

int isol_pidfd_send_signal(int pidfd, int sig, isol_error *err)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0) {
		const char *n = isol_signal_name(sig);
		return isol_fail(err, errno, "kill %s", n ? n : "signal");
	}
	return 0;
}

static void decode_status(int st, struct isol_wait *w)
{
	memset(w, 0, sizeof *w);
	if (WIFEXITED(st)) {
		w->exited = 1;
		w->code = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		w->signal = WTERMSIG(st);
		w->core = WCOREDUMP(st) ? 1 : 0;
	}
}

int isol_pidfd_wait(int pidfd, int status_fd, int nohang, struct isol_wait *w, isol_error *err)
{
	siginfo_t si;
	struct rusage ru;
	int st;

	memset(&si, 0, sizeof si);
	memset(&ru, 0, sizeof ru);
	for (;;) {
		/* The raw syscall also returns the child's rusage (glibc's waitid
		 * does not pass it through). */
		if (syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED | (nohang ? WNOHANG : 0), &ru) == 0)
			break;
		if (errno != EINTR)
			return isol_fail(err, errno, "waitid");
	}
	if (si.si_pid == 0)
		return 1;
	memset(w, 0, sizeof *w);
	w->maxrss_kb = ru.ru_maxrss;
	w->utime = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	w->stime = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	if (si.si_code == CLD_EXITED) {
		w->exited = 1;
		w->code = si.si_status;
	} else {
		w->signal = si.si_status;
		w->core = si.si_code == CLD_DUMPED;
	}
	if (status_fd >= 0) {
		/* The init wrote the command's status before it exited; EOF means
		 * the init itself was killed (e.g. SIGKILL of the whole sandbox). */
		ssize_t n = read(status_fd, &st, sizeof st);
		if (n == (ssize_t)sizeof st) {
			struct isol_wait keep = *w;
			decode_status(st, w);
			w->maxrss_kb = keep.maxrss_kb;
			w->utime = keep.utime;
			w->stime = keep.stime;
		}
	}
	return 0;
}

void isol_close_fds_except(const int *keep, int n)
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

/* fork(2) without glibc: glibc's fork takes malloc and stdio locks that a
 * thread of the host may have held when we were cloned. */
static pid_t raw_fork(void)
{
	struct clone_args args;

	memset(&args, 0, sizeof args);
	args.exit_signal = SIGCHLD;
	return (pid_t)syscall(SYS_clone3, &args, sizeof args);
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

int isol_init_run(int parent_pidfd, int status_fd, int err_fd, int pidns, isol_error *err)
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
	cmd = raw_fork();
	if (cmd < 0) {
		int e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return isol_fail(err, e, "fork command under init");
	}
	if (cmd == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (status_fd >= 0)
			close(status_fd);
		if (parent_pidfd >= 0)
			close(parent_pidfd);
		return 0;
	}

	/* The init: from here on it never returns. */
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
	isol_close_fds_except(keep, nkeep);
	prctl(PR_SET_NAME, "isol-init", 0, 0, 0);

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
			/* The spawning process is gone: take the sandbox with us. */
			if (pidns)
				kill(-1, SIGKILL);
			else
				kill(-cmd, SIGKILL), kill(cmd, SIGKILL);
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
	if (status_fd >= 0) {
		ssize_t w = write(status_fd, &cmd_status, sizeof cmd_status);
		(void)w;
	}
	if (WIFEXITED(cmd_status))
		_exit(WEXITSTATUS(cmd_status));
	_exit(128 + WTERMSIG(cmd_status));
}
