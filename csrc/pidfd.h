/*
 * pidfds and signals: the signal names table, pidfd open/send/wait, and the
 * decoding of a wait status. Plain syscalls; nothing here allocates.
 */
#ifndef ISOL_PIDFD_H
#define ISOL_PIDFD_H

#include <signal.h>
#include <sys/types.h>

#include "error.h"

/* Signal number for "SIGTERM", "TERM" or "term"; 0 if unknown. */
int isol_signal_number(const char *name);
/* "SIGTERM" for 15; NULL if unknown. Static string. */
const char *isol_signal_name(int sig);

/* A new CLOEXEC pidfd for pid, owned by the caller; -errno (err filled). */
int isol_pidfd_open(pid_t pid, isol_error *err);
/* A pidfd of the calling process, kept for the process's life: spawn hands
 * one to every child that dies with its parent. Opened on first use, and
 * again in another process (after a fork) or when the number no longer
 * holds it (a host that closed or replaced fds it does not know about; the
 * inode tells, unique per process on pidfs). Where pidfds are not on pidfs
 * (before Linux 6.9: one anonymous inode for them all) nothing is kept:
 * then *owned is 1 and the caller closes it. Returns the fd or -errno. */
int isol_pidfd_self(int *owned, isol_error *err);
/* 0, or -errno (ESRCH: it has exited) with err "kill SIGTERM: ...". */
int isol_pidfd_send_signal(int pidfd, int sig, isol_error *err);

/* Result of waiting for a process. */
struct isol_wait {
	int exited;          /* 1: exited with code; 0: killed by signal */
	int code;            /* exit code when exited */
	int signal;          /* signal number when killed */
	int core;            /* core dumped */
	int timeout;         /* isol's init ended the sandbox at plan->timeout_ms */
	long maxrss_kb;      /* peak RSS of it and its reaped descendants */
	double utime, stime; /* CPU seconds, likewise */
};

/* Wait for the process behind pidfd (not closed). nohang: return 1 (still
 * running) without blocking. Returns 0 when it was reaped and *w is filled,
 * or -errno. If status_fd >= 0 (isol's init supervised the command), the
 * command's status record read from it replaces the init's own status, but
 * only when the init ended as agreed (see init.h: isol_init_status). */
int isol_pidfd_wait(int pidfd, int status_fd, int nohang, struct isol_wait *w, isol_error *err);

/* A waitpid() status -> *w (zeroed first). */
void isol_decode_status(int status, struct isol_wait *w);

#endif
