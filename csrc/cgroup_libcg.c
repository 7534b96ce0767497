/* libcgroup backend: init, ECG* -> errno, named groups through libcgroup's
 * API (create with values, attach, delete). See cgroup_libcg.h. */
#define _GNU_SOURCE
#include "cgroup_libcg.h"

#include <errno.h>
#include <libcgroup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "fileio.h"

static int g_lcg_state; /* 0 not tried, 1 ok, <0 -errno */

int isol_cg_ecg_errno(int ecg)
{
	switch (ecg) {
	case 0:
		return 0;
	case ECGOTHER:
		return cgroup_get_last_errno() ? cgroup_get_last_errno() : EIO;
	case ECGROUPNOTEXIST:
		return ENOENT;
	case ECGROUPNOTMOUNTED:
	case ECGROUPSUBSYSNOTMOUNTED:
	case ECGROUPNOTALLOWED:
		return ENODEV;
	case ECGROUPNOTOWNER:
		return EPERM;
	case ECGROUPVALUENOTEXIST:
	case ECGINVAL:
	case ECGROUPNOTCREATED:
		return EINVAL;
	case ECGROUPNOTINITIALIZED:
		return EAGAIN;
	case ECGEOF:
		return ENODATA;
	case ECGCONTROLLEREXISTS:
	case ECGVALUEEXISTS:
		return EEXIST;
	case ECGMAXVALUESEXCEEDED:
		return E2BIG;
	case ECGNONEMPTY:
		return EBUSY;
	case ECGROUPNORULES:
	case ECGCONFIGPARSEFAIL:
		return EINVAL;
	default:
		return EIO;
	}
}

/* libcgroup's init costs milliseconds (it parses mounts and its config):
 * done once, on first use, never at `require "isol"`. */
int isol_cg_libcgroup_init(isol_error *err)
{
	if (g_lcg_state == 0) {
		int r = cgroup_init();
		g_lcg_state = r ? -isol_cg_ecg_errno(r) : 1;
		if (r)
			return isol_fail(err, isol_cg_ecg_errno(r), "libcgroup cgroup_init (%s)",
					 cgroup_strerror(r));
	}
	if (g_lcg_state < 0)
		return isol_fail(err, -g_lcg_state, "libcgroup cgroup_init");
	return 0;
}

static int lcg_fail(isol_error *err, int ecg, const char *what, const char *name)
{
	int e = isol_cg_ecg_errno(ecg);
	return isol_failx(err, e, "libcgroup %s %s: %s", what, name,
			  ecg == ECGOTHER ? strerror(e) : cgroup_strerror(ecg));
}

/* Full libcgroup name (caller's cgroup + name) into out for the controllers
 * in mask; the caller's cgroup must be the same in their hierarchies. */
static int check_name(const struct isol_lcg_spec *spec, isol_error *err)
{
	if (!spec->name || !*spec->name || strstr(spec->name, "..") || spec->name[0] == '/')
		return isol_failx(err, EINVAL,
				  "libcgroup group name \"%s\": expected a relative path "
				  "without \"..\"",
				  spec->name ? spec->name : "");
	return 0;
}

static int full_name(const struct isol_lcg_spec *spec, unsigned mask, char *out, size_t len, isol_error *err)
{
	const struct isol_cg_layout *lay;
	const char *self = NULL;
	int r;

	if ((r = check_name(spec, err)) < 0)
		return r;
	if (!spec->ctrls)
		return isol_failx(err, EINVAL, "libcgroup group %s: no controller given", spec->name);
	if ((r = isol_cg_layout(&lay, 0, err)) < 0)
		return r;
	for (int c = 0; c < ISOL_CG_NCTRL; c++) {
		int found = 0;
		if (!(spec->ctrls & mask & (1u << c)))
			continue;
		for (int h = 0; h < lay->n; h++) {
			const struct isol_cg_hier *hh = &lay->h[h];
			if (!(hh->ctrls & (1u << c)) || (hh->version == 2 && lay->mode != ISOL_CG_MODE_V2))
				continue;
			found = 1;
			if (self && strcmp(self, hh->self))
				return isol_failx(err, EINVAL,
						  "libcgroup: the caller's cgroup differs between the "
						  "hierarchies asked for (%s vs %s)",
						  self, hh->self);
			self = hh->self;
		}
		if (!found)
			return isol_failx(err, ENODEV, "libcgroup: controller \"%s\" is not available",
					  isol_cg_ctrl_name(c, lay->mode == ISOL_CG_MODE_V2 ? 2 : 1));
	}
	if ((size_t)snprintf(out, len, "%s/%s", self && strcmp(self, "/") ? self : "", spec->name) >= len)
		return isol_failx(err, ENAMETOOLONG, "libcgroup group name too long");
	return 0;
}

