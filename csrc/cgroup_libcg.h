/*
 * libcgroup as a backend: lazy init, ECG* -> errno, and groups named the
 * libcgroup way (one name, relative to the caller's own cgroup, for all the
 * given controllers) created, set, attached and deleted through its API.
 *
 * libcgroup (2.0.2) has one name per struct cgroup for all its
 * controllers, while the caller's own cgroup can differ per v1 hierarchy
 * (memory under /process_api/<id>, cpu under /): isol makes one struct
 * cgroup per distinct caller path, so the group always sits under the
 * caller's own cgroup in every hierarchy, as with the direct backend.
 *
 * A group without controllers (pure v2 only: kill, freeze, stats and
 * device rules need none) is one directory in the unified tree that isol
 * makes, joins and removes itself: libcgroup 2.0.2's create, attach and
 * delete loop over the controllers and, given none, report success having
 * done nothing (libcgroup 3.0 handles such groups).
 *
 * Measured (bench/cgroup, v1, 5 dirs, create+limits+attach+delete):
 * direct backend 1.17x the C floor, libcgroup backend ~3.8x, raw
 * libcgroup with its ownership walk ~4.2x, with ignore_ownership ~2x.
 */
#ifndef ISOL_CGROUP_LIBCG_H
#define ISOL_CGROUP_LIBCG_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* cgroup_init() once per process (it costs milliseconds: mounts, config).
 * Later calls return the first outcome. */
int isol_cg_libcgroup_init(isol_error *err);

/* errno for a libcgroup ECG* code; ECGOTHER -> cgroup_get_last_errno(). */
int isol_cg_ecg_errno(int ecg);

struct isol_lcg_value {
	const char *file;  /* "cpu.shares": controller prefix selects the controller */
	const char *value; /* written as given */
};

struct isol_lcg_spec {
	const char *name;                    /* relative to the caller's cgroup; no "..", no NUL */
	unsigned ctrls;                      /* ISOL_CG_* bits (cgroup.h), at least one */
	const struct isol_lcg_value *values; /* borrowed for the call */
	size_t nvalues;
	int ignore_ownership; /* cgroup_create_cgroup's second argument */
};

/* cgroup_new_cgroup + cgroup_add_controller + cgroup_add_value_string +
 * cgroup_create_cgroup, then a check that every controller's directory is
 * there (libcgroup skips one it cannot build a path for and reports
 * success: EIO then, nothing left). A value whose controller is not in
 * ctrls is EINVAL. No controller: the plain v2 group above (mkdir: ENOENT
 * for a missing parent, EEXIST), EINVAL on a host that is not pure v2. */
int isol_lcg_create(const struct isol_lcg_spec *spec, isol_error *err);

/* cgroup_attach_task_pid: pid into the group in every controller (a plain
 * v2 group: its cgroup.procs). */
int isol_lcg_attach(const struct isol_lcg_spec *spec, pid_t pid, isol_error *err);

/* cgroup_delete_cgroup_ext, one controller at a time: libcgroup 2.0.2's
 * delete of a multi-controller group stops at the first hierarchy whose
 * rmdir fails and, on hybrid hosts, can leave the others behind; deleting
 * per controller tries every hierarchy and returns the first error.
 * ENOENT for a group that exists in none. A plain v2 group: its
 * directory, sub-groups first (EBUSY after a second of processes still
 * leaving). */
int isol_lcg_delete(const struct isol_lcg_spec *spec, isol_error *err);

/* The libcgroup backend of a sandbox group: create it through libcgroup
 * (every value in lspec set by libcgroup), then open an isol handle on the
 * same directories (spec->existing is set here) for what libcgroup 2.0.2
 * cannot do: placing the child at spawn (CLONE_INTO_CGROUP, or v1 `tasks`),
 * freeze, kill, stats. On failure nothing is left. */
struct isol_cgroup;
struct isol_cg_spec;
int isol_lcg_open(struct isol_cgroup *cg, const struct isol_lcg_spec *lspec, struct isol_cg_spec *spec,
		  isol_error *err);

/* Wait (up to timeout_ms) until the group is empty, delete it through
 * libcgroup (isol_lcg_delete), then release the handle. On failure the
 * handle stays open. */
int isol_lcg_close(struct isol_cgroup *cg, const struct isol_lcg_spec *lspec, int timeout_ms,
		   isol_error *err);

/* Mount point libcgroup sees for a controller (malloc'd into *out). */
int isol_lcg_mount(const char *ctrl, char **out, isol_error *err);

#endif
