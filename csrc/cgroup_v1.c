/* cgroup v1 backend: one directory per hierarchy holding a wanted
 * controller; on a hybrid host one in the unified tree too, whose
 * cgroup.kill, cgroup.freeze and cpu.stat serve kill, freeze and cpu usage
 * (else freezer and cpuacct directories do); stats from
 * cpuacct (or the unified cpu.stat)/memory/pids/blkio files. */
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

static int copy_cpuset(const char *parent, const char *dir, isol_error *err)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char path[ISOL_CG_PATH + 32], buf[4096];
	int r;

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", parent, files[i]);
		ssize_t n = isol_read_file(path, buf, sizeof buf, NULL);
		if (n < 0)
			return isol_fail(err, (int)-n, "read %s", path);
		buf[strcspn(buf, "\n")] = '\0';
		if (!buf[0])
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		char have[16];
		if (isol_read_file(path, have, sizeof have, NULL) > 0 && have[0] != '\n')
			continue; /* set already (the libcgroup backend wrote the limit) */
		if ((r = isol_write_str(path, buf, err)) < 0)
			return r;
	}
	return 0;
}

/* Whether a directory of the unified tree serves kill, freeze and cpu
 * usage: cgroup.kill (5.14+), cgroup.freeze (5.2+) and cpu.stat are there.
 * Looked at once per process (the kernel does not change under it; two
 * threads that race both store the same answer). */
static int unified_serves(const char *dir)
{
	static int known = -1;
	static const char *const files[] = { "cgroup.kill", "cgroup.freeze", "cpu.stat" };
	char path[ISOL_CG_PATH + 32];
	int yes = 1;

	if (known >= 0)
		return known;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		if (access(path, F_OK) < 0)
			yes = 0;
	}
	known = yes;
	return yes;
}

/* Hybrid host: a directory in the controller-less unified tree too, so
 * that a cgroup namespace made for the sandbox is rooted at its own group
 * on every hierarchy isol knows (issue 10 item 7: otherwise its unified
 * root is the caller's cgroup, where a cgroup2 mount from inside could
 * create groups), and the processes are tracked there as well: its
 * cgroup.kill, cgroup.freeze and cpu.stat (cg->unified) spare the group a
 * freezer and a cpuacct directory: two mkdirs, attaches and rmdirs per
 * group (bench/sweep). Skipped where the unified tree is not ours to write
 * (EACCES, EPERM, EROFS, a relative parent missing there) and for groups
 * made by libcgroup. Made first, so that the v1 directories can do
 * without those two; listed last (dirs[0] stays a v1 directory).
 * Returns 1 (made: dir), 0 (skipped) or -errno. */
static int unified_mkdir(const struct isol_cg_layout *lay, const struct isol_cg_spec *spec, char *dir,
			 size_t len, isol_error *err)
{
	char parent[ISOL_CG_PATH];

	if (lay->unified < 0 || spec->existing)
		return 0;
	if (isol_cgu_parent_dir(&lay->h[lay->unified], spec->parent, parent, sizeof parent) < 0 ||
	    (size_t)snprintf(dir, len, "%s/%s", parent, spec->name) >= len)
		return isol_failx(err, ENAMETOOLONG, "cgroup path too long");
	if (mkdir(dir, 0755) < 0) {
		if (errno == EACCES || errno == EPERM || errno == EROFS || errno == ENOENT)
			return 0;
		return isol_fail(err, errno, "mkdir %s", dir);
	}
	return 1;
}

/* A directory in every v1 hierarchy holding one of `want`. On failure
 * the caller undoes what was made. */
