/*
 * Processes: pidfd helpers, signal names, and isol's init (PID 1 of a pid
 * namespace, or a plain supervisor where the spawning thread is not the
 * main thread and die-with-parent must still be robust).
 */
#ifndef ISOL_PROC_H
#define ISOL_PROC_H

#include <signal.h>
#include <sys/types.h>

#include "error.h"

/* Signal number for "SIGTERM", "TERM" or "term"; 0 if unknown. */
int isol_signal_number(const char *name);
/* "SIGTERM" for 15; NULL if unknown. Static string. */
const char *isol_signal_name(int sig);

int isol_pidfd_open(pid_t pid, isol_error *err);
int isol_pidfd_send_signal(int pidfd, int sig, isol_error *err);

/* Result of waiting for a process. */
struct isol_wait {
	int exited;   /* 1: exited with code; 0: killed by signal */
	int code;     /* exit code when exited */
	int signal;   /* signal number when killed */
	int core;     /* core dumped */
	long maxrss_kb;      /* peak RSS of it and its reaped descendants */
	double utime, stime; /* CPU seconds, likewise */
};

/* Wait for the process behind pidfd. nohang: return 1 (still running) without
 * blocking. Returns 0 when it was reaped and *w is filled, or -errno.
 * If status_fd >= 0 (an init supervised the command), the command's real
 * status read from it replaces the init's. */
int isol_pidfd_wait(int pidfd, int status_fd, int nohang, struct isol_wait *w, isol_error *err);

/* Close every fd >= 3 except the ones listed (n <= 8). Async-signal-safe. */
void isol_close_fds_except(const int *keep, int n);

/*
 * isol's init, run in the cloned child instead of exec'ing directly:
 * forks; the grandchild returns 0 from this function (and goes on to exec
 * the command); the init never returns: it reaps every child, forwards
 * SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2/SIGWINCH to the command,
 * watches the spawning process through `parent_pidfd` (a pidfd refers to a
 * process, not a thread, so a spawning thread that exits does not fire it,
 * unlike PR_SET_PDEATHSIG), and exits with the command's status, which it
 * also writes as an int to status_fd.
 * `pidns`: it is PID 1 of a new pid namespace (on parent death it kills
 * every process with kill(-1)); otherwise a plain supervisor that kills the
 * command's process group.
 * err_fd: the error pipe; the init closes its copy once the command is
 * forked so that the exec of the command alone decides EOF.
 * Returns 0 in the grandchild, negative (err filled) if fork fails.
 */
int isol_init_run(int parent_pidfd, int status_fd, int err_fd, int pidns, isol_error *err);

#endif
