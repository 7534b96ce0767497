/* Control groups: layout detection and the public API, dispatched to the
 * v1 or v2 backend (cgroup_v1.c, cgroup_v2.c) where the versions differ.
 * See cgroup.h for what goes through libcgroup and why. */
#define _GNU_SOURCE
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_backend.h"
#include "fileio.h"

static const struct isol_cg_backend *backend(const struct isol_cgroup *cg)
{
	return cg->version == 2 ? &isol_cg_v2 : &isol_cg_v1;
}

/* ---------------------------------------------------------------- layout */

static struct isol_cg_layout g_layout;
static int g_layout_ok;

static int detect(struct isol_cg_layout *lay, isol_error *err)
{
	char roots[ISOL_CG_MAXH][256];
	FILE *f;
	char *line = NULL;
	size_t cap = 0;

	memset(lay, 0, sizeof *lay);
	lay->unified = -1;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return isol_fail(err, errno, "open /proc/self/mountinfo");
	while (getline(&line, &cap, f) > 0 && lay->n < ISOL_CG_MAXH) {
		char root[256], mnt[256], *sep = strstr(line, " - ");
		char fstype[32], src[64], opts[512];
		if (!sep || sscanf(line, "%*s %*s %*s %255s %255s", root, mnt) != 2)
			continue;
		if (sscanf(sep + 3, "%31s %63s %511s", fstype, src, opts) != 3)
			continue;
		int v = strcmp(fstype, "cgroup2") == 0 ? 2 : strcmp(fstype, "cgroup") == 0 ? 1 : 0;
		if (!v)
			continue;
		unsigned m = v == 1 ? isol_cgu_parse_ctrls(opts, ",", "io") : 0;
		int dup = 0;
		for (int i = 0; i < lay->n; i++)
			if (lay->h[i].version == v && (v == 2 || lay->h[i].ctrls == m))
				dup = 1; /* a second mount (bind) of the same hierarchy */
		if (dup || (v == 1 && !m))
			continue; /* name=systemd and other named hierarchies: not ours */
		struct isol_cg_hier *h = &lay->h[lay->n];
		h->version = v;
		h->ctrls = m;
		snprintf(h->mount, sizeof h->mount, "%s", mnt);
		snprintf(roots[lay->n], sizeof roots[0], "%s", root);
		if (v == 2)
			lay->unified = lay->n;
		lay->n++;
	}
	free(line);
	fclose(f);

	/* The caller's cgroup per hierarchy. */
	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return isol_fail(err, errno, "open /proc/self/cgroup");
	line = NULL;
	cap = 0;
	while (getline(&line, &cap, f) > 0) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		char *path = c2 + 1;
		path[strcspn(path, "\n")] = '\0';
		int v2 = c1[1] == '\0';
		unsigned m = v2 ? 0 : isol_cgu_parse_ctrls(c1 + 1, ",", "io");
		for (int i = 0; i < lay->n; i++) {
			struct isol_cg_hier *h = &lay->h[i];
			if ((v2 && h->version == 2) || (!v2 && h->version == 1 && h->ctrls == m)) {
				/* A mount of a sub-tree (root != "/"): strip that prefix. */
				const char *p = path;
				size_t rl = strlen(roots[i]);
				if (strcmp(roots[i], "/") != 0 && strncmp(p, roots[i], rl) == 0)
					p += rl;
				snprintf(h->self, sizeof h->self, "%s", *p ? p : "/");
			}
		}
	}
	free(line);
	fclose(f);

	int v1 = 0;
	for (int i = 0; i < lay->n; i++) {
		struct isol_cg_hier *h = &lay->h[i];
		if (!h->self[0])
			snprintf(h->self, sizeof h->self, "/");
		if (h->version == 1)
			v1 = 1;
		else {
			char path[ISOL_CG_PATH + 32], buf[512];
			snprintf(path, sizeof path, "%s%s/cgroup.controllers", h->mount,
				 strcmp(h->self, "/") ? h->self : "");
			if (isol_read_file(path, buf, sizeof buf, NULL) >= 0)
				h->ctrls = isol_cgu_parse_ctrls(buf, " \n", "blkio");
		}
	}
	lay->mode = v1 ? (lay->unified >= 0 ? ISOL_CG_MODE_HYBRID : ISOL_CG_MODE_V1)
		       : (lay->unified >= 0 ? ISOL_CG_MODE_V2 : 0);
	return 0;
}

int isol_cg_layout(const struct isol_cg_layout **out, int refresh, isol_error *err)
{
	if (!g_layout_ok || refresh) {
		int r = detect(&g_layout, err);
		if (r < 0)
			return r;
		g_layout_ok = 1;
	}
	*out = &g_layout;
	return 0;
}

/* ---------------------------------------------------------------- create */

