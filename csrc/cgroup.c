/* Control groups v1/v2: layout detection, create, set, attach, freeze, kill,
 * stats, delete. See cgroup.h for what goes through libcgroup and why. */
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"

static const char *const ctrl_v1[ISOL_CG_NCTRL] = {
	"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
	"pids", "hugetlb", "rdma", "misc", "net_cls", "net_prio", "perf_event",
};

const char *isol_cg_ctrl_name(int c, int version)
{
	if (c < 0 || c >= ISOL_CG_NCTRL)
		return NULL;
	if (c == ISOL_CG_IO && version == 2)
		return "io";
	return ctrl_v1[c];
}

int isol_cg_ctrl_lookup(const char *name)
{
	if (strcmp(name, "io") == 0)
		return ISOL_CG_IO;
	for (int c = 0; c < ISOL_CG_NCTRL; c++)
		if (strcmp(name, ctrl_v1[c]) == 0)
			return c;
	return -1;
}

/* ---------------------------------------------------------------- files */

/* Value of "key N" (or "key=N") in a key/value file body, or -1. */
static int64_t kv(const char *buf, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && (p[kl] == ' ' || p[kl] == '='))
			return strtoll(p + kl + 1, NULL, 10);
	}
	return -1;
}

static int64_t read_int(const char *dir, const char *file)
{
	char path[ISOL_CG_PATH + 64], buf[64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	if (isol_read_file(path, buf, sizeof buf, NULL) < 0)
		return -1;
	if (strncmp(buf, "max", 3) == 0)
		return INT64_MAX;
	return strtoll(buf, NULL, 10);
}

static void now_ts(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	now_ts(&t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- layout */

static struct isol_cg_layout g_layout;
static int g_layout_ok;

/* Controller bitmask of a list: v1 mount options ("rw,nosuid,cpu,cpuacct",
 * sep ",") or v2 cgroup.controllers ("cpu io memory", sep " \n"). `skip`
 * is the other version's name of a shared bit (v1 has no "io", v2 no "blkio"). */
static unsigned parse_ctrls(const char *list, const char *sep, const char *skip)
{
	unsigned m = 0;
	char buf[512], *save = NULL;

	snprintf(buf, sizeof buf, "%s", list);
	for (char *t = strtok_r(buf, sep, &save); t; t = strtok_r(NULL, sep, &save)) {
		int c = isol_cg_ctrl_lookup(t);
		if (c >= 0 && strcmp(t, skip) != 0)
			m |= 1u << c;
	}
	return m;
}

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
		unsigned m = v == 1 ? parse_ctrls(opts, ",", "io") : 0;
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
		unsigned m = v2 ? 0 : parse_ctrls(c1 + 1, ",", "io");
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
				h->ctrls = parse_ctrls(buf, " \n", "blkio");
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

void isol_cg_init(struct isol_cgroup *cg)
{
	memset(cg, 0, sizeof *cg);
	cg->fd = -1;
	cg->freezer = -1;
}

void isol_cg_free(struct isol_cgroup *cg)
{
	for (int i = 0; i < cg->ndirs; i++) {
		free(cg->dirs[i]);
		cg->dirs[i] = NULL;
	}
	cg->ndirs = 0;
	if (cg->fd >= 0)
		close(cg->fd);
	cg->fd = -1;
	cg->freezer = -1;
}

/* base directory (parent) of the new group in hierarchy h. */
static int parent_dir(const struct isol_cg_hier *h, const char *parent, char *out, size_t len)
{
	int n;
	const char *self = strcmp(h->self, "/") ? h->self : "";

	if (!parent || !*parent)
		n = snprintf(out, len, "%s%s", h->mount, self);
	else if (parent[0] == '/')
		n = snprintf(out, len, "%s%s", h->mount, strcmp(parent, "/") ? parent : "");
	else
		n = snprintf(out, len, "%s%s/%s", h->mount, self, parent);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	/* no trailing slash */
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

/* Delegation: hand the group to uid/gid. v1: the directory and every file
 * (the seed's `cgcreate -a user -t user`). v2: the directory and the files
 * the kernel lists as delegatable (cgroup.procs, cgroup.threads,
 * cgroup.subtree_control, ...: /sys/kernel/cgroup/delegate); limits stay
 * root's so the delegate cannot raise its own. */
static int chown_group(const char *dir, int version, uid_t uid, gid_t gid, isol_error *err)
{
	char path[ISOL_CG_PATH + 300];

	if (chown(dir, uid, gid) < 0)
		return isol_fail(err, errno, "chown %s", dir);
	if (version == 1) {
		DIR *d = opendir(dir);
		struct dirent *e;
		if (!d)
			return isol_fail(err, errno, "opendir %s", dir);
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.' || e->d_type == DT_DIR)
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			if (chown(path, uid, gid) < 0) {
				int er = errno;
				closedir(d);
				return isol_fail(err, er, "chown %s", path);
			}
		}
		closedir(d);
		return 0;
	}
	char list[512];
	const char *files = "cgroup.procs\ncgroup.threads\ncgroup.subtree_control\n";
	if (isol_read_file("/sys/kernel/cgroup/delegate", list, sizeof list, NULL) > 0)
		files = list;
	for (const char *p = files; *p;) {
		size_t l = strcspn(p, "\n");
		if (l) {
			snprintf(path, sizeof path, "%s/%.*s", dir, (int)l, p);
			if (chown(path, uid, gid) < 0 && errno != ENOENT)
				return isol_fail(err, errno, "chown %s", path);
		}
		p += l;
		if (*p)
			p++;
	}
	return 0;
}

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
	for (size_t i = start; ; ) {
		char save = dir[i];
		dir[i] = '\0';
		snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
		ssize_t n = isol_read_file(path, buf, sizeof buf, NULL);
		if (n < 0) {
			dir[i] = save;
			return isol_fail(err, (int)-n, "read %s", path);
		}
		unsigned have = parse_ctrls(buf, " \n", "blkio"), miss = ctrls & ~have;
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
					return isol_failx(err, e,
						"enable %s in %s: %s (cgroup v2 no-internal-processes rule: "
						"that cgroup has processes of its own; run from a cgroup whose "
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
static int v2_check_parent(const struct isol_cg_hier *h, const char *parent, unsigned want,
			   isol_error *err)
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
		"subtree, or set cgroup.parent to an empty group (e.g. \"/isol.slice\")", parent);
}

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
		if ((r = isol_write_str(path, buf, err)) < 0)
			return r;
	}
	return 0;
}

static int add_dir(struct isol_cgroup *cg, const char *path, unsigned ctrls)
{
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	cg->dirs[cg->ndirs] = p;
	cg->ctrls[cg->ndirs] = ctrls;
	cg->ndirs++;
	return 0;
}

int isol_cg_create(struct isol_cgroup *cg, const struct isol_cg_spec *spec, isol_error *err)
{
	const struct isol_cg_layout *lay;
	char parent[ISOL_CG_PATH], dir[ISOL_CG_PATH];
	int r, version;

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
	version = spec->version ? spec->version : lay->mode == ISOL_CG_MODE_V2 ? 2 : 1;
	cg->version = version;

	if (version == 2) {
		if (lay->unified < 0)
			return isol_failx(err, ENODEV, "cgroup v2 is not mounted");
		const struct isol_cg_hier *h = &lay->h[lay->unified];
		unsigned want = spec->ctrls & ~((1u << ISOL_CG_CPUACCT) | (1u << ISOL_CG_FREEZER) |
						(1u << ISOL_CG_DEVICES));
		unsigned miss = want & ~h->ctrls;
		if (miss) {
			int c = __builtin_ctz(miss);
			return isol_failx(err, ENODEV,
				"cgroup v2 controller \"%s\" is not available in %s%s (cgroup.controllers)",
				isol_cg_ctrl_name(c, 2), h->mount, h->self);
		}
		if (parent_dir(h, spec->parent, parent, sizeof parent) < 0 ||
		    (size_t)snprintf(dir, sizeof dir, "%s/%s", parent, spec->name) >= sizeof dir)
			return isol_failx(err, ENAMETOOLONG, "cgroup path too long");
		if ((r = v2_check_parent(h, parent, want, err)) < 0 ||
		    (r = v2_enable(h, parent, want, err)) < 0)
			return r;
		if (mkdir(dir, 0755) < 0)
			return isol_fail(err, errno, "mkdir %s", dir);
		if ((r = add_dir(cg, dir, want)) < 0) {
			rmdir(dir);
			return isol_fail(err, -r, "cgroup create");
		}
		cg->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg->fd < 0) {
			r = isol_fail(err, errno, "open %s", dir);
			goto undo;
		}
		if (spec->owner && (r = chown_group(dir, 2, spec->uid, spec->gid, err)) < 0)
			goto undo;
		return 0;
	}

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
	/* freezer: kill and freeze; cpuacct: cpu usage in stats (v2 has both built in). */
	want |= have & ((1u << ISOL_CG_FREEZER) | (1u << ISOL_CG_CPUACCT));
	for (int i = 0; i < lay->n; i++) {
		const struct isol_cg_hier *h = &lay->h[i];
		if (h->version != 1 || !(h->ctrls & want))
			continue;
		if (cg->ndirs >= ISOL_CG_MAXDIRS) {
			r = isol_failx(err, E2BIG, "too many cgroup hierarchies");
			goto undo;
		}
		if (parent_dir(h, spec->parent, parent, sizeof parent) < 0 ||
		    (size_t)snprintf(dir, sizeof dir, "%s/%s", parent, spec->name) >= sizeof dir) {
			r = isol_failx(err, ENAMETOOLONG, "cgroup path too long");
			goto undo;
		}
		if (mkdir(dir, 0755) < 0) {
			r = isol_fail(err, errno, "mkdir %s", dir);
			goto undo;
		}
		if ((r = add_dir(cg, dir, h->ctrls)) < 0) {
			rmdir(dir);
			r = isol_fail(err, -r, "cgroup create");
			goto undo;
		}
		if (h->ctrls & (1u << ISOL_CG_FREEZER))
			cg->freezer = cg->ndirs - 1;
		/* A v1 cpuset starts with no cpus and no mems: nothing could run. */
		if ((h->ctrls & (1u << ISOL_CG_CPUSET)) && (r = copy_cpuset(parent, dir, err)) < 0)
			goto undo;
		if (spec->owner && (r = chown_group(dir, 1, spec->uid, spec->gid, err)) < 0)
			goto undo;
	}
	return 0;
undo:
	for (int i = cg->ndirs - 1; i >= 0; i--)
		rmdir(cg->dirs[i]);
	isol_cg_free(cg);
	return r;
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
	return isol_failx(err, ENODEV, "cgroup file \"%s\": the group has no \"%s\" controller", file,
			  ctrl);
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

ssize_t isol_cg_get(const struct isol_cgroup *cg, const char *file, char *buf, size_t len,
		    isol_error *err)
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

/* 1 when pid is listed in dir/cgroup.procs or in a sub-group's. */
static int dir_holds(const char *dir, pid_t pid)
{
	char path[ISOL_CG_PATH + 300];
	int found = 0;
	FILE *f;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	if ((f = fopen(path, "re"))) {
		for (int p; !found && fscanf(f, "%d", &p) == 1;)
			found = p == pid;
		fclose(f);
	}
	if (found || !(d = opendir(dir)))
		return found;
	while (!found && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		found = dir_holds(path, pid);
	}
	closedir(d);
	return found;
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
			  "%s %s: the group holds the calling process (pid %d); refusing to %s it",
			  what, cg->dirs[0], (int)me, what);
}