/* libcgroup has one name per struct cgroup, and the caller's cgroup can
 * differ per v1 hierarchy (memory under /process_api/<id>, cpu under /):
 * the controllers are split into groups sharing the caller's path, one
 * struct cgroup each. Returns the number of masks. */
static int split_by_self(const struct isol_lcg_spec *spec, unsigned masks[ISOL_CG_NCTRL], isol_error *err)
{
	char names[ISOL_CG_NCTRL][ISOL_CG_PATH];
	int n = 0, r;

	for (int c = 0; c < ISOL_CG_NCTRL; c++) {
		char full[ISOL_CG_PATH];
		int k;
		if (!(spec->ctrls & (1u << c)))
			continue;
		if ((r = full_name(spec, 1u << c, full, sizeof full, err)) < 0)
			return r;
		for (k = 0; k < n && strcmp(names[k], full); k++)
			;
		if (k == n) {
			snprintf(names[n], sizeof names[n], "%s", full);
			masks[n++] = 0;
		}
		masks[k] |= 1u << c;
	}
	return n;
}

static const char *lcg_ctrl_name(int c)
{
	const struct isol_cg_layout *lay;
	int v = isol_cg_layout(&lay, 0, NULL) == 0 && lay->mode == ISOL_CG_MODE_V2 ? 2 : 1;
	return isol_cg_ctrl_name(c, v);
}

/* Build a struct cgroup for the controllers of spec in mask (one caller
 * path: split_by_self), with their values when with_values. */
static int build(const struct isol_lcg_spec *spec, unsigned mask, int with_values, struct cgroup **out,
		 isol_error *err)
{
	char full[ISOL_CG_PATH];
	struct cgroup *g;
	int r;

	*out = NULL;
	if ((r = full_name(spec, mask, full, sizeof full, err)) < 0)
		return r;
	if (with_values)
		for (size_t i = 0; i < spec->nvalues; i++) {
			const char *f = spec->values[i].file;
			char ctrl[32];
			size_t l = strcspn(f, ".");
			int c = -1;
			if (l < sizeof ctrl && f[l] == '.') {
				memcpy(ctrl, f, l);
				ctrl[l] = '\0';
				c = isol_cg_ctrl_lookup(ctrl);
			}
			if (c < 0 || !(spec->ctrls & (1u << c)))
				return isol_failx(
					err, EINVAL,
					"libcgroup group %s: \"%s\" belongs to no controller of the group",
					spec->name, f);
		}
	if (!(g = cgroup_new_cgroup(full)))
		return isol_failx(err, ENOMEM, "cgroup_new_cgroup %s", full);
	for (int c = 0; c < ISOL_CG_NCTRL; c++) {
		const char *cn = lcg_ctrl_name(c);
		struct cgroup_controller *cc;
		if (!(spec->ctrls & mask & (1u << c)))
			continue;
		if (!(cc = cgroup_add_controller(g, cn))) {
			cgroup_free(&g);
			return isol_failx(err, EINVAL, "libcgroup cgroup_add_controller %s %s", full, cn);
		}
		for (size_t i = 0; with_values && i < spec->nvalues; i++) {
			const char *f = spec->values[i].file;
			size_t l = strcspn(f, ".");
			char pre[32];
			snprintf(pre, sizeof pre, "%.*s", (int)(l < 31 ? l : 31), f);
			if (isol_cg_ctrl_lookup(pre) != c)
				continue;
			r = cgroup_add_value_string(cc, f, spec->values[i].value);
			if (r) {
				cgroup_free(&g);
				return lcg_fail(err, r, "cgroup_add_value_string", f);
			}
		}
	}
	*out = g;
	return 0;
}

/* libcgroup 2.0.2 creates, joins and deletes a group through its
 * controllers only: cgroup_create_cgroup, cgroup_attach_task_pid and
 * cgroup_delete_cgroup_ext loop over them, so for a group with none they
 * return success and do nothing (no directory is made). On pure v2 such a
 * group is a real one: cgroup.kill, cgroup.freeze, cpu.stat and the BPF
 * device program need no controller, and a sandbox without limits (or
 * with device rules only) gets exactly that. libcgroup 3.0 added it ("api.c:
 * Allow creation of a v2 cgroup with no controllers"); with 2.0.2, isol
 * makes, joins and removes that one directory in the unified tree itself.
 * Returns 1 with the directory in dir for such a group, 0 for a group
 * libcgroup handles, or -errno: a group without controllers anywhere else
 * (v1 has no directory without a controller) is EINVAL. */
