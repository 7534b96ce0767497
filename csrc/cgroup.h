/*
 * Control groups, v1 and v2 (and the hybrid layout), for sandboxes.
 *
 * Lifecycle of a `struct isol_cgroup` (minijail style):
 *   isol_cg_create()      -> directories made (under the caller's own cgroup
 *                            per hierarchy, or under spec->parent), v2 fd open
 *   isol_cg_set/get/attach/freeze/kill/stats   any number of times
 *   isol_cg_delete()      -> waits until empty, removes every directory it
 *                            made (also sub-groups made inside by a delegate)
 *   isol_cg_free()        -> releases memory and fds (does not delete)
 *
 * What goes through libcgroup and what does not (measured on Debian 12's
 * libcgroup 2.0.2, kernel 6.x, see bench/cgroup):
 *   - cgroup_init() costs 0.6 ms warm, ~3.5 ms cold (it parses /proc/mounts, /proc/cgroups
 *     and builds its tables); isol calls it lazily, never on `require`.
 *   - libcgroup has one cgroup *name* for all controllers, so it cannot
 *     place a group under the caller's own cgroup when that differs per
 *     hierarchy (here: memory under /process_api/<id>, cpu under /). It has
 *     no cgroup.kill, no v2 freeze, no eBPF device programs, no subtree
 *     delegation walk. cgroup_create_cgroup() (~1.2 ms for 3 controllers
 *     with its default ownership walk) is 5-6x the direct mkdir+write path,
 *     2.3x with ignore_ownership; isol is ~1.25x (bench/cgroup/run).
 *   So the default per-sandbox path (create, set, attach, delete, kill,
 *   freeze, stats, devices) is done directly on cgroupfs. The libcgroup
 *   backend (`cgroup = { backend = "libcgroup" }`, cgroup_libcg.h) creates,
 *   sets every limit, attaches and deletes through libcgroup's API and
 *   opens an isol_cgroup on the same directories (spec->existing) for
 *   what libcgroup lacks (also a v2 group without controllers, which
 *   2.0.2 never makes: cgroup_libcg.h).
 *
 * Files: cgroup.c (layout detection, this API, dispatch), cgroup_v1.c and
 * cgroup_v2.c (the per-version backend table, cgroup_backend.h),
 * cgroup_util.c (their shared helpers), cgroup_libcg.c (libcgroup).
 */
#ifndef ISOL_CGROUP_H
#define ISOL_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Controllers isol knows; bit (1u << c) in masks. */
enum isol_cg_ctrl {
	ISOL_CG_CPU,
	ISOL_CG_CPUACCT, /* v1 only; v2 has cpu.stat always */
	ISOL_CG_CPUSET,
	ISOL_CG_MEMORY,
	ISOL_CG_DEVICES, /* v1 only; v2 uses a BPF program (devices.c) */
	ISOL_CG_FREEZER, /* v1 only; v2 has cgroup.freeze always */
	ISOL_CG_IO,      /* "blkio" on v1 */
	ISOL_CG_PIDS,
	ISOL_CG_HUGETLB,
	ISOL_CG_RDMA,
	ISOL_CG_MISC,
	ISOL_CG_NET_CLS,
	ISOL_CG_NET_PRIO,
	ISOL_CG_PERF_EVENT,
	ISOL_CG_NCTRL
};

/* Name of controller c for a hierarchy version ("blkio" on v1, "io" on v2). */
const char *isol_cg_ctrl_name(int c, int version);
/* Controller for a name (either spelling), or -1. */
int isol_cg_ctrl_lookup(const char *name);

#define ISOL_CG_MAXH 16
#define ISOL_CG_PATH 1024

enum { ISOL_CG_MODE_V1 = 1, ISOL_CG_MODE_V2 = 2, ISOL_CG_MODE_HYBRID = 3 };

