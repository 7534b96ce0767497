/* Namespaces (see ns.h): names and CLONE_* flags, unshare, setns by pidfd,
 * uid/gid maps (written, or through newuidmap/newgidmap), time offsets. */
#define _GNU_SOURCE
#include "ns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

const struct isol_ns_kind isol_ns_kinds[ISOL_NS_KINDS + 1] = {
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

int isol_write_id_maps(pid_t pid, const struct isol_idmap *uid, size_t nuid, const struct isol_idmap *gid,
		       size_t ngid, int setgroups_deny, isol_error *err)
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

/* Where Debian and others install the helpers; no PATH lookup: the caller's
 * PATH is not trusted to pick a setuid program. */
static const char *find_helper(const char *name, char *buf, size_t size)
{
	static const char *const dirs[] = { "/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin" };

	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(buf, size, "%s/%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* Run `name pid inside outside count ...` and wait for it. */
static int run_helper(const char *name, pid_t pid, const struct isol_idmap *m, size_t n, isol_error *err)
{
	char path[64], nums[1 + 3 * ISOL_IDMAP_HELPER_MAX][12], out[200];
	char *argv[2 + 3 * ISOL_IDMAP_HELPER_MAX + 1];
	char *envp[] = { NULL };
	posix_spawn_file_actions_t fa;
	isol_cleanup_fd int rd = -1;
	int p[2], st, r;
	size_t k = 0, len = 0;
	ssize_t got;
	pid_t hp;

	if (n > ISOL_IDMAP_HELPER_MAX)
		return isol_failx(err, E2BIG, "%s: %zu ranges, at most %d", name, n, ISOL_IDMAP_HELPER_MAX);
	if (!find_helper(name, path, sizeof path))
		return isol_failx(err, ENOENT,
				  "%s: not found in /usr/bin or /bin (install the uidmap package: "
				  "apt-get install uidmap)",
				  name);
	argv[k++] = (char *)name;
	snprintf(nums[0], sizeof nums[0], "%d", (int)pid);
	argv[k++] = nums[0];
	for (size_t i = 0; i < n; i++) {
		const uint32_t v[3] = { m[i].inside, m[i].outside, m[i].count };
		for (int j = 0; j < 3; j++) {
			char *s = nums[1 + 3 * i + (size_t)j];
			snprintf(s, sizeof nums[0], "%u", v[j]);
			argv[k++] = s;
		}
	}
	argv[k] = NULL;
	if (pipe2(p, O_CLOEXEC) < 0)
		return isol_fail(err, errno, "%s: pipe", name);
	rd = p[0];
	if ((r = posix_spawn_file_actions_init(&fa)) != 0) {
		close(p[1]);
		return isol_fail(err, r, "%s: posix_spawn_file_actions_init", name);
	}
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	r = posix_spawn(&hp, path, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r != 0)
		return isol_fail(err, r, "%s: spawn %s", name, path);
	while (len < sizeof out - 1) {
		got = read(rd, out + len, sizeof out - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	out[len] = '\0';
	while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
		out[--len] = '\0';
	while (waitpid(hp, &st, 0) < 0)
		if (errno != EINTR)
			return isol_fail(err, errno, "%s: waitpid", name);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	return isol_failx(err, EPERM, "%s %d: %s (%s %d)", name, (int)pid, len ? out : "refused the ranges",
			  WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

int isol_id_maps_helper(pid_t pid, const struct isol_idmap *uid, size_t nuid, const struct isol_idmap *gid,
			size_t ngid, isol_error *err)
{
	int r;

	/* gid first: newgidmap decides setgroups, which must precede gid_map */
	if (ngid && (r = run_helper("newgidmap", pid, gid, ngid, err)) < 0)
		return r;
	if (nuid && (r = run_helper("newuidmap", pid, uid, nuid, err)) < 0)
		return r;
	return 0;
}

int isol_set_id_maps(pid_t pid, const struct isol_idmap *uid, size_t nuid, const struct isol_idmap *gid,
		     size_t ngid, int setgroups_deny, int helper, isol_error *err)
{
	if (helper)
		return isol_id_maps_helper(pid, uid, nuid, gid, ngid, err);
	return isol_write_id_maps(pid, uid, nuid, gid, ngid, setgroups_deny, err);
}

int isol_ns_privileged(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return 0;
	return (d[CAP_SYS_ADMIN / 32].effective >> (CAP_SYS_ADMIN % 32)) & 1;
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
