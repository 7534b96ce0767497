/*
 * Processes: pidfd helpers, signal names, and isol's init (PID 1 of a pid
 * namespace, or a plain supervisor where the spawning thread is not the
 * main thread and die-with-parent must still be robust).
 */
#ifndef ISOL_PROC_H
#define ISOL_PROC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
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

/* A waitpid() status -> *w. */
void isol_decode_status(int status, struct isol_wait *w);

/* Close every fd >= 3 except the ones listed (n <= 8). Async-signal-safe. */
void isol_close_fds_except(const int *keep, int n);

/* ---- /proc scans (session, pid namespace, process tree) ---- */

/* What /proc/<pid>/stat says about a process. */
struct isol_procstat {
	pid_t pid, ppid, pgrp, sid;
	char state;               /* 'R', 'S', 'Z', ... */
	unsigned long long start; /* field 22, clock ticks since boot: with the
	                             pid it identifies a process (pid reuse) */
};

/* Read /proc/<pid>/stat. Async-signal-safe (stack buffer only).
 * Returns 0, or -ESRCH (err filled) when the process does not exist. */
int isol_proc_stat(pid_t pid, struct isol_procstat *st, isol_error *err);

/* Which processes a scan selects: the union of every criterion set.
 * The caller's own process is never selected. */
struct isol_selector {
	pid_t sid;          /* > 0: members of this session */
	uint64_t pidns;     /* != 0: /proc/<pid>/ns/pid has this inode */
	const pid_t *roots; /* these processes and all their descendants */
	size_t nroots;
	/* processes in any of these namespaces (procname "mnt", "net", ...) */
	const char *ns_name[8];
	uint64_t ns_ino[8];
	size_t nns;
	int keep_roots; /* roots are not selected (their descendants are) */
};

/* Matching processes, found by one pass over /proc. Zombies are left out
 * (they are dead already; their parent reaps them). `pids` is malloc'd: the
 * caller frees it (free(*pids)) when 0 is returned. Returns 0 or -errno. */
int isol_proc_select(const struct isol_selector *sel, pid_t **pids, size_t *n, isol_error *err);

/* Send sig to every selected process, through a pidfd checked against the
 * start time of the scan (no pid-reuse races). With SIGKILL, scan again and
 * again until none is left: processes forked while the kill runs and
 * orphans re-parented elsewhere are caught by the next pass (a process with
 * SIGKILL pending cannot fork). Other signals: one pass.
 * Returns the number of distinct processes signalled (a process killed
 * as a side effect, e.g. by its pid namespace's init dying, is not counted),
 * or -errno (ETIMEDOUT if processes remain after `timeout_ms`). */
long isol_proc_kill(const struct isol_selector *sel, int sig, int timeout_ms, isol_error *err);

/* Kill every descendant of the calling process (which should be a child
 * subreaper, so that orphans come back to it) and reap them until it has no
 * child left. Async-signal-safe (no allocation): usable in the init. */
void isol_kill_descendants(void);

/*
 * isol's init, run in the cloned child instead of exec'ing directly:
 * starts the command as cmd_fn(cmd_arg) in a new process (a vfork-style
 * clone on its own stack: cmd_fn must exec or _exit, never return into the
 * init); the init never returns: it reaps every child, forwards
 * SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2/SIGWINCH to the command,
 * watches the spawning process through `parent_pidfd` (a pidfd refers to a
 * process, not a thread, so a spawning thread that exits does not fire it,
 * unlike PR_SET_PDEATHSIG), and exits with the command's status, which it
 * also writes as an int to status_fd.
 * `pidns`: it is PID 1 of a new pid namespace (on parent death it kills
 * every process with kill(-1); when it exits the kernel kills the rest);
 * otherwise a supervisor that is a child subreaper: orphans (double-forked
 * setsid escapees too) are re-parented to it, and on parent death or when
 * the command ends it kills its descendants until none is left
 * (isol_kill_descendants), so that the sandbox ends as a pid namespace does.
 * Parent death: PR_SET_PDEATHSIG is not used here; it follows the spawning
 * thread and races with a parent dying before it is armed. The parent's
 * pidfd is level-triggered: a parent that died before the poll is seen.
 * SIGPIPE is ignored in the init (a status pipe whose reader is gone).
 * err_fd: the error pipe; the init closes its copy once the command is
 * forked so that the exec of the command alone decides EOF.
 * Returns only if the command cannot be started: negative, err filled.
 */
int isol_init_run(int parent_pidfd, int status_fd, int err_fd, int pidns, int (*cmd_fn)(void *),
		  void *cmd_arg, isol_error *err);

struct isol_plan;
struct isol_child;

/* Run `plan` detached (the nohup problem): an intermediate process, forked
 * without glibc, calls setsid() and isol_spawn() with die_with_parent off,
 * hands back the sandbox's pidfd (and the init's status pipe) over a socket
 * and exits, so the sandbox is re-parented away from the caller: it outlives
 * the caller, SIGHUP of the caller's session and the terminal closing.
 * out->pid/pidfd/status_fd as for isol_spawn, but the pid is not a child of
 * the caller: waitid() does not work on it; poll the pidfd (POLLIN at exit)
 * and read the status from status_fd (or plan->status_fd's file).
 * Returns 0 or -errno with err filled (the spawn's own message on failure). */
int isol_spawn_detached(const struct isol_plan *plan, struct isol_child *out, isol_error *err);

#endif
