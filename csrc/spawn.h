/*
 * The spawn pipeline: one call executes a whole validated plan.
 *
 *   parent                               child (clone3, CLONE_VM on a stack of
 *                                        its own | CLONE_PIDFD | ns flags)
 *   ------                               -----
 *   pipes, pidfd of self, v1 cgroups'
 *   `tasks` files opened
 *   clone3 (into the cgroup2 group) ──▶  join the v1 groups, signal
 *   write uid/gid maps                   dispositions reset, setsid,
 *                                        die-with-parent, loopback up (raw
 *                                        syscalls, meanwhile), then wait for
 *                                        "go" on the sync pipe
 *   "go" ─────────────────────────────▶  time offsets, identity,
 *                                        hostname, network, filesystem (mount.c),
 *                                        cwd, stdio, fds, keyring, rlimits,
 *                                        landlock, capabilities, no_new_privs,
 *                                        seccomp, signals unblocked
 *                                        [init: execveat of isol-init from a
 *                                         sealed memfd (init.h); it forks and
 *                                         execs the command]
 *   read error pipe  ◀── isol_error ───  any failure: write {errno, context}, _exit
 *   EOF = exec succeeded                 execve (error pipe is CLOEXEC)
 *
 * The child shares the host's memory (vmclone.h) the way posix_spawn's
 * does, so its cost does not grow with the host's size; from "go" until the
 * exec (or the child's exit) the spawning thread waits on the error pipe
 * with every signal blocked. `isol exec` into a user namespace (setns is
 * refused to shared memory) takes a copy-on-write clone instead.
 * The parent blocks every signal around clone3 (no host handler runs in the
 * child). Between clone and exec the child runs no Lua, allocates nothing,
 * takes no locks and calls no strerror (the parent appends it: error.h): it
 * is safe to spawn from a host process that has other threads.
 */
#ifndef ISOL_SPAWN_H
#define ISOL_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "net.h"
#include "ns.h"

struct isol_fs_plan;  /* mount.h: mounts and the new root, built by the binding */
struct isol_caps;     /* caps.h */
struct isol_keyring;  /* keyring.h */
struct isol_identity; /* identity.h */
struct isol_net_plan; /* net.h: loopback, veth, user-mode helper */
struct isol_rlimits;  /* rlimits.h */
struct isol_landlock; /* landlock.h */
struct isol_seccomp;  /* seccomp.h: a compiled filter */

struct isol_plan {
	/* What to run. `file` with no '/' is searched in PATH (from envp, else
	 * the caller's environment) inside the child, after the root change. */
	const char *file;
	char *const *argv;
	char *const *envp; /* NULL: inherit the caller's environ */
	const char *cwd;   /* NULL: "/" with a new root, else unchanged */

	/* stdio[i] >= 0 becomes fd i in the child; -1 inherits the caller's. */
	int stdio[3];
	/* Further fds passed through with their numbers (all others are closed). */
	const int *keep_fds;
	size_t nkeep;

	int ns_flags; /* CLONE_NEW* */
	/* nonzero: out->ns_ino gets the new namespaces' inodes, read before
	 * the child is released (a stat of /proc/<pid>/ns/<kind> each) */
	int ns_inodes;
	const struct isol_idmap *uid_map, *gid_map;
	size_t nuid, ngid;
	int setgroups_deny;
	/* nonzero: the maps go through newuidmap/newgidmap (subordinate ids;
	 * setgroups_deny is then ignored: newgidmap sets the policy) */
	int idmap_helper;

	const char *hostname, *domainname; /* NULL: unchanged (needs CLONE_NEWUTS) */

	int time_offsets; /* nonzero: write the two offsets (needs CLONE_NEWTIME) */
	int64_t time_monotonic, time_boottime;

	unsigned new_session : 1;     /* setsid(): no controlling tty (TIOCSTI) */
	unsigned die_with_parent : 1; /* sandbox dies when the calling process does */
	unsigned no_new_privs : 1;    /* PR_SET_NO_NEW_PRIVS */
	unsigned init : 1;            /* with CLONE_NEWPID: isol's init is PID 1 */