struct isol_cg_hier {
	int version;     /* 1 or 2 */
	unsigned ctrls;  /* v1: controllers mounted there; v2: those available
	                    to the caller's cgroup (its cgroup.controllers) */
	char mount[256]; /* mount point, e.g. /sys/fs/cgroup/cpu */
	char self[768];  /* the caller's cgroup in it, "/" or "/a/b" */
};

struct isol_cg_layout {
	int mode;    /* ISOL_CG_MODE_* (0: no cgroup fs mounted) */
	int unified; /* index of the v2 hierarchy in h[], or -1 */
	int n;
	struct isol_cg_hier h[ISOL_CG_MAXH];
};

/* Detect the layout from /proc/self/mountinfo and /proc/self/cgroup.
 * Cached after the first success (call with refresh=1 to re-read).
 * Returns a pointer to static storage; errors only if /proc is unreadable. */
int isol_cg_layout(const struct isol_cg_layout **out, int refresh, isol_error *err);

struct isol_cg_spec {
	int version;        /* 1, 2, or 0 = auto (2 on a pure v2 host, else 1) */
	unsigned ctrls;     /* controllers the group needs */
	const char *parent; /* NULL: the caller's own cgroup; "a/b": relative to
	                       it; "/a/b": from each hierarchy's root */
	const char *name;   /* leaf name (no '/') */
	int existing;       /* nonzero: the directories were made by another
	                       backend (libcgroup): open them, mkdir nothing,
	                       and never rmdir them on failure */
	int owner;          /* nonzero: delegate to uid/gid */
	uid_t uid;
	gid_t gid;
};

#define ISOL_CG_MAXDIRS ISOL_CG_MAXH

struct isol_cgroup {
	int version;
	int ndirs;
	char *dirs[ISOL_CG_MAXDIRS]; /* owned; full paths of the directories made */
	unsigned ctrls[ISOL_CG_MAXDIRS];
	int fd;       /* v2: O_DIRECTORY fd (CLONE_INTO_CGROUP, BPF attach); else -1 */
	int freezer;  /* v1: index of the freezer dir, or -1 */
	int unified;  /* v1 on a hybrid host: index of the dir in the unified
	                 tree when it serves kill, freeze and cpu usage
	                 (cgroup.kill, cgroup.freeze, cpu.stat), or -1 */
	int external; /* made by another backend: undo leaves the dirs */
};

/* Start a handle in the closed state (liolib style): free/delete are no-ops. */
void isol_cg_init(struct isol_cgroup *cg);

/* Create the group. v1: one directory per hierarchy holding a wanted
 * controller, and on a hybrid host one in the unified tree, whose
 * cgroup.kill, cgroup.freeze and cpu.stat serve kill, freeze and stats;
 * where it cannot (not writable, a kernel before 5.14) a freezer and a
 * cpuacct directory are added instead, when mounted; a new cpuset gets its
 * parent's cpus and mems. v2: one directory;
 * the wanted controllers are enabled in cgroup.subtree_control from the
 * caller's cgroup down to the parent (EBUSY, with the reason, when a level
 * on the way has processes: the no-internal-processes rule).
 * Errors: ENOENT (parent missing), EEXIST, ENODEV (controller not mounted
 * or not available), EACCES/EPERM. On failure nothing is left behind. */
int isol_cg_create(struct isol_cgroup *cg, const struct isol_cg_spec *spec, isol_error *err);

/* Directory holding `file` ("cpu.shares" -> the cpu hierarchy's dir), NULL
 * (err ENODEV) when the group has no such controller. */
const char *isol_cg_dir_for(const struct isol_cgroup *cg, const char *file, isol_error *err);

int isol_cg_set(const struct isol_cgroup *cg, const char *file, const char *value, isol_error *err);
/* Read a control file into buf (NUL-terminated, trailing newline kept).
 * Returns the length. */
ssize_t isol_cg_get(const struct isol_cgroup *cg, const char *file, char *buf, size_t len, isol_error *err);

/* Move pid (all its threads) into every directory of the group. */
int isol_cg_attach(const struct isol_cgroup *cg, pid_t pid, isol_error *err);

