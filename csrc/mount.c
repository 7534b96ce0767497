/* Mounts and the new root, as data (see mount.h): propagation, detached
 * mounts, targets resolved beneath the root, pivot_root or chroot, and the
 * hardening of fresh /proc and /sys. */
#define _GNU_SOURCE
#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Everything in this file may run in a cloned child between clone and exec:
 * syscalls and stack buffers only (see mount.h). */

#define STAGING "/tmp"

#ifndef __NR_open_tree_attr
#define __NR_open_tree_attr 467 /* Linux 6.15, the same number on every architecture */
#endif

/* State of one isol_fs_child_setup run, on its stack. */
struct fs_run {
	int no_tree_attr; /* open_tree_attr is missing (ENOSYS): open_tree + mount_setattr */
	int mask;         /* the mask source (see harden), attached under the new root, or -1 */
	/* The last parent directory of a mount target resolved below the new
	 * root (targets come in groups: /etc/passwd, /etc/group, ...): its
	 * O_PATH fd (-1: none) and its path, in the form clean_path accepts. */
	int dir_fd;
	size_t dir_len;
	char dir[4096];
};

static const char *type_name(int type)
{
	switch (type) {
	case ISOL_MNT_TMPFS:
		return "tmpfs";
	case ISOL_MNT_BIND:
		return "bind";
	case ISOL_MNT_PROC:
		return "proc";
	case ISOL_MNT_DEV:
		return "dev";
	case ISOL_MNT_MQUEUE:
		return "mqueue";
	case ISOL_MNT_OVERLAY:
		return "overlay";
	case ISOL_MNT_FS:
		return "fs";
	case ISOL_MNT_REMOUNT:
		return "remount";
	case ISOL_MNT_DIR:
		return "dir";
	case ISOL_MNT_SYMLINK:
		return "symlink";
	case ISOL_MNT_SYSFS:
		return "sysfs";
	}
	return "?";
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* The kernel explains fsconfig failures on the fs context fd ("e tmpfs: Bad
 * value for 'size'"): add that to the message when there is one. */
static int fs_fail(isol_error *err, int fsfd, int e, const char *what, const char *target)
{
	char log[200];
	ssize_t n = fsfd >= 0 ? read(fsfd, log, sizeof log - 1) : -1;

	if (n > 2) {
		while (n > 0 && log[n - 1] == '\n')
			n--;
		log[n] = '\0';
		return isol_fail(err, e, "mount %s on %s (%s)", what, target, log + 2);
	}
	return isol_fail(err, e, "mount %s on %s", what, target);
}

/* A fresh, detached filesystem mount: fsopen + fsconfig + fsmount.
 * Returns the mount fd or -errno. */
static int fs_new(const char *fstype, const char *source, const struct isol_mount_kv *opts, size_t nopts,
		  unsigned attr, const char *what, const char *target, isol_error *err)
{
	int fsfd, mfd, e;

	fsfd = fsopen(fstype, FSOPEN_CLOEXEC);
	if (fsfd < 0) {
		e = errno;
		if (e == ENODEV)
			return isol_failx(
				err, e, "mount %s on %s: filesystem type %s is not supported by this kernel",
				what, target, fstype);
		return isol_fail(err, e, "mount %s on %s: fsopen %s", what, target, fstype);
	}
	if (source && fsconfig(fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
		goto fail;
	for (size_t i = 0; i < nopts; i++) {
		int r = opts[i].value ? fsconfig(fsfd, FSCONFIG_SET_STRING, opts[i].key, opts[i].value, 0)
				      : fsconfig(fsfd, FSCONFIG_SET_FLAG, opts[i].key, NULL, 0);
		if (r < 0)
			goto fail;
	}
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		goto fail;
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attr);
	if (mfd < 0)
		goto fail;
	close(fsfd);
	return mfd;
fail:
	e = errno;
	fs_fail(err, fsfd, e, what, target);
	close(fsfd);
	return -e;
}

static int set_attr(int fd, unsigned set, unsigned clr, int rec, const char *what, const char *target,
		    isol_error *err)
{
	struct mount_attr a;

	if (!set && !clr)
		return 0;
	memset(&a, 0, sizeof a);
	a.attr_set = set;
	a.attr_clr = clr;
	if (mount_setattr(fd, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &a, sizeof a) < 0)
		return isol_fail(err, errno, "%s %s: set mount attributes", what, target);
	return 0;
}

/* open_tree(dfd, path, flags | OPEN_TREE_CLONE) with `attr` set on the
 * copy (recursively with AT_RECURSIVE) before anyone can use it: one
 * open_tree_attr call (Linux 6.15), else open_tree + mount_setattr.
 * Returns the detached mount's fd, or -1 with errno set. */
static int clone_attr(struct fs_run *run, int dfd, const char *path, unsigned flags, unsigned attr)
{
	struct mount_attr a;
	int fd, e;

	flags |= OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
	memset(&a, 0, sizeof a);
	a.attr_set = attr;
	if (attr && !run->no_tree_attr) {
		fd = (int)syscall(__NR_open_tree_attr, dfd, path, flags, &a, sizeof a);
		if (fd >= 0 || errno != ENOSYS)
			return fd;
		run->no_tree_attr = 1;
	}
	fd = open_tree(dfd, path, flags);
	if (fd < 0 || !attr)
		return fd;
	if (mount_setattr(fd, "", AT_EMPTY_PATH | (flags & AT_RECURSIVE), &a, sizeof a) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* A detached copy of the host mount tree at path (open_tree clone) in
 * *out; *out is -1 when an optional source does not exist. */
static int bind_clone(struct fs_run *run, const char *source, int rec, unsigned attr, int optional,
		      int nofollow, const char *target, int *out, isol_error *err)
{
	int fd, e, at = AT_FDCWD;
	const char *path = source;

	*out = -1;
	if (nofollow) {
		/* The whole source path without a symlink (a workspace where a
		 * previous run planted one cannot redirect this bind), resolved
		 * and opened in one step: no window between check and use. */
		struct open_how how;
		memset(&how, 0, sizeof how);
		how.flags = O_PATH | O_CLOEXEC;
		how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
		at = (int)syscall(SYS_openat2, AT_FDCWD, source, &how, sizeof how);
		if (at < 0) {
			e = errno;
			if (optional && e == ENOENT)
				return 0;
			if (e == ELOOP)
				return isol_failx(err, e,
						  "bind %s on %s: the source path contains a symlink "
						  "(refused: nofollow)",
						  source, target);
			if (e == ENOENT)
				return isol_failx(err, e, "bind %s on %s: source does not exist", source,
						  target);
			return isol_fail(err, e, "bind %s on %s: resolve source", source, target);
		}
		path = "";
	}
	fd = clone_attr(run, at, path, (rec ? AT_RECURSIVE : 0) | (nofollow ? AT_EMPTY_PATH : 0), attr);
	e = errno;
	if (at >= 0)
		close(at);
	if (fd < 0) {
		if (optional && e == ENOENT)
			return 0; /* skipped */
		if (e == ENOENT)
			return isol_failx(err, e, "bind %s on %s: source does not exist", source, target);
		return isol_fail(err, e, "bind %s on %s", source, target);
	}
	*out = fd;
	return 0;
}

/* Device nodes bound from the host into a minimal /dev (mknod is not
 * allowed in a user namespace; binding works everywhere). */
static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
#define DEV_NODES (sizeof dev_nodes / sizeof dev_nodes[0])
#define DEV_FDS (DEV_NODES + 3) /* + tmpfs, devpts, shm */

/* Number of prepared fds an op uses. */
static size_t op_nfds(const struct isol_mount_op *op)
{
	switch (op->type) {
	case ISOL_MNT_DEV:
		return DEV_FDS;
	case ISOL_MNT_REMOUNT:
	case ISOL_MNT_DIR:
	case ISOL_MNT_SYMLINK:
		return 0;
	default:
		return 1;
	}
}

/* Phase 2: the detached mount(s) of one op, while host paths mean the host. */
static int prepare(struct fs_run *run, const struct isol_mount_op *op, int *fds, isol_error *err)
{
	const char *t = op->target ? op->target : "/";
	int r;

	switch (op->type) {
	case ISOL_MNT_TMPFS:
		r = fs_new("tmpfs", NULL, op->opts, op->nopts, op->attr_set, "tmpfs", t, err);
		break;
	case ISOL_MNT_PROC:
		r = fs_new("proc", NULL, op->opts, op->nopts,
			   op->attr_set | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, "proc", t,
			   err);
		break;
	case ISOL_MNT_SYSFS:
		r = fs_new("sysfs", NULL, op->opts, op->nopts,
			   MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
			   "sysfs", t, err);
		break;
	case ISOL_MNT_MQUEUE:
		r = fs_new("mqueue", NULL, op->opts, op->nopts,
			   op->attr_set | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, "mqueue",
			   t, err);
		break;
	case ISOL_MNT_OVERLAY:
		r = fs_new("overlay", NULL, op->opts, op->nopts, op->attr_set, "overlay", t, err);
		break;
	case ISOL_MNT_FS:
		r = fs_new(op->fstype, op->source, op->opts, op->nopts, op->attr_set, op->source, t, err);
		break;
	case ISOL_MNT_BIND:
		return bind_clone(run, op->source, op->recursive, op->attr_set, op->optional, op->nofollow, t,
				  &fds[0], err);
	case ISOL_MNT_DEV: {
		static const struct isol_mount_kv dev_opts[] = { { "mode", "0755" }, { "size", "64k" } };
		static const struct isol_mount_kv pts_opts[] = { { "newinstance", NULL },
								 { "ptmxmode", "0666" },
								 { "mode", "0620" } };
		static const struct isol_mount_kv shm_opts[] = { { "mode", "1777" } };
		unsigned a = op->attr_set & MOUNT_ATTR_RDONLY;

		for (size_t i = 0; i < DEV_FDS; i++)
			fds[i] = -1;
		r = fs_new("tmpfs", NULL, dev_opts, 2, a | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, "dev", t,
			   err);
		if (r < 0)
			return r;
		fds[0] = r;
		for (size_t i = 0; i < DEV_NODES; i++) {
			char src[32] = "/dev/";
			strcat(src, dev_nodes[i]);
			r = bind_clone(run, src, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 1, 0, t,
				       &fds[1 + i], err);
			if (r < 0)
				goto dev_fail;
		}
		r = fs_new("devpts", NULL, pts_opts, 3, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, "devpts", t,
			   err);
		if (r < 0)
			goto dev_fail;
		fds[1 + DEV_NODES] = r;
		r = fs_new("tmpfs", NULL, shm_opts, 1, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "shm", t, err);
		if (r < 0)
			goto dev_fail;
		fds[2 + DEV_NODES] = r;
		return 0;
	dev_fail:
		close_all(fds, DEV_FDS);
		return r;
	}
	default:
		return 0;
	}
	if (r < 0)
		return r;
	fds[0] = r;
	return 0;
}

/* Why a component could not be used as a directory (for the message). */
static int component_fail(int dirfd, const char *comp, const char *path, int e, isol_error *err)
{
	struct stat st;

	if (fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			return isol_failx(err, ELOOP,
					  "mount target %s: %s is a symlink (refused: targets are resolved "
					  "inside the new root without following symlinks)",
					  path, comp);
		if (!S_ISDIR(st.st_mode))
			return isol_failx(err, ENOTDIR, "mount target %s: %s is not a directory", path, comp);
	}
	if (e == ENOENT)
		return isol_failx(err, e, "mount target %s: %s does not exist", path, comp);
	return isol_fail(err, e, "mount target %s", path);
}

/* Resolve `path` (absolute) below `rootfd` to an O_PATH fd. With `strict`,
 * a symlink or ".." anywhere is refused: a link planted in the new root
 * cannot redirect a mount out of it. Missing directories are created
 * (mode); the last one is created as an empty file when `file`.
 * Fast path: one openat2(RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH) when the
 * target exists; else a walk, one component at a time. Messages name
 * `what` (the mount target `path` is part of). */
static int resolve(int rootfd, const char *path, const char *what, int strict, int create, int file,
		   unsigned mode, isol_error *err)
{
	struct open_how how;
	const char *p = path;
	int cur = rootfd, next, fresh = 0, fd;
	char comp[256];

	while (*p == '/')
		p++;
	memset(&how, 0, sizeof how);
	how.flags = O_PATH | O_CLOEXEC;
	how.resolve = strict ? RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH : 0;
	fd = (int)syscall(SYS_openat2, rootfd, *p ? p : ".", &how, sizeof how);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT && errno != ELOOP && errno != ENOTDIR && errno != ENOSYS && errno != EXDEV &&
	    errno != EPERM)
		return isol_fail(err, errno, "mount target %s", what);

	while (*p) {
		const char *s;
		size_t len;
		int last, dirflag;

		s = strchr(p, '/');
		len = s ? (size_t)(s - p) : strlen(p);
		if (len >= sizeof comp) {
			fd = isol_failx(err, ENAMETOOLONG, "mount target %s: component too long", what);
			goto fail;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		p += len;
		while (*p == '/')
			p++;
		last = *p == '\0';
		if (strcmp(comp, ".") == 0)
			continue;
		if (strict && strcmp(comp, "..") == 0) {
			fd = isol_failx(err, EINVAL, "mount target %s: \"..\" is not allowed", what);
			goto fail;
		}
		/* O_DIRECTORY|O_NOFOLLOW: a symlink (or a file) fails here and
		 * component_fail says which. A file is fine only as the last. */
		dirflag = last && file ? 0 : O_DIRECTORY;
		next = fresh ? -1
			     : openat(cur, comp, O_PATH | O_CLOEXEC | dirflag | (strict ? O_NOFOLLOW : 0));
		if (next < 0 && (fresh || errno == ENOENT) && create) {
			if (last && file) {
				int f = openat(cur, comp,
					       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (f < 0 && errno != EEXIST) {
					fd = isol_fail(err, errno, "create mount target %s", what);
					goto fail;
				}
				if (f >= 0)
					close(f);
			} else if (mkdirat(cur, comp, mode ? mode : 0755) < 0) {
				if (errno != EEXIST) {
					fd = isol_fail(err, errno, "mkdir %s (for %s)", comp, what);
					goto fail;
				}
			} else {
				fresh = 1; /* everything below is new: no lookups needed */
			}
			next = openat(cur, comp, O_PATH | O_CLOEXEC | dirflag | (strict ? O_NOFOLLOW : 0));
		}
		if (next < 0) {
			fd = component_fail(cur, comp, what, errno, err);
			goto fail;
		}
		if (cur != rootfd)
			close(cur);
		cur = next;
		if (last && file && strict) {
			struct stat st;
			if (fstat(cur, &st) == 0 && S_ISLNK(st.st_mode)) {
				close(cur);
				return isol_failx(
					err, ELOOP,
					"mount target %s: %s is a symlink (refused: targets are resolved "
					"inside the new root without following symlinks)",
					what, comp);
			}
		}
	}
	if (cur == rootfd) {
		cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
		if (cur < 0)
			return isol_fail(err, errno, "dup");
	}
	return cur;
fail:
	if (cur != rootfd)
		close(cur);
	return fd;
}

/* A path in one spelling only: absolute, no empty, "." or ".." component
 * (so no trailing slash), not "/" itself. Only such paths use and fill
 * the parent cache; anything else takes resolve()'s walk. */
static int clean_path(const char *p)
{
	if (p[0] != '/' || p[1] == '\0')
		return 0;
	for (const char *c = p + 1;;) {
		const char *e = strchrnul(c, '/');
		size_t n = (size_t)(e - c);
		if (n == 0 || (c[0] == '.' && (n == 1 || (n == 2 && c[1] == '.'))))
			return 0;
		if (!*e)
			return 1;
		c = e + 1;
	}
}

static void dir_forget(struct fs_run *run)
{
	if (run->dir_fd >= 0)
		close(run->dir_fd);
	run->dir_fd = -1;
	run->dir_len = 0;
}

/* A mount was attached on `target`: a cached directory at or below it now
 * lies under that mount (forgotten: the next lookup goes through it). */
static void dir_covered(struct fs_run *run, const char *target)
{
	size_t n = strlen(target);

	if (run->dir_fd < 0)
		return;
	if (!clean_path(target) || (n <= run->dir_len && memcmp(run->dir, target, n) == 0 &&
				    (run->dir[n] == '/' || run->dir[n] == '\0')))
		dir_forget(run);
}

/* The directory that holds the last component of the mount target `path`
 * below rootfd (missing directories created with mode), and that component
 * in *last. *owned: the caller closes the fd; else it is rootfd or the
 * cached directory's (a clean path in a new root: only a target in another
 * directory than the previous one costs a lookup). */
static int parent_of(struct fs_run *run, int rootfd, const char *path, int strict, unsigned mode,
		     const char **last, int *owned, isol_error *err)
{
	const char *slash = strrchr(path, '/');
	size_t plen = slash ? (size_t)(slash - path) : 0;
	char buf[sizeof run->dir];
	int fd;

	*last = slash ? slash + 1 : path;
	*owned = 0;
	if (plen >= sizeof buf)
		return isol_failx(err, ENAMETOOLONG, "mount target %s: path too long", path);
	if (strict && clean_path(path)) {
		if (plen == 0)
			return rootfd;
		if (run->dir_fd >= 0 && run->dir_len == plen && memcmp(run->dir, path, plen) == 0)
			return run->dir_fd;
	}
	memcpy(buf, path, plen);
	buf[plen] = '\0';
	fd = resolve(rootfd, buf, path, strict, 1, 0, mode, err);
	if (fd < 0 || !strict || !clean_path(path)) {
		*owned = fd >= 0;
		return fd;
	}
	dir_forget(run);
	run->dir_fd = fd;
	memcpy(run->dir, buf, plen + 1);
	run->dir_len = plen;
	return fd;
}

/* The last component `name` of the mount target `path`, in the directory
 * dirfd, created if missing: a file (O_CREAT | O_EXCL: a new regular file,
 * never a symlink) or a directory of mode; an existing one is opened
 * without following a symlink. Returns an fd for move_mount, or -errno. */
static int open_last(int dirfd, const char *name, int file, unsigned mode, const char *path, isol_error *err)
{
	struct stat st;
	int fd;

	if (file) {
		/* read-only: a file open for writing would keep the root from
		 * being made read-only at the end (EBUSY) */
		fd = openat(dirfd, name, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return isol_fail(err, errno, "create mount target %s", path);
		fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return component_fail(dirfd, name, path, errno, err);
		if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
			close(fd);
			return isol_failx(err, ELOOP,
					  "mount target %s: %s is a symlink (refused: targets are resolved "
					  "inside the new root without following symlinks)",
					  path, name);
		}
		return fd;
	}
	if (mkdirat(dirfd, name, mode ? mode : 0755) < 0 && errno != EEXIST)
		return isol_fail(err, errno, "mkdir %s (for %s)", name, path);
	fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return component_fail(dirfd, name, path, errno, err);
	return fd;
}

/* A mount target below the new root (strict, clean path): its directory,
 * then the last component (see parent_of, open_last); created as needed.
 * Anything else: resolve(). */
static int target_fd(struct fs_run *run, int rootfd, const char *path, int strict, int file, unsigned mode,
		     isol_error *err)
{
	const char *last;
	int dfd, fd, owned;

	if (!strict || !clean_path(path))
		return resolve(rootfd, path, path, strict, 1, file, mode, err);
	dfd = parent_of(run, rootfd, path, strict, mode, &last, &owned, err);
	if (dfd < 0)
		return dfd;
	fd = open_last(dfd, last, file, mode, path, err);
	if (owned)
		close(dfd);
	return fd;
}

static int attach(int mfd, int tfd, const char *what, const char *target, isol_error *err)
{
	if (move_mount(mfd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return isol_fail(err, errno, "mount %s on %s", what, target);
	return 0;
}

static int is_dir_fd(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

/* "target/name" in buf (for messages; target alone when it does not fit). */
static const char *sub_path(char *buf, size_t size, const char *target, size_t tl, const char *name)
{
	size_t nl = strlen(name);

	if (tl + 1 + nl >= size)
		return target;
	memcpy(buf, target, tl);
	buf[tl] = '/';
	memcpy(buf + tl + 1, name, nl + 1);
	return buf;
}

/* Populate an attached minimal /dev through its mount fd (a fresh tmpfs:
 * every name is created there). */
static int dev_fill(int *fds, const char *target, isol_error *err)
{
	char path[64];
	size_t tl = strlen(target);
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
		{ "ptmx", "pts/ptmx" },
	};
	int dev = fds[0], t, r;

	for (size_t i = 0; i < DEV_NODES; i++) {
		if (fds[1 + i] < 0)
			continue; /* not on this host */
		t = open_last(dev, dev_nodes[i], 1, 0, sub_path(path, sizeof path, target, tl, dev_nodes[i]),
			      err);
		if (t < 0)
			return t;
		r = attach(fds[1 + i], t, dev_nodes[i], target, err);
		if (r < 0) {
			close(t);
			return r;
		}
		close(t);
	}
	for (int k = 0; k < 2; k++) {
		const char *name = k == 0 ? "pts" : "shm";
		t = open_last(dev, name, 0, k == 0 ? 0755 : 01777,
			      sub_path(path, sizeof path, target, tl, name), err);
		if (t < 0)
			return t;
		r = attach(fds[1 + DEV_NODES + k], t, name, target, err);
		if (r < 0) {
			close(t);
			return r;
		}
		close(t);
	}
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
		if (symlinkat(links[i][1], dev, links[i][0]) < 0 && errno != EEXIST)
			return isol_fail(err, errno, "symlink %s/%s", target, links[i][0]);
	return 0;
}

/* The source of masks: a tiny tmpfs holding an empty file "f" and an
 * empty directory "d", both read-only (runc covers files with /dev/null
 * and directories with a read-only tmpfs; an empty file needs no device
 * node, which a nodev mount could not use anyway). */
static int mask_source(const char *target, isol_error *err)
{
	static const struct isol_mount_kv o[] = { { "mode", "0555" }, { "size", "4k" } };
	int m = fs_new("tmpfs", NULL, o, 2, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, "mask",
		       target, err);
	int f;

	if (m < 0)
		return m;
	f = openat(m, "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (f < 0 || mkdirat(m, "d", 0555) < 0) {
		int e = errno;
		if (f >= 0)
			close(f);
		close(m);
		return isol_fail(err, e, "mask %s: empty file", target);
	}
	close(f);
	return m;
}

/* Cover dir/name (a path of the fresh mount at dirfd): with a read-only
 * bind of itself when src < 0, else with src's empty file or directory.
 * A name this kernel does not have is skipped. */
static int cover(struct fs_run *run, int dirfd, const char *name, int src, const char *target,
		 isol_error *err)
{
	const unsigned ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	struct stat st;
	int m, t, r = 0;

	t = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (t < 0)
		return errno == ENOENT ? 0 : isol_fail(err, errno, "harden %s/%s", target, name);
	if (src < 0)
		m = clone_attr(run, t, "", AT_EMPTY_PATH, ro);
	else if (fstat(t, &st) < 0)
		m = -1;
	else
		m = clone_attr(run, src, S_ISDIR(st.st_mode) ? "d" : "f", 0, ro);
	if (m < 0 || move_mount(m, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		r = isol_fail(err, errno, "harden %s/%s", target, name);
	if (m >= 0)
		close(m);
	close(t);
	return r;
}

/* "/proc/self/fd/N" into out (40 bytes), without stdio (it runs between
 * clone and exec). */
static void fd_path(char *out, int fd)
{
	static const char pre[] = "/proc/self/fd/";
	char digits[12];
	int n = 0;
	unsigned v = (unsigned)fd;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < (int)sizeof digits);
	memcpy(out, pre, sizeof pre - 1);
	for (int i = 0; i < n; i++)
		out[sizeof pre - 1 + (size_t)i] = digits[n - 1 - i];
	out[sizeof pre - 1 + (size_t)n] = '\0';
}

/* The standard hardening of a fresh /proc or /sys at mount fd `mnt`
 * (attached at `target`). Kernels before 6.15 refuse to clone from a
 * detached mount, so the mask source must be attached somewhere: with
 * pivot_root it was attached once on the staging point, under the new
 * root (run->mask), and leaves with the old root; otherwise it is attached
 * for the time of the covers on the fresh mount's own "fs" directory (proc
 * and sysfs both have one; it is covered read-only after), then detached
 * again. */
static int harden(struct fs_run *run, int mnt, int type, const char *target, isol_error *err)
{
	static const char *const proc_ro[] = { ISOL_PROC_READONLY };
	static const char *const proc_masked[] = { ISOL_PROC_MASKED };
	static const char *const sys_masked[] = { "firmware" };
	const char *const *masked = type == ISOL_MNT_PROC ? proc_masked : sys_masked;
	size_t nmasked = type == ISOL_MNT_PROC ? sizeof proc_masked / sizeof *proc_masked : 1;
	int own = -1, hold = -1, srcdir = -1, src = run->mask, r = 0;
	char self[40];

	if (src < 0) {
		own = mask_source(target, err);
		if (own < 0)
			return own;
		hold = openat(mnt, "fs", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (hold < 0 ||
		    move_mount(own, "", hold, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
			r = isol_fail(err, errno, "harden %s: attach the mask source", target);
			goto out;
		}
		srcdir = openat(mnt, "fs", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (srcdir < 0) {
			/* (the child dies with this error: its mount namespace goes) */
			r = isol_fail(err, errno, "harden %s: mask source", target);
			goto out;
		}
		src = srcdir;
	}
	for (size_t i = 0; i < nmasked && r == 0; i++)
		r = cover(run, mnt, masked[i], src, target, err);
	if (srcdir >= 0) {
		/* the mask source leaves; the covers made from it stay */
		fd_path(self, srcdir);
		if (umount2(self, MNT_DETACH) < 0 && r == 0)
			r = isol_fail(err, errno, "harden %s: detach the mask source", target);
	}
	if (r == 0 && type == ISOL_MNT_PROC)
		for (size_t i = 0; i < sizeof proc_ro / sizeof *proc_ro && r == 0; i++)
			r = cover(run, mnt, proc_ro[i], -1, target, err);
out:
	if (srcdir >= 0)
		close(srcdir);
	if (hold >= 0)
		close(hold);
	if (own >= 0)
		close(own);
	return r;
}

/* Does an op of the plan harden a fresh /proc or /sys (so needs masks)? */
static int needs_mask(const struct isol_fs_plan *fs)
{
	for (size_t i = 0; i < fs->nops; i++)
		if ((fs->ops[i].type == ISOL_MNT_PROC && !fs->ops[i].unmasked) ||
		    fs->ops[i].type == ISOL_MNT_SYSFS)
			return 1;
	return 0;
}

/* A bind source replaced by a rename after phase 2 cloned it (as when
 * /etc/resolv.conf or /etc/passwd is rewritten at that moment): the copy's
 * dentry is unlinked and the kernel refuses to mount it (ENOENT). Clone the
 * path again and attach that, a few times. Only with a new root: then no
 * op has mounted anything on a host path since phase 2, so the path means
 * what it meant there, except below the staging point, where the root now
 * is (such a source keeps the error). An optional source gone meanwhile is
 * skipped. */
static int rebind(struct fs_run *run, const struct isol_mount_op *op, int *fds, int tfd, isol_error *err)
{
	size_t sl = strlen(STAGING);
	int r = -ENOENT, fd;

	if (strncmp(op->source, STAGING, sl) == 0 && (op->source[sl] == '/' || op->source[sl] == '\0'))
		return r;
	for (int i = 0; i < 3 && r == -ENOENT; i++) {
		r = bind_clone(run, op->source, op->recursive, op->attr_set, op->optional, op->nofollow,
			       op->target, &fd, err);
		if (r < 0)
			return r;
		if (fd < 0)
			return 0;
		close(fds[0]);
		fds[0] = fd;
		r = attach(fds[0], tfd, op->source, op->target, err);
	}
	return r;
}

/* Phase 4 for one op: resolve its target inside the root and attach. */
static int apply(struct fs_run *run, const struct isol_mount_op *op, int *fds, int rootfd, int strict,
		 isol_error *err)
{
	const char *t = op->target;
	int tfd, r = 0, file = 0;

	switch (op->type) {
	case ISOL_MNT_SYMLINK: {
		/* parent must exist (created as needed), the link itself is new */
		const char *last;
		int owned;
		tfd = parent_of(run, rootfd, t, strict, 0755, &last, &owned, err);
		if (tfd < 0)
			return tfd;
		if (symlinkat(op->source, tfd, last) < 0 && errno != EEXIST)
			r = isol_fail(err, errno, "symlink %s -> %s", t, op->source);
		if (owned)
			close(tfd);
		return r;
	}
	case ISOL_MNT_DIR:
		tfd = target_fd(run, rootfd, t, strict, 0, op->mode, err);
		if (tfd < 0)
			return tfd;
		close(tfd);
		return 0;
	case ISOL_MNT_REMOUNT:
		tfd = resolve(rootfd, t, t, strict, 0, 0, 0, err);
		if (tfd < 0)
			return tfd;
		r = set_attr(tfd, op->attr_set, op->attr_clr, op->recursive, "remount", t, err);
		close(tfd);
		return r;
	case ISOL_MNT_BIND:
		if (fds[0] < 0)
			return 0; /* optional source missing */
		file = !is_dir_fd(fds[0]);
		break;
	default:
		break;
	}
	tfd = target_fd(run, rootfd, t, strict, file, op->mode, err);
	if (tfd < 0)
		return tfd;
	r = attach(fds[0], tfd, op->type == ISOL_MNT_BIND ? op->source : type_name(op->type), t, err);
	if (r == -ENOENT && op->type == ISOL_MNT_BIND && strict)
		r = rebind(run, op, fds, tfd, err);
	close(tfd);
	dir_covered(run, t);
	if (r == 0 && op->type == ISOL_MNT_DEV)
		r = dev_fill(fds, t, err);
	if (r == 0 && ((op->type == ISOL_MNT_PROC && !op->unmasked) || op->type == ISOL_MNT_SYSFS))
		r = harden(run, fds[0], op->type, t, err);
	return r;
}

int isol_fs_child_setup(const struct isol_fs_plan *fs, isol_error *err)
{
	int fds[ISOL_FS_MAX_FDS];
	size_t nfds = 0, start[ISOL_FS_MAX_OPS];
	int rootmnt = -1, rootfd = -1, r = 0, strict;
	struct fs_run run = { .no_tree_attr = 0, .mask = -1, .dir_fd = -1 };

	if (fs->nops > ISOL_FS_MAX_OPS)
		return isol_failx(err, E2BIG, "filesystem plan: more than %d steps", ISOL_FS_MAX_OPS);

	/* 1. Propagation first, so nothing below can leak to the host. */
	if (fs->propagation && mount(NULL, "/", NULL, MS_REC | fs->propagation, NULL) < 0)
		return isol_fail(err, errno, "make / %s",
				 fs->propagation == MS_PRIVATE ? "private"
				 : fs->propagation == MS_SLAVE ? "slave"
							       : "shared");

	/* 2. Every mount, detached, while host paths still mean the host. */
	for (size_t i = 0; i < fs->nops; i++) {
		size_t n = op_nfds(&fs->ops[i]);
		start[i] = nfds;
		if (nfds + n > ISOL_FS_MAX_FDS) {
			r = isol_failx(err, E2BIG, "filesystem plan: too many mounts");
			goto out;
		}
		for (size_t k = 0; k < n; k++)
			fds[nfds + k] = -1;
		nfds += n;
		r = prepare(&run, &fs->ops[i], fds + start[i], err);
		if (r < 0)
			goto out;
	}
	if (fs->root_mode != ISOL_ROOT_NONE) {
		static const struct isol_mount_kv root_opts[] = { { "mode", "0755" } };
		static const struct isol_mount_op tmpfs_root = {
			.type = ISOL_MNT_TMPFS, .target = "/", .opts = root_opts, .nopts = 1
		};
		const struct isol_mount_op *ro = fs->root ? fs->root : &tmpfs_root;
		int one[1] = { -1 };

		if (ro->type != ISOL_MNT_TMPFS && ro->type != ISOL_MNT_BIND && ro->type != ISOL_MNT_FS) {
			r = isol_failx(err, EINVAL, "root: cannot be made from a %s mount",
				       type_name(ro->type));
			goto out;
		}
		/* The root is attached on /tmp before pivot_root: with shared
		 * propagation that mount (and everything below) would appear on
		 * the host. */
		if (fs->propagation != MS_PRIVATE && fs->propagation != MS_SLAVE) {
			r = isol_failx(err, EINVAL, "root: needs private or slave propagation");
			goto out;
		}
		r = prepare(&run, ro, one, err);
		if (r < 0)
			goto out;
		if (one[0] < 0) {
			r = isol_failx(err, ENOENT, "root %s: does not exist", ro->source);
			goto out;
		}
		rootmnt = one[0];
		if (ro->type == ISOL_MNT_BIND && !is_dir_fd(rootmnt)) {
			r = isol_failx(err, ENOTDIR, "root %s: not a directory", ro->source);
			goto out;
		}
		/* 3. Attach the root on the staging point; with pivot_root, the
		 * mask source for /proc and /sys goes there first, under the
		 * root: the old root takes it away (no umount of its own). */
		if (fs->root_mode == ISOL_ROOT_PIVOT && needs_mask(fs)) {
			run.mask = mask_source(STAGING, err);
			if (run.mask < 0) {
				r = run.mask;
				run.mask = -1;
				goto out;
			}
			if (move_mount(run.mask, "", AT_FDCWD, STAGING, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
				r = isol_fail(err, errno, "attach the mask source on %s", STAGING);
				goto out;
			}
		}
		if (move_mount(rootmnt, "", AT_FDCWD, STAGING, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
			r = isol_fail(err, errno, "mount the new root on %s", STAGING);
			goto out;
		}
		rootfd = rootmnt;
		strict = 1;
	} else {
		rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0) {
			r = isol_fail(err, errno, "open /");
			goto out;
		}
		strict = 0;
	}

	/* 4. Attach, in order (a later mount may land inside an earlier one). */
	for (size_t i = 0; i < fs->nops; i++) {
		r = apply(&run, &fs->ops[i], fds + start[i], rootfd, strict, err);
		if (r < 0)
			goto out;
		close_all(fds + start[i], op_nfds(&fs->ops[i]));
	}

	/* 5. The root change. */
	if (fs->root_mode != ISOL_ROOT_NONE) {
		if (fs->root_attr && (r = set_attr(rootmnt, fs->root_attr, 0, 0, "root", "/", err)) < 0)
			goto out;
		if (fchdir(rootmnt) < 0) {
			r = isol_fail(err, errno, "chdir into the new root");
			goto out;
		}
		if (fs->root_mode == ISOL_ROOT_PIVOT) {
			/* pivot_root(".", "."): the old root ends up stacked on the
			 * new one and is then detached: no path to the host remains. */
			if (syscall(SYS_pivot_root, ".", ".") < 0) {
				r = isol_fail(err, errno, "pivot_root");
				goto out;
			}
			if (umount2(".", MNT_DETACH) < 0) {
				r = isol_fail(err, errno, "detach the old root");
				goto out;
			}
		} else if (chroot(".") < 0) {
			r = isol_fail(err, errno, "chroot");
			goto out;
		}
		if (chdir("/") < 0) {
			r = isol_fail(err, errno, "chdir /");
			goto out;
		}
	}
out:
	dir_forget(&run);
	if (run.mask >= 0)
		close(run.mask);
	close_all(fds, nfds);
	if (rootfd >= 0)
		close(rootfd);
	else if (rootmnt >= 0)
		close(rootmnt);
	return r < 0 ? r : 0;
}

int isol_fs_has_new_root(const struct isol_fs_plan *fs)
{
	return fs && fs->root_mode != ISOL_ROOT_NONE;
}

int isol_umount(const char *target, int lazy, isol_error *err)
{
	if (umount2(target, lazy ? MNT_DETACH : 0) < 0)
		return isol_fail(err, errno, "umount %s", target);
	return 0;
}

int isol_mount_propagation(const char *path, unsigned long mode, int rec, isol_error *err)
{
	if (mount(NULL, path, NULL, (rec ? MS_REC : 0) | mode, NULL) < 0)
		return isol_fail(err, errno, "make %s %s", path,
				 mode == MS_PRIVATE  ? "private"
				 : mode == MS_SLAVE  ? "slave"
				 : mode == MS_SHARED ? "shared"
						     : "unbindable");
	return 0;
}