static int wait_frozen(const char *path, const char *key, int want, isol_error *err)
{
	char buf[256];
	struct timespec t0;

	now_ts(&t0);
	for (long us = 50;; us = us < 20000 ? us * 2 : us) {
		ssize_t n = isol_read_file(path, buf, sizeof buf, NULL);
		if (n < 0)
			return isol_fail(err, (int)-n, "read %s", path);
		if (key) {
			if (kv(buf, key) == want)
				return 0;
		} else if (want ? strncmp(buf, "FROZEN", 6) == 0 : strncmp(buf, "THAWED", 6) == 0) {
			return 0;
		}
		if (elapsed_ms(&t0) > 5000)
			return isol_failx(err, ETIMEDOUT, "%s: still not %s after 5 s", path,
					  want ? "frozen" : "thawed");
		sleep_us(us);
	}
}

int isol_cg_freeze(const struct isol_cgroup *cg, int frozen, isol_error *err)
{
	char path[ISOL_CG_PATH + 32];
	int r;

	if (cg->ndirs == 0)
		return isol_failx(err, EBADF, "cgroup is deleted");
	if (frozen && (r = refuse_self(cg, "freeze", err)) < 0)
		return r;
	if (cg->version == 2) {
		/* libcgroup 2.0.2 has no freeze; one write plus a wait on cgroup.events. */
		snprintf(path, sizeof path, "%s/cgroup.freeze", cg->dirs[0]);
		if ((r = isol_write_str(path, frozen ? "1" : "0", err)) < 0)
			return r;
		snprintf(path, sizeof path, "%s/cgroup.events", cg->dirs[0]);
		return wait_frozen(path, "frozen", frozen, err);
	}
	if (cg->freezer < 0)
		return isol_failx(err, ENODEV, "freeze: the v1 freezer controller is not mounted");
	snprintf(path, sizeof path, "%s/freezer.state", cg->dirs[cg->freezer]);
	if ((r = isol_write_str(path, frozen ? "FROZEN" : "THAWED", err)) < 0)
		return r;
	return wait_frozen(path, NULL, frozen, err);
}