int isol_cg_create(struct isol_cgroup *cg, const struct isol_cg_spec *spec, isol_error *err)
{
	const struct isol_cg_layout *lay;
	int r;

	isol_cg_init(cg);
	if (!spec->name || !*spec->name || strchr(spec->name, '/') || strcmp(spec->name, ".") == 0 ||
	    strcmp(spec->name, "..") == 0)
		return isol_failx(err, EINVAL, "cgroup name \"%s\": expected one path component",
				  spec->name ? spec->name : "");
	if (spec->parent && strstr(spec->parent, ".."))
		return isol_failx(err, EINVAL, "cgroup parent \"%s\": \"..\" is not allowed", spec->parent);
	if ((r = isol_cg_layout(&lay, 0, err)) < 0)
		return r;
	if (!lay->mode)
		return isol_failx(err, ENODEV, "no cgroup filesystem is mounted");
	cg->version = spec->version ? spec->version : lay->mode == ISOL_CG_MODE_V2 ? 2 : 1;
	cg->external = spec->existing;
	if ((r = backend(cg)->create(cg, lay, spec, err)) < 0)
		return r;
	cg->external = spec->existing;
	return 0;
}

/* ---------------------------------------------------------------- set/get */

static int find_dir(const struct isol_cgroup *cg, const char *file, const char **out, isol_error *err)
{
	char ctrl[32];
	size_t l = strcspn(file, ".");
	int c;

	*out = NULL;
	if (cg->ndirs == 0)
		return isol_failx(err, EBADF, "cgroup is deleted");
	if (strchr(file, '/') || l == strlen(file) || l >= sizeof ctrl)
		return isol_failx(err, EINVAL, "cgroup file \"%s\": expected \"controller.file\"", file);
	if (cg->version == 2) {
		*out = cg->dirs[0];
		return 0;
	}
	memcpy(ctrl, file, l);
	ctrl[l] = '\0';
	if (strcmp(ctrl, "cgroup") == 0 || strcmp(ctrl, "notify_on_release") == 0) {
		*out = cg->dirs[0];
		return 0;
	}
	c = isol_cg_ctrl_lookup(ctrl);
	if (c >= 0)
		for (int i = 0; i < cg->ndirs; i++)
			if (cg->ctrls[i] & (1u << c)) {
				*out = cg->dirs[i];
				return 0;
			}
	return isol_failx(err, ENODEV, "cgroup file \"%s\": the group has no \"%s\" controller", file, ctrl);
}

const char *isol_cg_dir_for(const struct isol_cgroup *cg, const char *file, isol_error *err)
{
	const char *dir;

	return find_dir(cg, file, &dir, err) < 0 ? NULL : dir;
}

int isol_cg_set(const struct isol_cgroup *cg, const char *file, const char *value, isol_error *err)
{
	const char *dir;
	int r = find_dir(cg, file, &dir, err);

	return r < 0 ? r : isol_write_at(dir, file, value, err);
}

ssize_t isol_cg_get(const struct isol_cgroup *cg, const char *file, char *buf, size_t len, isol_error *err)
{
	char path[ISOL_CG_PATH + 64];
	const char *dir;
	int r = find_dir(cg, file, &dir, err);

	if (r < 0)
		return r;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	return isol_read_file(path, buf, len, err);
}

