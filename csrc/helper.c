/* Helper processes beside a sandbox (see helper.h): forked, stripped of
 * the caller's fds and signal handling, dead with the caller. */
#define _GNU_SOURCE
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

void isol_helper_init(struct isol_helper *h)
{
	h->pid = -1;
	h->pidfd = -1;
}

pid_t isol_helper_fork(struct isol_helper *h, const char *what, isol_error *err)
{
	pid_t pid = fork();

	if (pid < 0)
		return isol_fail(err, errno, "%s: fork", what);
	if (pid > 0) {
		h->pid = pid;
		h->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	}
	return pid;
}

int isol_helper_child_prepare(const int *keep, int nkeep, int err_fd, int cloexec)
{
	struct sigaction sa;
	sigset_t none;
	int tmp[64], devnull;
	struct rlimit rl;

	if (nkeep < 0 || nkeep > (int)(sizeof tmp / sizeof tmp[0]))
		return errno = EINVAL, -1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &sa, NULL); /* (the C library's own: EINVAL, fine) */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();

	/* Above 3 + nkeep first (err_fd too), so that no dup2 below lands on
	 * an fd not yet moved. */
	for (int i = 0; i < nkeep; i++)
		if ((tmp[i] = fcntl(keep[i], F_DUPFD, 3 + nkeep)) < 0)
			return -1;
	if (err_fd >= 0 && (err_fd = fcntl(err_fd, F_DUPFD, 3 + nkeep)) < 0)
		return -1;
	for (int i = 0; i < nkeep; i++)
		if (dup2(tmp[i], 3 + i) < 0)
			return -1;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
	    dup2(err_fd >= 0 ? err_fd : devnull, 2) < 0)
		return -1;
	if (syscall(SYS_close_range, 3 + nkeep, ~0U, cloexec ? CLOSE_RANGE_CLOEXEC : 0) < 0) {
		int max =
			getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
		for (int fd = 3 + nkeep; fd < max; fd++)
			if (cloexec)
				fcntl(fd, F_SETFD, FD_CLOEXEC);
			else
				close(fd);
	}
	return 0;
}

int isol_helper_die_with(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -1;
	return getppid() == parent ? 0 : -1;
}

void isol_helper_end(struct isol_helper *h, int sig, int grace_ms)
{
	if (h->pidfd >= 0) {
		struct pollfd pf = { .fd = h->pidfd, .events = POLLIN };
		siginfo_t si;
		if (sig)
			syscall(SYS_pidfd_send_signal, h->pidfd, sig, NULL, 0);
		if (sig != SIGKILL && poll(&pf, 1, grace_ms) <= 0)
			syscall(SYS_pidfd_send_signal, h->pidfd, SIGKILL, NULL, 0);
		while (waitid((idtype_t)P_PIDFD, (id_t)h->pidfd, &si, WEXITED) < 0 && errno == EINTR)
			;
		close(h->pidfd);
	} else if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	isol_helper_init(h);
}