static int plain_v2_dir(const struct isol_lcg_spec *spec, char *dir, size_t len, isol_error *err)
{
	const struct isol_cg_layout *lay;
	int r;

	if (spec->ctrls)
		return 0;
	if ((r = check_name(spec, err)) < 0 || (r = isol_cg_layout(&lay, 0, err)) < 0)
		return r;
	if (lay->mode != ISOL_CG_MODE_V2)
		return isol_failx(err, EINVAL,
				  "libcgroup group %s: no controller given (a group without controllers "
				  "exists on a pure cgroup v2 host only)",
				  spec->name);
	const struct isol_cg_hier *h = &lay->h[lay->unified];
	if ((size_t)snprintf(dir, len, "%s%s/%s", h->mount, strcmp(h->self, "/") ? h->self : "",
			     spec->name) >= len)
		return isol_failx(err, ENAMETOOLONG, "libcgroup group name too long");
	return 1;
}

/* Whether the group's directory exists in controller c's hierarchy
 * (libcgroup's delete of a missing group reports success). */
static int exists_in(const struct isol_lcg_spec *spec, int c)
{
	const struct isol_cg_layout *lay;
	char full[ISOL_CG_PATH], dir[ISOL_CG_PATH + 256];
	struct stat st;

	if (full_name(spec, 1u << c, full, sizeof full, NULL) < 0 || isol_cg_layout(&lay, 0, NULL) < 0)
		return 1; /* let libcgroup report it */
	for (int h = 0; h < lay->n; h++) {
		const struct isol_cg_hier *hh = &lay->h[h];
		if (!(hh->ctrls & (1u << c)) || (hh->version == 2 && lay->mode != ISOL_CG_MODE_V2))
			continue;
		snprintf(dir, sizeof dir, "%s%s", hh->mount, full);
		return stat(dir, &st) == 0;
	}
	return 1;
}