int isol_cg_attach(const struct isol_cgroup *cg, pid_t pid, isol_error *err)
{
	char path[ISOL_CG_PATH + 32], buf[24];

	if (cg->ndirs == 0)
		return isol_failx(err, EBADF, "cgroup is deleted");
	snprintf(buf, sizeof buf, "%d", (int)pid);
	for (int i = 0; i < cg->ndirs; i++) {
		int r;
		snprintf(path, sizeof path, "%s/cgroup.procs", cg->dirs[i]);
		if ((r = isol_write_str(path, buf, err)) < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------- freeze/kill */

struct pid_search {
	pid_t pid;
	int found;
};

static int is_pid(pid_t pid, void *ud)
{
	struct pid_search *s = ud;
	if (pid != s->pid)
		return 0;
	s->found = 1;
	return -1; /* stop */
}

/* 1 when pid is listed in dir/cgroup.procs or in a sub-group's. */
static int dir_holds(const char *dir, pid_t pid)
{
	struct pid_search s = { pid, 0 };

	isol_cgu_walk_procs(dir, 1, is_pid, &s, NULL);
	return s.found;
}

int isol_cg_holds(const struct isol_cgroup *cg, pid_t pid)
{
	/* Every hierarchy of a v1 group holds the same processes, except
	 * while an attach is half done: look at all of them. */
	for (int i = 0; i < cg->ndirs; i++)
		if (dir_holds(cg->dirs[i], pid))
			return 1;
	return 0;
}

/* Freezing or killing a group that holds the caller stops or ends the
 * caller itself (issue 10 item 12): refused. */
static int refuse_self(const struct isol_cgroup *cg, const char *what, isol_error *err)
{
	pid_t me = getpid();

	if (!isol_cg_holds(cg, me))
		return 0;
	return isol_failx(err, EDEADLK,
			  "%s %s: the group holds the calling process (pid %d); refusing to %s it", what,
			  cg->dirs[0], (int)me, what);
}

int isol_cg_freeze(const struct isol_cgroup *cg, int frozen, isol_error *err)
{
	int r;

	if (cg->ndirs == 0)
		return isol_failx(err, EBADF, "cgroup is deleted");
	if (frozen && (r = refuse_self(cg, "freeze", err)) < 0)
		return r;
	return backend(cg)->freeze(cg, frozen, err);
}

int isol_cg_nprocs(const struct isol_cgroup *cg, isol_error *err)
{
	if (cg->ndirs == 0)
		return 0;
	/* v1: the first directory (every hierarchy holds the same processes). */
	return isol_cgu_count_procs(cg->dirs[0], 1, err);
}

/* The index of the directory whose state isol_cg_populated reads. */
static int probe_index(const struct isol_cgroup *cg)
{
	return cg->version != 2 && cg->unified >= 0 ? cg->unified : 0;
}

int isol_cg_populated(const struct isol_cgroup *cg)
{
	if (cg->ndirs == 0)
		return 0;
	if (cg->version == 2 || cg->unified >= 0)
		return isol_cgu_populated_v2(cg->dirs[probe_index(cg)]);
	return isol_cgu_count_procs(cg->dirs[probe_index(cg)], 1, NULL) > 0;
}

int isol_cg_kill(const struct isol_cgroup *cg, int sig, isol_error *err)
{
	int total = 0, r;

	if (cg->ndirs == 0)
		return isol_failx(err, EBADF, "cgroup is deleted");
	if (sig != 0 && (r = refuse_self(cg, "kill", err)) < 0)
		return r;
	if (sig == SIGKILL && backend(cg)->kill_all && (r = backend(cg)->kill_all(cg, err)) != -EOPNOTSUPP)
		return r;
	/* Freeze so that nothing forks between reading the list and the kill;
	 * a frozen task dies of SIGKILL only once thawed. */
	int can_freeze = cg->version == 2 || cg->freezer >= 0 || cg->unified >= 0;
	const char *dir = cg->version == 2 ? cg->dirs[0] : cg->dirs[cg->freezer >= 0 ? cg->freezer : 0];
	for (int round = 0; round < 50; round++) {
		if (can_freeze && (r = isol_cg_freeze(cg, 1, err)) < 0)
			return r;
		r = isol_cgu_signal_procs(dir, sig, err);
		if (can_freeze) {
			isol_error e2;
			int t = isol_cg_freeze(cg, 0, &e2);
			if (t < 0 && r >= 0) {
				if (err)
					*err = e2;
				r = t;
			}
		}
		if (r < 0)
			return r;
		total += r;
		if (sig != SIGKILL || r == 0 || can_freeze)
			break;
	}
	return total;
}

/* ---------------------------------------------------------------- delete */

int isol_cg_rmdir_tree(const char *dir, int timeout_ms, isol_error *err)
{
	char path[ISOL_CG_PATH + 300];
	struct timespec t0;
	DIR *d;
	int r = 0;

	/* The common case has no sub-groups: one rmdir, no directory scan. */
	if (rmdir(dir) == 0 || errno == ENOENT)
		return 0;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : isol_fail(err, errno, "opendir %s", dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		int rr = isol_cg_rmdir_tree(path, timeout_ms, err);
		if (rr < 0 && !r)
			r = rr;
	}
	closedir(d);
	isol_cgu_now_ts(&t0);
	for (long us = 100;; us = us < 20000 ? us * 2 : us) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return r;
		if (errno != EBUSY || isol_cgu_elapsed_ms(&t0) > timeout_ms)
			return r ? r : isol_fail(err, errno, "rmdir %s", dir);
		isol_cgu_sleep_us(us);
	}
}

/* isol_cg_delete, but for the directory `removed` (-1: none), gone already. */
static int delete_dirs(struct isol_cgroup *cg, int removed, int timeout_ms, isol_error *err)
{
	int first = 0;

	if (cg->ndirs == 0)
		return 0;
	/* Exited processes leave asynchronously: rmdir says EBUSY until they
	 * have, and isol_cg_rmdir_tree retries it (up to timeout_ms, then
	 * reports EBUSY with the path). An empty group, the common case, costs
	 * one rmdir per directory and no read. */
	if (cg->fd >= 0) {
		close(cg->fd);
		cg->fd = -1;
	}
	for (int i = cg->ndirs - 1; i >= 0; i--) {
		isol_error e;
		if (i == removed)
			continue;
		int r = isol_cg_rmdir_tree(cg->dirs[i], timeout_ms, &e);
		if (r < 0 && !first) {
			first = r;
			if (err)
				*err = e;
		}
	}
	if (first == 0)
		isol_cg_free(cg);
	return first;
}

int isol_cg_delete(struct isol_cgroup *cg, int timeout_ms, isol_error *err)
{
	return delete_dirs(cg, -1, timeout_ms, err);
}

int isol_cg_delete_if_empty(struct isol_cgroup *cg, int timeout_ms, isol_error *err)
{
	int r, i;

	if (cg->ndirs == 0)
		return 1;
	i = probe_index(cg);
	if (rmdir(cg->dirs[i]) < 0)
		return 0;
	r = delete_dirs(cg, i, timeout_ms, err);
	return r < 0 ? r : 1;
}

/* ---------------------------------------------------------------- stats */

int64_t isol_cg_oom_kills(const struct isol_cgroup *cg)
{
	char buf[1024];
	const char *d = cg->ndirs ? isol_cgu_dir_with(cg, ISOL_CG_MEMORY) : NULL;

	if (!d)
		return -1;
	if (isol_cgu_read_in(d, cg->version == 2 ? "memory.events" : "memory.oom_control", buf, sizeof buf) <
	    0)
		return -1;
	return isol_cgu_kv(buf, "oom_kill");
}

int isol_cg_stats(const struct isol_cgroup *cg, struct isol_cg_stats *st, isol_error *err)
{
	memset(st, 0xff, sizeof *st); /* every field -1 */
	if (cg->ndirs == 0)
		return isol_failx(err, EBADF, "cgroup is deleted");
	return backend(cg)->stats(cg, st, err);
}

/* ---------------------------------------------------------------- handle-less */

static int on_cgroupfs(const char *dir, isol_error *err)
{
	struct statfs sf;

	if (statfs(dir, &sf) < 0)
		return isol_fail(err, errno, "statfs %s", dir);
	if (sf.f_type != CGROUP_SUPER_MAGIC && sf.f_type != CGROUP2_SUPER_MAGIC)
		return isol_failx(err, EINVAL, "%s is not a cgroup directory", dir);
	return 0;
}

int isol_cg_remove_dir(const char *dir, int kill_procs, int timeout_ms, isol_error *err)
{
	char path[ISOL_CG_PATH + 32];
	struct timespec t0;
	int r;

	if ((r = on_cgroupfs(dir, err)) < 0)
		return r == -ENOENT ? 0 : r;
	if (dir_holds(dir, getpid()))
		return isol_failx(err, EDEADLK, "remove %s: the group holds the calling process (pid %d)",
				  dir, (int)getpid());
	if (kill_procs) {
		/* v2: cgroup.kill takes the subtree at once; else SIGKILL each
		 * listed pid until none is left (no freezer: the group may not
		 * have one; a fork racing the scan is caught next round). */
		snprintf(path, sizeof path, "%s/cgroup.kill", dir);
		if (access(path, F_OK) == 0 && (r = isol_write_str(path, "1", err)) < 0)
			return r;
		isol_cgu_now_ts(&t0);
		for (long us = 50; isol_cgu_count_procs(dir, 1, NULL) > 0; us = us < 20000 ? us * 2 : us) {
			isol_cgu_signal_procs(dir, SIGKILL, NULL);
			if (isol_cgu_elapsed_ms(&t0) > timeout_ms)
				break; /* rmdir reports EBUSY with the path */
			isol_cgu_sleep_us(us);
		}
	}
	return isol_cg_rmdir_tree(dir, timeout_ms, err);
}

static int find_in(const char *dir, const char *prefix, int depth, int (*fn)(const char *, void *), void *ud)
{
	char path[ISOL_CG_PATH + 300];
	struct dirent *e;
	DIR *d = opendir(dir);
	int stop = 0;

	if (!d)
		return 0;
	while (!stop && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
			continue;
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			stop = fn(path, ud);
		else if (depth > 1)
			stop = find_in(path, prefix, depth - 1, fn, ud);
	}
	closedir(d);
	return stop;
}

int isol_cg_find(const char *prefix, int maxdepth, int (*fn)(const char *dir, void *ud), void *ud,
		 isol_error *err)
{
	const struct isol_cg_layout *lay;
	int r;

	if (!*prefix || strchr(prefix, '/'))
		return isol_failx(err, EINVAL, "cgroup name prefix \"%s\": expected a non-empty name",
				  prefix);
	if ((r = isol_cg_layout(&lay, 0, err)) < 0)
		return r;
	for (int i = 0; i < lay->n; i++)
		if (find_in(lay->h[i].mount, prefix, maxdepth, fn, ud))
			break;
	return 0;
}
