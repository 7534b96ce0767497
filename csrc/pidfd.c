/*
 * pidfds and signals (see pidfd.h).
 */
#define _GNU_SOURCE
#include "pidfd.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "SIGHUP", SIGHUP },   { "SIGINT", SIGINT },
	{ "SIGQUIT", SIGQUIT }, { "SIGILL", SIGILL },
	{ "SIGTRAP", SIGTRAP }, { "SIGABRT", SIGABRT },
	{ "SIGBUS", SIGBUS },   { "SIGFPE", SIGFPE },
	{ "SIGKILL", SIGKILL }, { "SIGUSR1", SIGUSR1 },
	{ "SIGSEGV", SIGSEGV }, { "SIGUSR2", SIGUSR2 },
	{ "SIGPIPE", SIGPIPE }, { "SIGALRM", SIGALRM },
	{ "SIGTERM", SIGTERM }, { "SIGSTKFLT", SIGSTKFLT },
	{ "SIGCHLD", SIGCHLD }, { "SIGCONT", SIGCONT },
	{ "SIGSTOP", SIGSTOP }, { "SIGTSTP", SIGTSTP },
	{ "SIGTTIN", SIGTTIN }, { "SIGTTOU", SIGTTOU },
	{ "SIGURG", SIGURG },   { "SIGXCPU", SIGXCPU },
	{ "SIGXFSZ", SIGXFSZ }, { "SIGVTALRM", SIGVTALRM },
	{ "SIGPROF", SIGPROF }, { "SIGWINCH", SIGWINCH },
	{ "SIGIO", SIGIO },     { "SIGPWR", SIGPWR },
	{ "SIGSYS", SIGSYS },   { NULL, 0 },
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

void isol_decode_status(int st, struct isol_wait *w)
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
	if (si.si_code == CLD_EXITED) {
		w->exited = 1;
		w->code = si.si_status;
	} else {
		w->signal = si.si_status;
		w->core = si.si_code == CLD_DUMPED;
	}
	if (status_fd >= 0) {
		int st, timeout;
		if (isol_init_status(status_fd, w, &st, &timeout)) {
			isol_decode_status(st, w);
			w->timeout = timeout;
		}
	}
	w->maxrss_kb = ru.ru_maxrss;
	w->utime = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	w->stime = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	return 0;
}
