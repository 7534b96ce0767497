#define _GNU_SOURCE
#include "ns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const struct isol_ns_kind isol_ns_kinds[] = {
	{ "mount", "mnt", CLONE_NEWNS },
	{ "uts", "uts", CLONE_NEWUTS },
	{ "ipc", "ipc", CLONE_NEWIPC },
	{ "net", "net", CLONE_NEWNET },
	{ "pid", "pid", CLONE_NEWPID },
	{ "user", "user", CLONE_NEWUSER },
	{ "cgroup", "cgroup", CLONE_NEWCGROUP },
	{ "time", "time", CLONE_NEWTIME },
	{ NULL, NULL, 0 },
};

int isol_ns_flag(const char *name)
{
	for (const struct isol_ns_kind *k = isol_ns_kinds; k->name; k++)
		if (strcmp(name, k->name) == 0 || strcmp(name, k->procname) == 0)
			return k->flag;
	return 0;
}

/* Tiny unsigned formatter: snprintf is fine in the parent, but the child path
 * wants something that is obviously free of locks and allocation. */
static size_t fmt_u64(char *out, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static size_t fmt_i64(char *out, int64_t v)
{
	if (v < 0) {
		out[0] = '-';
		return 1 + fmt_u64(out + 1, (uint64_t)0 - (uint64_t)v);
	}
	return fmt_u64(out, (uint64_t)v);
}

int isol_idmap_format(char *buf, size_t size, const struct isol_idmap *m, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		if (size - len < 3 * 11 + 4)
			return -ENOSPC;
		len += fmt_u64(buf + len, m[i].inside);
		buf[len++] = ' ';
		len += fmt_u64(buf + len, m[i].outside);
		buf[len++] = ' ';
		len += fmt_u64(buf + len, m[i].count);
		buf[len++] = '\n';
	}
	buf[len] = '\0';
	return (int)len;
}

static void proc_path(char *out, pid_t pid, const char *file)
{
	size_t n = 0;

	memcpy(out, "/proc/", 6);
	n = 6;
	if (pid == 0) {
		memcpy(out + n, "self", 4);
		n += 4;
	} else {
		n += fmt_u64(out + n, (uint64_t)pid);
	}
	out[n++] = '/';
	strcpy(out + n, file);
}

int isol_write_id_maps(pid_t pid, const struct isol_idmap *uid, size_t nuid,
		       const struct isol_idmap *gid, size_t ngid, int setgroups_deny,
		       isol_error *err)
{
	char path[64], buf[1024];
	int n, r;

	if (setgroups_deny) {
		proc_path(path, pid, "setgroups");
		r = isol_write_file(path, "deny", 4, err);
		/* Kernels without the file (pre-3.19) have nothing to deny. */
		if (r < 0 && r != -ENOENT)
			return r;
	}
	if (nuid) {
		n = isol_idmap_format(buf, sizeof buf, uid, nuid);
		if (n < 0)
			return isol_failx(err, ENOSPC, "uid_map: too many ranges");
		proc_path(path, pid, "uid_map");
		if ((r = isol_write_file(path, buf, (size_t)n, err)) < 0)
			return r;
	}
	if (ngid) {
		n = isol_idmap_format(buf, sizeof buf, gid, ngid);
		if (n < 0)
			return isol_failx(err, ENOSPC, "gid_map: too many ranges");
		proc_path(path, pid, "gid_map");
		if ((r = isol_write_file(path, buf, (size_t)n, err)) < 0)
			return r;
	}
	return 0;
}

int isol_write_time_offsets(pid_t pid, int64_t monotonic, int64_t boottime, isol_error *err)
{
	char path[64], buf[128];
	size_t n = 0;

	memcpy(buf + n, "monotonic ", 10);
	n += 10;
	n += fmt_i64(buf + n, monotonic);
	memcpy(buf + n, " 0\nboottime ", 12);
	n += 12;
	n += fmt_i64(buf + n, boottime);
	memcpy(buf + n, " 0\n", 3);
	n += 3;
	proc_path(path, pid, "timens_offsets");
	return isol_write_file(path, buf, n, err);
}

static void flags_names(int flags, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (const struct isol_ns_kind *k = isol_ns_kinds; k->name; k++) {
		if (!(flags & k->flag))
			continue;
		int w = snprintf(out + n, size - n, "%s%s", n ? "," : "", k->name);
		if (w < 0 || (size_t)w >= size - n)
			break;
		n += (size_t)w;
	}
}

int isol_unshare(int flags, isol_error *err)
{
	if (unshare(flags) < 0) {
		char names[96];
		int e = errno;
		flags_names(flags, names, sizeof names);
		return isol_fail(err, e, "unshare %s", names);
	}
	return 0;
}

int isol_setns_pidfd(int pidfd, int flags, isol_error *err)
{
	if (setns(pidfd, flags) < 0) {
		char names[96];
		int e = errno;
		flags_names(flags, names, sizeof names);
		return isol_fail(err, e, "setns %s", names);
	}
	return 0;
}

uint64_t isol_ns_inode(pid_t pid, const char *procname, isol_error *err)
{
	char path[80];
	struct stat st;

	if (pid)
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, procname);
	else
		snprintf(path, sizeof path, "/proc/self/ns/%s", procname);
	if (stat(path, &st) < 0) {
		isol_fail(err, errno, "stat %s", path);
		return 0;
	}
	return (uint64_t)st.st_ino;
}
