/* cgroup v2 backend: one directory in the unified tree, controllers
 * enabled from the caller's own cgroup down, cgroup.freeze, cgroup.kill,
 * stats from cpu.stat/memory.events/io.stat. */
#define _GNU_SOURCE
#include "cgroup_backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

/* v2: make `ctrls` available to children of `target`, writing "+c" into
 * cgroup.subtree_control of every level from the caller's own cgroup down
 * to target (levels that already have them are only read). Nothing above
 * the caller's cgroup is ever written (B17): what is not enabled there is
 * not the caller's to enable, and the kernel's refusal is reported. A
 * target outside the caller's subtree (an absolute cgroup.parent) is the
 * only level written. */
static int v2_enable(const struct isol_cg_hier *h, const char *target, unsigned ctrls, isol_error *err)
{
	char dir[ISOL_CG_PATH], path[ISOL_CG_PATH + 32], buf[512], own[ISOL_CG_PATH];
	size_t ol, start;

	if (!ctrls)
		return 0;
	if ((size_t)snprintf(dir, sizeof dir, "%s", target) >= sizeof dir ||
	    (size_t)snprintf(own, sizeof own, "%s%s", h->mount, strcmp(h->self, "/") ? h->self : "") >=
		    sizeof own)
		return isol_failx(err, ENAMETOOLONG, "cgroup path too long");
	ol = strlen(own);
	start = strncmp(dir, own, ol) == 0 && (dir[ol] == '/' || dir[ol] == '\0') ? ol : strlen(dir);
	/* Walk levels: own, own/a, own/a/b ... target. */
	for (size_t i = start;;) {
		char save = dir[i];
		dir[i] = '\0';
		snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
		ssize_t n = isol_read_file(path, buf, sizeof buf, NULL);
		if (n < 0) {
			dir[i] = save;
			return isol_fail(err, (int)-n, "read %s", path);
		}
		unsigned have = isol_cgu_parse_ctrls(buf, " \n", "blkio"), miss = ctrls & ~have;
		for (int c = 0; c < ISOL_CG_NCTRL; c++) {
			if (!(miss & (1u << c)))
				continue;
			char w[32];
			snprintf(w, sizeof w, "+%s", isol_cg_ctrl_name(c, 2));
			int fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, w, strlen(w)) < 0) {
				int e = errno;
				if (fd >= 0)
					close(fd);
				dir[i] = save;
				if (e == EBUSY)
					return isol_failx(
						err, e,
						"enable %s in %s: %s (cgroup v2 no-internal-processes rule: "
						"that cgroup has processes of its own; run from a cgroup "
						"whose "
						"processes live in a leaf, or set cgroup.parent)",
						w, path, strerror(e));
				return isol_fail(err, e, "enable %s in %s", w, path);
			}
			close(fd);
		}
		dir[i] = save;
		if (save == '\0')
			break;
		char *next = strchr(dir + i + 1, '/');
		i = next ? (size_t)(next - dir) : strlen(dir);
	}
	return 0;
}

/* The no-internal-processes rule, checked before anything is written: a
 * non-root parent that holds processes can neither enable controllers for
 * its children (EBUSY) nor, once it has some enabled, host a child that a
 * process can join (it becomes a thread root: EOPNOTSUPP at clone). */
static int v2_check_parent(const struct isol_cg_hier *h, const char *parent, unsigned want, isol_error *err)
{
	char path[ISOL_CG_PATH + 32], buf[512];

	if (strcmp(parent, h->mount) == 0)
		return 0; /* the root cgroup is exempt */
	snprintf(path, sizeof path, "%s/cgroup.procs", parent);
	if (isol_read_file(path, buf, sizeof buf, NULL) <= 0 || !buf[0])
		return 0;
	snprintf(path, sizeof path, "%s/cgroup.subtree_control", parent);
	if (!want && (isol_read_file(path, buf, sizeof buf, NULL) <= 0 || buf[0] == '\n' || !buf[0]))
		return 0; /* no controllers anywhere: a plain child is fine */
	return isol_failx(err, EBUSY,
			  "cgroup v2: %s has processes of its own, so it cannot have child groups with "
			  "controllers (no-internal-processes rule); run isol from a leaf of a delegated "
			  "subtree, or set cgroup.parent to an empty group (e.g. \"/isol.slice\")",
			  parent);
}