	/* > 0: isol's init kills the whole sandbox after this many ms of wall
	 * clock and the status says timeout (isol_wait.timeout). Needs init. */
	int timeout_ms;

	unsigned ctty : 1; /* fd 0 (a terminal, e.g. a pty slave) becomes the
	                                 command's controlling terminal: the process
	                                 that execs the command leads a new session
	                                 (setsid) and takes it (TIOCSCTTY); under an
	                                 init, the command does, not the init */

	unsigned supervise : 1; /* isol's init supervises even without a pid
	                                 namespace (a child subreaper: escapees stay
	                                 in its tree and die with the sandbox) */

	/* Enter the namespaces `join_flags` of the process behind join_pidfd
	 * (setns, first thing in the child) before anything else: `isol exec`.
	 * A pid namespace among them needs the init (it forks the command). */
	int join_pidfd; /* -1: none */
	int join_flags;

	/* >= 0: the init writes the command's wait status (int) to this fd
	 * (e.g. a file of a detached sandbox's state directory) instead of a
	 * pipe back to the caller; out->status_fd is then -1. Not closed. */
	int status_fd;

	const struct isol_fs_plan *fs;        /* NULL: no filesystem steps */
	const struct isol_identity *identity; /* NULL: keep the ids the child has */
	const struct isol_keyring *keyring;   /* NULL: none (keep the caller's session keyring) */
	const struct isol_caps *caps;         /* NULL: none (capabilities unchanged) */
	const struct isol_net_plan *net;      /* NULL: no network steps (needs CLONE_NEWNET) */

	const struct isol_rlimits *rlimits;   /* NULL: none */
	const struct isol_landlock *landlock; /* NULL: none */
	const struct isol_seccomp *seccomp;   /* NULL: none */

	int cgroup_fd; /* >= 0: start the child in that cgroup v2 (CLONE_INTO_CGROUP) */

	/* Cgroup directories the child starts in (at most ISOL_SPAWN_MAX_CGROUPS;
	 * each checked to be one): a cgroup2 one (the unified tree of a hybrid
	 * host, when cgroup_fd is -1) by clone3 (CLONE_INTO_CGROUP), each v1
	 * one by the child itself, first thing: it writes "0" to the group's
	 * `tasks` file (opened here, before clone3). That moves only the
	 * calling thread (the child has one), which the kernel does without its
	 * global threadgroup lock: writing the child's pid to cgroup.procs takes
	 * that lock's write side, which waits a whole RCU grace period when it
	 * was idle (5-25 ms, on one sweep run in ten to twenty here: bench/sweep).
	 * With a cgroup namespace and v1 groups, the child unshares the
	 * namespace after joining them (its root is the sandbox's groups). */
	const char *const *cgroup_dirs;
	int ncgroup_dirs;
};

#define ISOL_SPAWN_MAX_CGROUPS 16

/* Fill defaults: stdio inherit, cgroup_fd/join_pidfd/status_fd -1, setsid,
 * die-with-parent, no_new_privs and init on. */
void isol_plan_init(struct isol_plan *plan);

struct isol_child {
	pid_t pid;                 /* in the caller's pid namespace */
	int pidfd;                 /* owned by the caller; CLOEXEC */
	int status_fd;             /* >= 0 when an init supervises: it writes the command's
	                   wait status (int) here before exiting; owned by caller */
	struct isol_net_state net; /* a user-mode network helper, owned by the
	                              caller: isol_net_helper_stop() */
	/* With plan->ns_inodes: the inode of each namespace of plan->ns_flags,
	 * in isol_ns_kinds order (0: not new, unreadable or not asked for),
	 * read before the child was released: known even when the command has
	 * exited by the time the spawn returns (its /proc/<pid>/ns/ is then
	 * gone). Left as the caller set it otherwise. */
	uint64_t ns_ino[ISOL_NS_KINDS];
};

/* Run the plan. On success fills `out` (the caller owns its fds) and returns 0.
 * On failure nothing is left behind (the child, if any, is killed and reaped;
 * every fd is closed) and err names the failing step, e.g.
 * "sethostname box: Operation not permitted". */
int isol_spawn(const struct isol_plan *plan, struct isol_child *out, isol_error *err);

#endif