/* 1 when pid is in the group or one of its sub-groups. */
int isol_cg_holds(const struct isol_cgroup *cg, pid_t pid);

/* Freeze (1) or thaw (0); waits until the kernel reports the new state.
 * EDEADLK (nothing done) when freezing a group that holds the caller. */
int isol_cg_freeze(const struct isol_cgroup *cg, int frozen, isol_error *err);

/* Signal every process. SIGKILL on v2 uses cgroup.kill (5.14+); otherwise
 * freeze, signal each pid of cgroup.procs, thaw, until no new pid appears.
 * Returns the number of processes signalled (v2 cgroup.kill: 0).
 * EDEADLK (nothing signalled) when the group holds the caller. */
int isol_cg_kill(const struct isol_cgroup *cg, int sig, isol_error *err);

/* Number of processes in the group and its sub-groups (cgroup.procs). */
int isol_cg_nprocs(const struct isol_cgroup *cg, isol_error *err);

/* 1 when a process is in the group or a sub-group, else 0: one read of
 * cgroup.events where the group has a cgroup2 directory (v2, the unified
 * tree of a hybrid host; exiting processes count until reaped), else the
 * cgroup.procs walk of isol_cg_nprocs. */
int isol_cg_populated(const struct isol_cgroup *cg);

/* rmdir every directory made, depth first (sub-groups created inside by a
 * delegate included), retrying EBUSY (processes still leaving) for up to
 * timeout_ms a directory. Tries every directory even after an error;
 * returns the first. */
int isol_cg_delete(struct isol_cgroup *cg, int timeout_ms, isol_error *err);

/* The common case of a close, without a read: when the directory that
 * isol_cg_populated reads (every process of the group is in it) can be
 * removed, the group held no process and no sub-group there, and the
 * whole group is deleted (isol_cg_delete: 1, or its error). Otherwise
 * (EBUSY: processes or sub-groups remain) nothing is removed: 0, and the
 * caller goes the long way (populated, kill, delete). */
int isol_cg_delete_if_empty(struct isol_cgroup *cg, int timeout_ms, isol_error *err);

/* Close fds and free paths (no deletion). */
void isol_cg_free(struct isol_cgroup *cg);

/* Statistics; -1 where the group has no source for a value. */
struct isol_cg_stats {
	int64_t cpu_usage_us, cpu_user_us, cpu_system_us;
	int64_t cpu_nr_periods, cpu_nr_throttled, cpu_throttled_us;
	int64_t mem_current, mem_peak, mem_max, mem_oom_kills, mem_oom_events, mem_failcnt;
	int64_t pids_current, pids_peak, pids_max;
	int64_t io_read_bytes, io_write_bytes;
};
int isol_cg_stats(const struct isol_cgroup *cg, struct isol_cg_stats *st, isol_error *err);

/* Number of OOM kills recorded for the group (v1 memory.oom_control
 * oom_kill, v2 memory.events oom_kill), -1 without memory controller. */
int64_t isol_cg_oom_kills(const struct isol_cgroup *cg);

/* Recursively rmdir a cgroup directory (children first). Used by delete and gc. */
int isol_cg_rmdir_tree(const char *dir, int timeout_ms, isol_error *err);

/* For groups this process holds no handle on (leftovers of crashed runs,
 * detached sandboxes): kill every process in dir and its sub-groups
 * (kill_procs nonzero), then remove it, children first. dir must be on a
 * cgroup filesystem (EINVAL otherwise: a planted cgroup.procs elsewhere
 * must not name pids to kill); EDEADLK when it holds the caller; a dir
 * that is already gone is success. */
int isol_cg_remove_dir(const char *dir, int kill_procs, int timeout_ms, isol_error *err);

/* Call fn(dir, ud) for every directory whose name starts with prefix,
 * under every mounted hierarchy, at most maxdepth levels down (a match is
 * not descended into). fn returns nonzero to stop. */
int isol_cg_find(const char *prefix, int maxdepth, int (*fn)(const char *dir, void *ud), void *ud,
		 isol_error *err);

#endif