static int v2_create(struct isol_cgroup *cg, const struct isol_cg_layout *lay,
		     const struct isol_cg_spec *spec, isol_error *err)
{
	char parent[ISOL_CG_PATH], dir[ISOL_CG_PATH];
	int r;

	if (lay->unified < 0)
		return isol_failx(err, ENODEV, "cgroup v2 is not mounted");
	const struct isol_cg_hier *h = &lay->h[lay->unified];
	unsigned want =
		spec->ctrls & ~((1u << ISOL_CG_CPUACCT) | (1u << ISOL_CG_FREEZER) | (1u << ISOL_CG_DEVICES));
	unsigned miss = want & ~h->ctrls;
	if (miss) {
		int c = __builtin_ctz(miss);
		return isol_failx(err, ENODEV,
				  "cgroup v2 controller \"%s\" is not available in %s%s (cgroup.controllers)",
				  isol_cg_ctrl_name(c, 2), h->mount, h->self);
	}
	if (isol_cgu_parent_dir(h, spec->parent, parent, sizeof parent) < 0 ||
	    (size_t)snprintf(dir, sizeof dir, "%s/%s", parent, spec->name) >= sizeof dir)
		return isol_failx(err, ENAMETOOLONG, "cgroup path too long");
	if ((r = v2_check_parent(h, parent, want, err)) < 0 || (r = v2_enable(h, parent, want, err)) < 0)
		return r;
	if ((r = isol_cgu_mkdir(spec, dir, err)) < 0)
		return r;
	if ((r = isol_cgu_add_dir(cg, dir, want)) < 0) {
		if (!spec->existing)
			rmdir(dir);
		return isol_fail(err, -r, "cgroup create");
	}
	cg->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->fd < 0) {
		r = isol_fail(err, errno, "open %s", dir);
		goto fail;
	}
	if (spec->owner && (r = isol_cgu_chown_group(dir, 2, spec->uid, spec->gid, err)) < 0)
		goto fail;
	return 0;
fail:
	isol_cgu_undo(cg);
	return r;
}

/* libcgroup 2.0.2 has no freeze (cgroup_util.c: isol_cgu_freeze_v2). */
static int v2_freeze(const struct isol_cgroup *cg, int frozen, isol_error *err)
{
	return isol_cgu_freeze_v2(cg->dirs[0], frozen, err);
}

/* libcgroup 2.0.2 has no call for cgroup.kill (isol_cgu_kill_v2). */
static int v2_kill_all(const struct isol_cgroup *cg, isol_error *err)
{
	return isol_cgu_kill_v2(cg->dirs[0], err);
}

static int v2_stats(const struct isol_cgroup *cg, struct isol_cg_stats *st, isol_error *err)
{
	char buf[8192];
	/* every file is in the one directory: opened relative to the group's fd */
	int d = cg->fd >= 0 ? cg->fd : isol_cgu_open_dir(cg->dirs[0]);

	(void)err;
	if (isol_cgu_read_in_at(d, "cpu.stat", buf, sizeof buf) >= 0) {
		st->cpu_usage_us = isol_cgu_kv(buf, "usage_usec");
		st->cpu_user_us = isol_cgu_kv(buf, "user_usec");
		st->cpu_system_us = isol_cgu_kv(buf, "system_usec");
		st->cpu_nr_periods = isol_cgu_kv(buf, "nr_periods");
		st->cpu_nr_throttled = isol_cgu_kv(buf, "nr_throttled");
		st->cpu_throttled_us = isol_cgu_kv(buf, "throttled_usec");
	}
	st->mem_current = isol_cgu_read_int_at(d, "memory.current");
	st->mem_peak = isol_cgu_read_int_at(d, "memory.peak");
	st->mem_max = isol_cgu_read_int_at(d, "memory.max");
	if (isol_cgu_read_in_at(d, "memory.events", buf, sizeof buf) >= 0) {
		st->mem_oom_kills = isol_cgu_kv(buf, "oom_kill");
		st->mem_oom_events = isol_cgu_kv(buf, "oom");
		st->mem_failcnt = isol_cgu_kv(buf, "max");
	}
	st->pids_current = isol_cgu_read_int_at(d, "pids.current");
	st->pids_peak = isol_cgu_read_int_at(d, "pids.peak");
	st->pids_max = isol_cgu_read_int_at(d, "pids.max");
	if (isol_cgu_read_in_at(d, "io.stat", buf, sizeof buf) >= 0)
		isol_cgu_io_bytes(buf, 2, &st->io_read_bytes, &st->io_write_bytes);
	if (d >= 0 && d != cg->fd)
		close(d);
	return 0;
}

const struct isol_cg_backend isol_cg_v2 = {
	.name = "v2",
	.create = v2_create,
	.freeze = v2_freeze,
	.kill_all = v2_kill_all,
	.stats = v2_stats,
};