static int v1_dirs(struct isol_cgroup *cg, const struct isol_cg_layout *lay, const struct isol_cg_spec *spec,
		   unsigned want, isol_error *err)
{
	char parent[ISOL_CG_PATH], dir[ISOL_CG_PATH];
	int r;

	for (int i = 0; i < lay->n; i++) {
		const struct isol_cg_hier *h = &lay->h[i];
		if (h->version != 1 || !(h->ctrls & want))
			continue;
		if (cg->ndirs >= ISOL_CG_MAXDIRS)
			return isol_failx(err, E2BIG, "too many cgroup hierarchies");
		if (isol_cgu_parent_dir(h, spec->parent, parent, sizeof parent) < 0 ||
		    (size_t)snprintf(dir, sizeof dir, "%s/%s", parent, spec->name) >= sizeof dir)
			return isol_failx(err, ENAMETOOLONG, "cgroup path too long");
		if ((r = isol_cgu_mkdir(spec, dir, err)) < 0)
			return r;
		if ((r = isol_cgu_add_dir(cg, dir, h->ctrls)) < 0) {
			if (!spec->existing)
				rmdir(dir);
			return isol_fail(err, -r, "cgroup create");
		}
		if (h->ctrls & (1u << ISOL_CG_FREEZER))
			cg->freezer = cg->ndirs - 1;
		/* A v1 cpuset starts with no cpus and no mems: nothing could run. */
		if ((h->ctrls & (1u << ISOL_CG_CPUSET)) && (r = copy_cpuset(parent, dir, err)) < 0)
			return r;
		if (spec->owner && (r = isol_cgu_chown_group(dir, 1, spec->uid, spec->gid, err)) < 0)
			return r;
	}
	return 0;
}

static int v1_create(struct isol_cgroup *cg, const struct isol_cg_layout *lay,
		     const struct isol_cg_spec *spec, isol_error *err)
{
	char udir[ISOL_CG_PATH];
	int r, made;

	if (lay->mode == ISOL_CG_MODE_V2)
		return isol_failx(err, ENODEV, "cgroup v1 is not mounted (this host runs cgroup v2 only)");
	unsigned want = spec->ctrls, have = 0;
	for (int i = 0; i < lay->n; i++)
		if (lay->h[i].version == 1)
			have |= lay->h[i].ctrls;
	if (want & ~have) {
		int c = __builtin_ctz(want & ~have);
		return isol_failx(err, ENODEV, "cgroup v1 controller \"%s\" is not mounted",
				  isol_cg_ctrl_name(c, 1));
	}
	if ((made = unified_mkdir(lay, spec, udir, sizeof udir, err)) < 0)
		return made;
	int serves = made && unified_serves(udir);
	/* freezer: kill and freeze; cpuacct: cpu usage in stats, unless the
	 * unified tree serves them (v2 has both built in). */
	if (!serves)
		want |= have & ((1u << ISOL_CG_FREEZER) | (1u << ISOL_CG_CPUACCT));
	if ((r = v1_dirs(cg, lay, spec, want, err)) < 0)
		goto fail;
	if (made) {
		if (cg->ndirs >= ISOL_CG_MAXDIRS) {
			r = isol_failx(err, E2BIG, "too many cgroup hierarchies");
			goto fail;
		}
		if ((r = isol_cgu_add_dir(cg, udir, 0)) < 0) {
			r = isol_fail(err, -r, "cgroup create");
			goto fail;
		}
		made = 0; /* in cg->dirs now: undo removes it */
		if (serves)
			cg->unified = cg->ndirs - 1;
		if (spec->owner && (r = isol_cgu_chown_group(udir, 2, spec->uid, spec->gid, err)) < 0)
			goto fail;
	}
	return 0;
fail:
	isol_cgu_undo(cg);
	if (made)
		rmdir(udir);
	return r;
}

/* The v1 freezer when the group has one, else the unified tree's
 * cgroup.freeze. */
static int v1_freeze(const struct isol_cgroup *cg, int frozen, isol_error *err)
{
	char path[ISOL_CG_PATH + 32];
	int r;

	if (cg->freezer < 0 && cg->unified >= 0)
		return isol_cgu_freeze_v2(cg->dirs[cg->unified], frozen, err);
	if (cg->freezer < 0)
		return isol_failx(err, ENODEV, "freeze: the v1 freezer controller is not mounted");
	snprintf(path, sizeof path, "%s/freezer.state", cg->dirs[cg->freezer]);
	if ((r = isol_write_str(path, frozen ? "FROZEN" : "THAWED", err)) < 0)
		return r;
	return isol_cgu_wait_frozen(path, NULL, frozen, err);
}