/* Signal every pid listed in dir/cgroup.procs (and sub-groups). */
static int signal_procs(const char *dir, int sig, isol_error *err)
{
	char path[ISOL_CG_PATH + 300];
	int n = 0;
	FILE *f;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return isol_fail(err, errno, "open %s", path);
	for (int pid; fscanf(f, "%d", &pid) == 1;)
		if (kill(pid, sig) == 0)
			n++;
	fclose(f);
	d = opendir(dir);
	if (!d)
		return n;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		int r = signal_procs(path, sig, err);
		if (r > 0)
			n += r;
	}
	closedir(d);
	return n;
}

/* Processes listed in dir/cgroup.procs and in its sub-groups. */
static int count_procs(const char *dir, int recurse, isol_error *err)
{
	char path[ISOL_CG_PATH + 300], buf[8192];
	int n = 0;
	ssize_t r;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	r = isol_read_file(path, buf, sizeof buf, NULL);
	if (r < 0)
		return isol_fail(err, (int)-r, "read %s", path);
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			n++;
	if (!recurse)
		return n;
	d = opendir(dir);
	if (!d)
		return n;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		int k = count_procs(path, 1, err);
		if (k > 0)
			n += k;
	}
	closedir(d);
	return n;
}

/* v2: cgroup.events "populated" (zombies and sub-groups included). */
static int v2_populated(const struct isol_cgroup *cg)
{
	char path[ISOL_CG_PATH + 32], buf[256];
	snprintf(path, sizeof path, "%s/cgroup.events", cg->dirs[0]);
	if (isol_read_file(path, buf, sizeof buf, NULL) < 0)
		return 0;
	return kv(buf, "populated") > 0;
}

