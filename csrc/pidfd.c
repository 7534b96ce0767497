/*
 * pidfds and signals (see pidfd.h).
 */
#define _GNU_SOURCE
#include "pidfd.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef PIDFS_MAGIC
#define PIDFS_MAGIC 0x50494446
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

/* The kept pidfd of the process (isol_pidfd_self): the process it was
 * opened in and its inode, published before the fd (release). */
static int self_fd = -1;
static pid_t self_pid;
static unsigned long long self_dev, self_ino;

static int self_still_ours(int fd, pid_t pid)
{
	struct stat sb;

	return __atomic_load_n(&self_pid, __ATOMIC_ACQUIRE) == pid && fstat(fd, &sb) == 0 &&
	       (unsigned long long)sb.st_ino == __atomic_load_n(&self_ino, __ATOMIC_ACQUIRE) &&
	       (unsigned long long)sb.st_dev == __atomic_load_n(&self_dev, __ATOMIC_ACQUIRE);
}

int isol_pidfd_self(int *owned, isol_error *err)
{
	int old = __atomic_load_n(&self_fd, __ATOMIC_ACQUIRE), fd;
	pid_t pid = getpid();
	struct statfs fs;
	struct stat sb;

	*owned = 0;
	if (old >= 0 && self_still_ours(old, pid))
		return old;
	fd = isol_pidfd_open(pid, err);
	if (fd < 0)
		return fd;
	*owned = 1;
	if (fstatfs(fd, &fs) < 0 || fs.f_type != PIDFS_MAGIC || fstat(fd, &sb) < 0)
		return fd; /* no inode of its own to tell it by: not kept */
	/* A racing thread's copy wins (ours is the caller's to close); a stale
	 * number is replaced, never closed (it may be the host's now). */
	__atomic_store_n(&self_pid, pid, __ATOMIC_RELEASE);
	__atomic_store_n(&self_dev, (unsigned long long)sb.st_dev, __ATOMIC_RELEASE);
	__atomic_store_n(&self_ino, (unsigned long long)sb.st_ino, __ATOMIC_RELEASE);
	if (__atomic_compare_exchange_n(&self_fd, &old, fd, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		*owned = 0;
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