/* The unified tree's cgroup.kill, when the group has a directory there. */
static int v1_kill_all(const struct isol_cgroup *cg, isol_error *err)
{
	if (cg->unified < 0)
		return -EOPNOTSUPP;
	return isol_cgu_kill_v2(cg->dirs[cg->unified], err);
}

static int v1_stats(const struct isol_cgroup *cg, struct isol_cg_stats *st, isol_error *err)
{
	char buf[8192];
	const char *d;

	(void)err;
	if ((d = isol_cgu_dir_with(cg, ISOL_CG_CPUACCT))) {
		int64_t u = isol_cgu_read_int(d, "cpuacct.usage"),
			us = isol_cgu_read_int(d, "cpuacct.usage_user"),
			sy = isol_cgu_read_int(d, "cpuacct.usage_sys");
		st->cpu_usage_us = u >= 0 ? u / 1000 : -1;
		st->cpu_user_us = us >= 0 ? us / 1000 : -1;
		st->cpu_system_us = sy >= 0 ? sy / 1000 : -1;
	} else if (cg->unified >= 0 &&
		   isol_cgu_read_in(cg->dirs[cg->unified], "cpu.stat", buf, sizeof buf) >= 0) {
		st->cpu_usage_us = isol_cgu_kv(buf, "usage_usec");
		st->cpu_user_us = isol_cgu_kv(buf, "user_usec");
		st->cpu_system_us = isol_cgu_kv(buf, "system_usec");
	}
	if ((d = isol_cgu_dir_with(cg, ISOL_CG_CPU)) &&
	    isol_cgu_read_in(d, "cpu.stat", buf, sizeof buf) >= 0) {
		st->cpu_nr_periods = isol_cgu_kv(buf, "nr_periods");
		st->cpu_nr_throttled = isol_cgu_kv(buf, "nr_throttled");
		int64_t t = isol_cgu_kv(buf, "throttled_time");
		st->cpu_throttled_us = t >= 0 ? t / 1000 : -1;
	}
	if ((d = isol_cgu_dir_with(cg, ISOL_CG_MEMORY))) {
		/* five files of one directory: opened relative to it */
		int dfd = isol_cgu_open_dir(d);
		st->mem_current = isol_cgu_read_int_at(dfd, "memory.usage_in_bytes");
		st->mem_peak = isol_cgu_read_int_at(dfd, "memory.max_usage_in_bytes");
		st->mem_max = isol_cgu_read_int_at(dfd, "memory.limit_in_bytes");
		st->mem_failcnt = isol_cgu_read_int_at(dfd, "memory.failcnt");
		if (isol_cgu_read_in_at(dfd, "memory.oom_control", buf, sizeof buf) >= 0) {
			st->mem_oom_kills = isol_cgu_kv(buf, "oom_kill");
			st->mem_oom_events = st->mem_oom_kills;
		}
		if (dfd >= 0)
			close(dfd);
	}
	if ((d = isol_cgu_dir_with(cg, ISOL_CG_PIDS))) {
		st->pids_current = isol_cgu_read_int(d, "pids.current");
		st->pids_peak = isol_cgu_read_int(d, "pids.peak");
		st->pids_max = isol_cgu_read_int(d, "pids.max");
	}
	if ((d = isol_cgu_dir_with(cg, ISOL_CG_IO)) &&
	    isol_cgu_read_in(d, "blkio.throttle.io_service_bytes", buf, sizeof buf) >= 0)
		isol_cgu_io_bytes(buf, 1, &st->io_read_bytes, &st->io_write_bytes);
	return 0;
}

const struct isol_cg_backend isol_cg_v1 = {
	.name = "v1",
	.create = v1_create,
	.freeze = v1_freeze,
	.kill_all = v1_kill_all, /* else freeze, signal each pid, thaw (cgroup.c) */
	.stats = v1_stats,
};