/* libcgroup does not say which value it could not write: name them all. */
static int create_fail(isol_error *err, int ecg, const struct isol_lcg_spec *spec, unsigned mask)
{
	char vals[300] = "";
	size_t off = 0;
	int e = isol_cg_ecg_errno(ecg);

	for (size_t i = 0; i < spec->nvalues && off < sizeof vals - 1; i++) {
		char pre[32];
		size_t l = strcspn(spec->values[i].file, ".");
		snprintf(pre, sizeof pre, "%.*s", (int)(l < 31 ? l : 31), spec->values[i].file);
		int c = isol_cg_ctrl_lookup(pre);
		if (c < 0 || !(mask & (1u << c)))
			continue;
		int n = snprintf(vals + off, sizeof vals - off, "%s%s=\"%s\"", off ? ", " : "",
				 spec->values[i].file, spec->values[i].value);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return isol_failx(err, e, "libcgroup cgroup_create_cgroup %s%s%s%s: %s", spec->name,
			  vals[0] ? " (writing " : "", vals, vals[0] ? ")" : "",
			  ecg == ECGOTHER ? strerror(e) : cgroup_strerror(ecg));
}

int isol_lcg_create(const struct isol_lcg_spec *spec, isol_error *err)
{
	unsigned masks[ISOL_CG_NCTRL];
	struct cgroup *g;
	char dir[ISOL_CG_PATH];
	int n, r;

	if ((r = isol_cg_libcgroup_init(err)) < 0 || (r = plain_v2_dir(spec, dir, sizeof dir, err)) < 0)
		return r;
	if (r == 1) {
		if (spec->nvalues)
			return isol_failx(err, EINVAL,
					  "libcgroup group %s: \"%s\" belongs to no controller of the group",
					  spec->name, spec->values[0].file);
		return mkdir(dir, 0755) < 0 ? isol_fail(err, errno, "mkdir %s", dir) : 0;
	}
	if ((n = split_by_self(spec, masks, err)) < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if ((r = build(spec, masks[i], 1, &g, err)) == 0) {
			int ecg = cgroup_create_cgroup(g, spec->ignore_ownership);
			cgroup_free(&g);
			if (ecg)
				r = create_fail(err, ecg, spec, masks[i]);
		}
		/* libcgroup skips a controller it cannot build a path for and
		 * still reports success: a success is checked on disk. */
		for (int c = 0; r == 0 && c < ISOL_CG_NCTRL; c++)
			if ((masks[i] & (1u << c)) && !exists_in(spec, c))
				r = isol_failx(err, EIO,
					       "libcgroup cgroup_create_cgroup %s: reported success, but "
					       "made no directory for controller \"%s\"",
					       spec->name, lcg_ctrl_name(c));
		if (r < 0) {
			/* Nothing behind: what was made (values refused too) goes. */
			isol_error ignored;
			isol_lcg_delete(spec, &ignored);
			return r;
		}
	}
	return 0;
}

int isol_lcg_attach(const struct isol_lcg_spec *spec, pid_t pid, isol_error *err)
{
	unsigned masks[ISOL_CG_NCTRL];
	struct cgroup *g;
	char dir[ISOL_CG_PATH], buf[24];
	int n, r;

	if (pid <= 0)
		return isol_failx(err, EINVAL, "libcgroup attach: pid %d out of range", (int)pid);
	if ((r = isol_cg_libcgroup_init(err)) < 0 || (r = plain_v2_dir(spec, dir, sizeof dir, err)) < 0)
		return r;
	if (r == 1) {
		snprintf(buf, sizeof buf, "%d", (int)pid);
		return isol_write_at(dir, "cgroup.procs", buf, err);
	}
	if ((n = split_by_self(spec, masks, err)) < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if ((r = build(spec, masks[i], 0, &g, err)) < 0)
			return r;
		int ecg = cgroup_attach_task_pid(g, pid);
		cgroup_free(&g);
		if (ecg)
			return lcg_fail(err, ecg, "cgroup_attach_task_pid", spec->name);
	}
	return 0;
}

int isol_lcg_delete(const struct isol_lcg_spec *spec, isol_error *err)
{
	char dir[ISOL_CG_PATH];
	int r, first = 0, gone = 0, n = 0;

	if ((r = isol_cg_libcgroup_init(err)) < 0 || (r = plain_v2_dir(spec, dir, sizeof dir, err)) < 0)
		return r;
	if (r == 1) {
		/* recursive, as below; the callers empty it first (a process
		 * still leaving is waited for a moment) */
		if (access(dir, F_OK) < 0)
			return isol_failx(err, ENOENT, "libcgroup delete %s: no such group", spec->name);
		return isol_cg_rmdir_tree(dir, 1000, err);
	}
	/* Recursive (sub-groups made inside by a delegate go too), which
	 * migrates remaining tasks to the parent: the callers empty the group
	 * first (isol_lcg_close refuses a populated one).
	 * libcgroup 2.0.2 workaround: one cgroup_delete_cgroup_ext per
	 * controller. Deleting several at once stops at the first failing
	 * hierarchy, and co-mounted controllers (cpu,cpuacct) make the second
	 * rmdir of the same directory fail: ENOENT there means done. */
	for (int c = 0; c < ISOL_CG_NCTRL; c++) {
		struct cgroup *g;
		isol_error e;
		if (!(spec->ctrls & (1u << c)))
			continue;
		n++;
		if (!exists_in(spec, c)) {
			gone++;
			continue;
		}
		if ((r = build(spec, 1u << c, 0, &g, &e)) == 0) {
			int ecg = cgroup_delete_cgroup_ext(g, CGFLAG_DELETE_RECURSIVE);
			cgroup_free(&g);
			r = ecg ? lcg_fail(&e, ecg, "cgroup_delete_cgroup_ext", spec->name) : 0;
		}
		if (r == -ENOENT) {
			gone++;
			continue;
		}
		if (r < 0 && !first) {
			first = r;
			if (err)
				*err = e;
		}
	}
	if (!first && gone == n)
		return isol_failx(err, ENOENT, "libcgroup delete %s: no such group", spec->name);
	return first;
}

int isol_lcg_mount(const char *ctrl, char **out, isol_error *err)
{
	int r;

	*out = NULL;
	if ((r = isol_cg_libcgroup_init(err)) < 0)
		return r;
	r = cgroup_get_subsys_mount_point(ctrl, out);
	return r ? lcg_fail(err, r, "mount point of", ctrl) : 0;
}

int isol_lcg_open(struct isol_cgroup *cg, const struct isol_lcg_spec *lspec, struct isol_cg_spec *spec,
		  isol_error *err)
{
	int r;

	isol_cg_init(cg);
	if ((r = isol_lcg_create(lspec, err)) < 0)
		return r;
	spec->existing = 1;
	if ((r = isol_cg_create(cg, spec, err)) < 0) {
		isol_error ignored;
		isol_lcg_delete(lspec, &ignored);
		return r;
	}
	return 0;
}

int isol_lcg_close(struct isol_cgroup *cg, const struct isol_lcg_spec *lspec, int timeout_ms, isol_error *err)
{
	struct timespec t0, t;
	int r;

	if (cg->ndirs == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long us = 50; isol_cg_nprocs(cg, NULL) > 0; us = us < 20000 ? us * 2 : us) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
			break; /* libcgroup's delete reports the busy group */
		struct timespec ts = { 0, us * 1000 };
		nanosleep(&ts, NULL);
	}
	if ((r = isol_cg_nprocs(cg, err)) != 0)
		return r < 0 ? r
			     : isol_failx(err, EBUSY,
					  "delete %s: %d processes still in the group after %d ms",
					  cg->dirs[0], r, timeout_ms);
	if ((r = isol_lcg_delete(lspec, err)) < 0)
		return r;
	isol_cg_free(cg);
	return 0;
}
