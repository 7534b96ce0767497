/*
 * Select and kill processes by session, pid namespace, other namespaces or
 * process tree, with one pass over /proc. Parent side only: these functions
 * allocate (never call them between clone and exec; the init has its own
 * async-signal-safe loop over procfs.h).
 */
#ifndef ISOL_PROCSCAN_H
#define ISOL_PROCSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "procfs.h"

/* Read /proc/<pid>/stat. Returns 0, or -ESRCH (err "read /proc/7/stat: No
 * such process") when the process does not exist, or -errno. */
int isol_proc_stat(pid_t pid, struct isol_procstat *st, isol_error *err);

/* Which processes a scan selects: the union of every criterion set.
 * The caller's own process is never selected. The selector and what it
 * points to are only read. */
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

#endif
