/* Helpers shared by the cgroup backends: controller names, small-file
 * parsing, path building, delegation, process lists, timing. No policy. */
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
#include <time.h>
#include <unistd.h>

#include "fileio.h"

static const char *const ctrl_v1[ISOL_CG_NCTRL] = {
	"cpu",  "cpuacct", "cpuset", "memory", "devices", "freezer",  "blkio",
	"pids", "hugetlb", "rdma",   "misc",   "net_cls", "net_prio", "perf_event",
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

/* Value of "key N" (or "key=N") in a key/value file body, or -1. */
int64_t isol_cgu_kv(const char *buf, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && (p[kl] == ' ' || p[kl] == '='))
			return strtoll(p + kl + 1, NULL, 10);
	}
	return -1;
}

/* One cgroup interface file (not cgroup.procs nor cgroup.threads) into
 * buf, NUL-terminated; its length or -errno. The kernel shows each such
 * file as a single seq_file record and hands a read with room for it the
 * whole record: one read, no second one to see EOF (a record longer than
 * buf is cut, as a loop would cut it). The stats read a handful of these
 * on every run of a sweep. */
static ssize_t read_iface(int dfd, const char *file, char *buf, size_t len)
{
	ssize_t n;
	int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC | O_NOCTTY), e;

	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	return n;
}