int isol_cg_nprocs(const struct isol_cgroup *cg, isol_error *err)
{
	if (cg->ndirs == 0)
		return 0;
	/* v1: the first directory (every hierarchy holds the same processes). */
	return count_procs(cg->dirs[0], 1, err);
}

int isol_cg_kill(const struct isol_cgroup *cg, int sig, isol_error *err)
{
	char path[ISOL_CG_PATH + 32];
	int total = 0, r;

	if (cg->ndirs == 0)
		return isol_failx(err, EBADF, "cgroup is deleted");
	if (sig != 0 && (r = refuse_self(cg, "kill", err)) < 0)
		return r;
	if (cg->version == 2 && sig == SIGKILL) {
		/* cgroup.kill (5.14+) kills the whole subtree atomically, forks
		 * included; libcgroup 2.0.2 has no call for it. */
		snprintf(path, sizeof path, "%s/cgroup.kill", cg->dirs[0]);
		if (access(path, F_OK) == 0)
			return isol_write_str(path, "1", err);
	}
	/* Freeze so that nothing forks between reading the list and the kill;
	 * a frozen task dies of SIGKILL only once thawed. */
	int can_freeze = cg->version == 2 || cg->freezer >= 0;
	const char *dir = cg->version == 2 ? cg->dirs[0] : cg->dirs[cg->freezer >= 0 ? cg->freezer : 0];
	for (int round = 0; round < 50; round++) {
		if (can_freeze && (r = isol_cg_freeze(cg, 1, err)) < 0)
			return r;
		r = signal_procs(dir, sig, err);
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
	now_ts(&t0);
	for (long us = 100;; us = us < 20000 ? us * 2 : us) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return r;
		if (errno != EBUSY || elapsed_ms(&t0) > timeout_ms)
			return r ? r : isol_fail(err, errno, "rmdir %s", dir);
		sleep_us(us);
	}
}