int64_t isol_cgu_read_int(const char *dir, const char *file)
{
	char path[ISOL_CG_PATH + 64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	return isol_cgu_read_int_at(AT_FDCWD, path);
}

int64_t isol_cgu_read_int_at(int dfd, const char *file)
{
	char buf[64];
	if (read_iface(dfd, file, buf, sizeof buf) < 0)
		return -1;
	if (strncmp(buf, "max", 3) == 0)
		return INT64_MAX;
	return strtoll(buf, NULL, 10);
}

/* An O_PATH fd on dir for the isol_cgu_*_at readers (-1 when it cannot be
 * opened: the reads then fail as the files would). */
int isol_cgu_open_dir(const char *dir)
{
	return dir ? open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
}

void isol_cgu_now_ts(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

long isol_cgu_elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	isol_cgu_now_ts(&t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

void isol_cgu_sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

/* Controller bitmask of a list: v1 mount options ("rw,nosuid,cpu,cpuacct",
 * sep ",") or v2 cgroup.controllers ("cpu io memory", sep " \n"). `skip`
 * is the other version's name of a shared bit (v1 has no "io", v2 no "blkio"). */
unsigned isol_cgu_parse_ctrls(const char *list, const char *sep, const char *skip)
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

void isol_cg_init(struct isol_cgroup *cg)
{
	memset(cg, 0, sizeof *cg);
	cg->fd = -1;
	cg->freezer = -1;
	cg->unified = -1;
}

int isol_cgu_mkdir(const struct isol_cg_spec *spec, const char *dir, isol_error *err)
{
	struct stat st;

	if (spec->existing)
		return stat(dir, &st) < 0 ? isol_fail(err, errno, "open existing cgroup %s", dir) : 0;
	return mkdir(dir, 0755) < 0 ? isol_fail(err, errno, "mkdir %s", dir) : 0;
}

void isol_cgu_undo(struct isol_cgroup *cg)
{
	for (int i = cg->ndirs - 1; i >= 0 && !cg->external; i--)
		rmdir(cg->dirs[i]);
	isol_cg_free(cg);
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
	cg->unified = -1;
}

/* base directory (parent) of the new group in hierarchy h. */
int isol_cgu_parent_dir(const struct isol_cg_hier *h, const char *parent, char *out, size_t len)
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
int isol_cgu_chown_group(const char *dir, int version, uid_t uid, gid_t gid, isol_error *err)
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

int isol_cgu_add_dir(struct isol_cgroup *cg, const char *path, unsigned ctrls)
{
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	cg->dirs[cg->ndirs] = p;
	cg->ctrls[cg->ndirs] = ctrls;
	cg->ndirs++;
	return 0;
}

int isol_cgu_wait_frozen(const char *path, const char *key, int want, isol_error *err)
{
	char buf[256];
	struct timespec t0;

	isol_cgu_now_ts(&t0);
	for (long us = 50;; us = us < 20000 ? us * 2 : us) {
		ssize_t n = isol_read_file(path, buf, sizeof buf, NULL);
		if (n < 0)
			return isol_fail(err, (int)-n, "read %s", path);
		if (key) {
			if (isol_cgu_kv(buf, key) == want)
				return 0;
		} else if (want ? strncmp(buf, "FROZEN", 6) == 0 : strncmp(buf, "THAWED", 6) == 0) {
			return 0;
		}
		if (isol_cgu_elapsed_ms(&t0) > 5000)
			return isol_failx(err, ETIMEDOUT, "%s: still not %s after 5 s", path,
					  want ? "frozen" : "thawed");
		isol_cgu_sleep_us(us);
	}
}

/* The core files of a cgroup2 directory, shared by the v2 backend and
 * the unified-tree directory of a v1 group on a hybrid host. */

/* cgroup.freeze, then a wait on cgroup.events "frozen". */
int isol_cgu_freeze_v2(const char *dir, int frozen, isol_error *err)
{
	char path[ISOL_CG_PATH + 32];
	int r;

	snprintf(path, sizeof path, "%s/cgroup.freeze", dir);
	if ((r = isol_write_str(path, frozen ? "1" : "0", err)) < 0)
		return r;
	snprintf(path, sizeof path, "%s/cgroup.events", dir);
	return isol_cgu_wait_frozen(path, "frozen", frozen, err);
}

/* cgroup.kill (5.14+) kills the whole subtree atomically, forks included;
 * -EOPNOTSUPP on older kernels. */
int isol_cgu_kill_v2(const char *dir, isol_error *err)
{
	char path[ISOL_CG_PATH + 32];

	snprintf(path, sizeof path, "%s/cgroup.kill", dir);
	if (access(path, F_OK) < 0)
		return -EOPNOTSUPP;
	return isol_write_str(path, "1", err);
}

/* cgroup.events "populated" (exiting processes and sub-groups included). */
int isol_cgu_populated_v2(const char *dir)
{
	char path[ISOL_CG_PATH + 32], buf[256];

	snprintf(path, sizeof path, "%s/cgroup.events", dir);
	if (read_iface(AT_FDCWD, path, buf, sizeof buf) < 0)
		return 0;
	return isol_cgu_kv(buf, "populated") > 0;
}

/* The one walk over dir/cgroup.procs (and, with recurse, every
 * sub-group's): fn(pid, ud) for each pid, stopping when it returns < 0.
 * Returns the number of pids for which fn returned > 0, or -errno when
 * dir's own list cannot be read. */
int isol_cgu_walk_procs(const char *dir, int recurse, int (*fn)(pid_t pid, void *ud), void *ud,
			isol_error *err)
{
	char path[ISOL_CG_PATH + 300];
	int n = 0, stop = 0;
	FILE *f;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	if (!(f = fopen(path, "re")))
		return isol_fail(err, errno, "open %s", path);
	for (int pid, r; !stop && fscanf(f, "%d", &pid) == 1;) {
		r = fn((pid_t)pid, ud);
		n += r > 0;
		stop = r < 0;
	}
	fclose(f);
	if (stop || !recurse || !(d = opendir(dir)))
		return n;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		int k = isol_cgu_walk_procs(path, 1, fn, ud, NULL);
		if (k > 0)
			n += k;
	}
	closedir(d);
	return n;
}

static int count_one(pid_t pid, void *ud)
{
	(void)pid;
	(void)ud;
	return 1;
}

static int signal_one(pid_t pid, void *ud)
{
	return kill(pid, *(int *)ud) == 0;
}

/* Signal every pid listed in dir/cgroup.procs (and sub-groups). */
int isol_cgu_signal_procs(const char *dir, int sig, isol_error *err)
{
	return isol_cgu_walk_procs(dir, 1, signal_one, &sig, err);
}

/* Processes listed in dir/cgroup.procs and, with recurse, its sub-groups. */
int isol_cgu_count_procs(const char *dir, int recurse, isol_error *err)
{
	return isol_cgu_walk_procs(dir, recurse, count_one, NULL, err);
}

const char *isol_cgu_dir_with(const struct isol_cgroup *cg, int c)
{
	if (cg->version == 2)
		return cg->dirs[0];
	for (int i = 0; i < cg->ndirs; i++)
		if (cg->ctrls[i] & (1u << c))
			return cg->dirs[i];
	return NULL;
}

ssize_t isol_cgu_read_in(const char *dir, const char *file, char *buf, size_t len)
{
	char path[ISOL_CG_PATH + 64];
	if (!dir)
		return -ENOENT;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	return read_iface(AT_FDCWD, path, buf, len);
}

ssize_t isol_cgu_read_in_at(int dfd, const char *file, char *buf, size_t len)
{
	return dfd < 0 ? -EBADF : read_iface(dfd, file, buf, len);
}

/* Sum the Read/Write (v1) or rbytes/wbytes (v2) columns of an io file. */
void isol_cgu_io_bytes(const char *buf, int version, int64_t *rd, int64_t *wr)
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