int isol_cg_delete(struct isol_cgroup *cg, int timeout_ms, isol_error *err)
{
	struct timespec t0;
	int first = 0;

	if (cg->ndirs == 0)
		return 0;
	/* Exited processes leave asynchronously: wait until empty (or give up
	 * and let rmdir report EBUSY with the path). */
	now_ts(&t0);
	/* (v1: the group itself; processes in sub-groups make rmdir retry) */
	for (long us = 50; (cg->version == 2 ? v2_populated(cg) : count_procs(cg->dirs[0], 0, NULL) > 0) &&
			   elapsed_ms(&t0) < timeout_ms;
	     us = us < 20000 ? us * 2 : us)
		sleep_us(us);
	if (cg->fd >= 0) {
		close(cg->fd);
		cg->fd = -1;
	}
	for (int i = cg->ndirs - 1; i >= 0; i--) {
		isol_error e;
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

/* ---------------------------------------------------------------- stats */

static const char *dir_with(const struct isol_cgroup *cg, int c)
{
	if (cg->version == 2)
		return cg->dirs[0];
	for (int i = 0; i < cg->ndirs; i++)
		if (cg->ctrls[i] & (1u << c))
			return cg->dirs[i];
	return NULL;
}

static ssize_t read_in(const char *dir, const char *file, char *buf, size_t len)
{
	char path[ISOL_CG_PATH + 64];
	if (!dir)
		return -ENOENT;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	return isol_read_file(path, buf, len, NULL);
}

/* Sum the Read/Write (v1) or rbytes/wbytes (v2) columns of an io file. */
static void io_bytes(const char *buf, int version, int64_t *rd, int64_t *wr)
{
	*rd = *wr = 0;
	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (version == 2) {
			const char *r = strstr(p, "rbytes="), *w = strstr(p, "wbytes=");
			const char *eol = strchr(p, '\n');
			if (r && (!eol || r < eol))
				*rd += strtoll(r + 7, NULL, 10);
			if (w && (!eol || w < eol))
				*wr += strtoll(w + 7, NULL, 10);
		} else {
			char dev[32], op[16];
			long long v;
			if (sscanf(p, "%31s %15s %lld", dev, op, &v) == 3) {
				if (strcmp(op, "Read") == 0)
					*rd += v;
				else if (strcmp(op, "Write") == 0)
					*wr += v;
			}
		}
	}
}

int64_t isol_cg_oom_kills(const struct isol_cgroup *cg)
{
	char buf[1024];
	const char *d = cg->ndirs ? dir_with(cg, ISOL_CG_MEMORY) : NULL;

	if (!d)
		return -1;
	if (read_in(d, cg->version == 2 ? "memory.events" : "memory.oom_control", buf, sizeof buf) < 0)
		return -1;
	return kv(buf, "oom_kill");
}

int isol_cg_stats(const struct isol_cgroup *cg, struct isol_cg_stats *st, isol_error *err)
{
	char buf[8192];
	const char *d;

	memset(st, 0xff, sizeof *st); /* every field -1 */
	if (cg->ndirs == 0)
		return isol_failx(err, EBADF, "cgroup is deleted");
	if (cg->version == 2) {
		d = cg->dirs[0];
		if (read_in(d, "cpu.stat", buf, sizeof buf) >= 0) {
			st->cpu_usage_us = kv(buf, "usage_usec");
			st->cpu_user_us = kv(buf, "user_usec");
			st->cpu_system_us = kv(buf, "system_usec");
			st->cpu_nr_periods = kv(buf, "nr_periods");
			st->cpu_nr_throttled = kv(buf, "nr_throttled");
			st->cpu_throttled_us = kv(buf, "throttled_usec");
		}
		st->mem_current = read_int(d, "memory.current");
		st->mem_peak = read_int(d, "memory.peak");
		st->mem_max = read_int(d, "memory.max");
		if (read_in(d, "memory.events", buf, sizeof buf) >= 0) {
			st->mem_oom_kills = kv(buf, "oom_kill");
			st->mem_oom_events = kv(buf, "oom");
			st->mem_failcnt = kv(buf, "max");
		}
		st->pids_current = read_int(d, "pids.current");
		st->pids_peak = read_int(d, "pids.peak");
		st->pids_max = read_int(d, "pids.max");
		if (read_in(d, "io.stat", buf, sizeof buf) >= 0)
			io_bytes(buf, 2, &st->io_read_bytes, &st->io_write_bytes);
		return 0;
	}
	if ((d = dir_with(cg, ISOL_CG_CPUACCT))) {
		int64_t u = read_int(d, "cpuacct.usage"), us = read_int(d, "cpuacct.usage_user"),
			sy = read_int(d, "cpuacct.usage_sys");
		st->cpu_usage_us = u >= 0 ? u / 1000 : -1;
		st->cpu_user_us = us >= 0 ? us / 1000 : -1;
		st->cpu_system_us = sy >= 0 ? sy / 1000 : -1;
	}
	if ((d = dir_with(cg, ISOL_CG_CPU)) && read_in(d, "cpu.stat", buf, sizeof buf) >= 0) {
		st->cpu_nr_periods = kv(buf, "nr_periods");
		st->cpu_nr_throttled = kv(buf, "nr_throttled");
		int64_t t = kv(buf, "throttled_time");
		st->cpu_throttled_us = t >= 0 ? t / 1000 : -1;
	}
	if ((d = dir_with(cg, ISOL_CG_MEMORY))) {
		st->mem_current = read_int(d, "memory.usage_in_bytes");
		st->mem_peak = read_int(d, "memory.max_usage_in_bytes");
		st->mem_max = read_int(d, "memory.limit_in_bytes");
		st->mem_failcnt = read_int(d, "memory.failcnt");
		if (read_in(d, "memory.oom_control", buf, sizeof buf) >= 0) {
			st->mem_oom_kills = kv(buf, "oom_kill");
			st->mem_oom_events = st->mem_oom_kills;
		}
	}
	if ((d = dir_with(cg, ISOL_CG_PIDS))) {
		st->pids_current = read_int(d, "pids.current");
		st->pids_peak = read_int(d, "pids.peak");
		st->pids_max = read_int(d, "pids.max");
	}
	if ((d = dir_with(cg, ISOL_CG_IO)) &&
	    read_in(d, "blkio.throttle.io_service_bytes", buf, sizeof buf) >= 0)
		io_bytes(buf, 1, &st->io_read_bytes, &st->io_write_bytes);
	return 0;
}
