/* Filesystem images (see image.h): sparse files, mkfs, loop devices,
 * mounting, FITRIM. Checkpoint and restore are in image_ckpt.c. */
#define _GNU_SOURCE
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------ create */

static const char *const *mkfs_defaults(const char *fstype)
{
	static const char *const ext[] = { "-F", "-q", NULL };
	static const char *const force_q[] = { "-f", "-q", NULL };
	static const char *const none[] = { NULL };

	if (strncmp(fstype, "ext", 3) == 0)
		return ext;
	if (strcmp(fstype, "xfs") == 0 || strcmp(fstype, "btrfs") == 0)
		return force_q;
	return none;
}

/* Run argv with stderr+stdout into a pipe; keep the tail of its output.
 * Returns 0 (*status filled) or -errno with err filled ("run mkfs.ext4: ..."). */
static int run_capture(char *const argv[], char *out, size_t outlen, int *status, isol_error *err)
{
	posix_spawn_file_actions_t fa;
	int p[2], r;
	pid_t pid;
	size_t used = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return isol_fail(err, errno, "pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r != 0) {
		close(p[0]);
		return isol_fail(err, r, "run %s", argv[0]);
	}
	out[0] = '\0';
	for (;;) {
		char buf[1024];
		ssize_t n = read(p[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* keep the last outlen-1 bytes */
		if ((size_t)n >= outlen - 1) {
			memcpy(out, buf + n - (outlen - 1), outlen - 1);
			used = outlen - 1;
		} else {
			if (used + (size_t)n > outlen - 1) {
				size_t drop = used + (size_t)n - (outlen - 1);
				memmove(out, out + drop, used - drop);
				used -= drop;
			}
			memcpy(out + used, buf, (size_t)n);
			used += (size_t)n;
		}
		out[used] = '\0';
	}
	close(p[0]);
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return isol_fail(err, errno, "wait %s", argv[0]);
	return 0;
}

int isol_image_create(const char *path, uint64_t size, const char *fstype, const char *const *extra,
		      size_t nextra, isol_error *err)
{
	char prog[64], out[400];
	const char *argv[48];
	const char *const *defs = mkfs_defaults(fstype);
	size_t n = 0;
	int fd, r, status = 0;

	if (!*fstype || strlen(fstype) > 32 || strchr(fstype, '/'))
		return isol_failx(err, EINVAL, "image %s: bad filesystem type \"%s\"", path, fstype);
	if (nextra > 32)
		return isol_failx(err, E2BIG, "image %s: too many mkfs arguments", path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return isol_fail(err, errno, "create image %s", path);
	if (ftruncate(fd, (off_t)size) < 0) {
		r = isol_fail(err, errno, "image %s: set size %llu", path, (unsigned long long)size);
		close(fd);
		goto fail;
	}
	close(fd);

	snprintf(prog, sizeof prog, "mkfs.%s", fstype);
	argv[n++] = prog;
	for (; *defs; defs++)
		argv[n++] = *defs;
	for (size_t i = 0; i < nextra; i++)
		argv[n++] = extra[i];
	argv[n++] = path;
	argv[n] = NULL;
	r = run_capture((char *const *)argv, out, sizeof out, &status, err);
	if (r == -ENOENT) {
		r = isol_failx(err, ENOENT,
			       "%s: not installed (no such program in PATH; install the "
			       "package that provides it, e.g. e2fsprogs for ext4, xfsprogs for xfs)",
			       prog);
		goto fail;
	}
	if (r < 0)
		goto fail;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		size_t len = strlen(out);
		while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
			out[--len] = '\0';
		char *last = strrchr(out, '\n');
		r = isol_failx(err, EIO, "%s %s failed (%s %d)%s%s", prog, path,
			       WIFEXITED(status) ? "exit" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), len ? ": " : "",
			       last ? last + 1 : out);
		goto fail;
	}
	return 0;
fail:
	unlink(path);
	return r;
}

int isol_image_detect(const char *path, char *fstype, size_t len, isol_error *err)
{
	unsigned char sb[0x10048];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	const char *t = NULL;

	if (fd < 0)
		return isol_fail(err, errno, "open image %s", path);
	n = pread(fd, sb, sizeof sb, 0);
	close(fd);
	if (n < 0)
		return isol_fail(err, errno, "read image %s", path);
	if (n >= 1082 && sb[1080] == 0x53 && sb[1081] == 0xEF)
		t = "ext4";
	else if (n >= 4 && memcmp(sb, "XFSB", 4) == 0)
		t = "xfs";
	else if (n >= 0x10048 && memcmp(sb + 0x10040, "_BHRfS_M", 8) == 0)
		t = "btrfs";
	else if (n >= 512 && sb[510] == 0x55 && sb[511] == 0xAA &&
		 (memcmp(sb + 82, "FAT32", 5) == 0 || memcmp(sb + 54, "FAT", 3) == 0))
		t = "vfat";
	if (!t)
		return isol_failx(err, EINVAL, "image %s: unknown filesystem (give fs=...)", path);
	snprintf(fstype, len, "%s", t);
	return 0;
}

/* ------------------------------------------------------------ loop */

int isol_loop_attach(const char *path, int readonly, char *dev, size_t devlen, isol_error *err)
{
	int ctl, file, lfd = -1, e = 0;
	struct loop_config cfg;

	file = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (file < 0)
		return isol_fail(err, errno, "open image %s", path);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		e = errno;
		close(file);
		return isol_fail(err, e, "open /dev/loop-control");
	}
	memset(&cfg, 0, sizeof cfg);
	cfg.fd = (unsigned)file;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (readonly ? LO_FLAGS_READ_ONLY : 0);
	snprintf((char *)cfg.info.lo_file_name, sizeof cfg.info.lo_file_name, "%s", path);

	/* Another process may take the same free device between GET_FREE and
	 * CONFIGURE: then CONFIGURE says EBUSY and we ask again. */
	for (int tries = 0; tries < 64; tries++) {
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0) {
			e = errno;
			isol_fail(err, e, "loop-control: get a free loop device");
			break;
		}
		snprintf(dev, devlen, "/dev/loop%d", nr);
		lfd = open(dev, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (lfd < 0 && errno == ENOENT) {
			/* no udev/devtmpfs node yet: make it */
			if (mknod(dev, S_IFBLK | 0660, makedev(7, (unsigned)nr)) == 0 || errno == EEXIST)
				lfd = open(dev, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		}
		if (lfd < 0) {
			e = errno;
			isol_fail(err, e, "open %s", dev);
			break;
		}
		if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
			e = 0;
			break;
		}
		e = errno;
		close(lfd);
		lfd = -1;
		if (e != EBUSY) {
			isol_fail(err, e, "attach %s to %s", path, dev);
			break;
		}
		isol_fail(err, e, "attach %s to a loop device", path);
	}
	close(ctl);
	close(file);
	if (lfd < 0)
		return -(e ? e : EBUSY);
	return lfd;
}

/* ------------------------------------------------------------ mount */

static int mkdir_p(const char *path, isol_error *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof buf)
		return isol_failx(err, ENAMETOOLONG, "mkdir %s: path too long", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return isol_fail(err, errno, "mkdir %s", buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return isol_fail(err, errno, "mkdir %s", buf);
	return 0;
}

int isol_image_mount(const char *dev, const char *fstype, const char *target, int readonly, int sync,
		     long uid, long gid, isol_error *err)
{
	unsigned long flags = (readonly ? MS_RDONLY : 0) | (sync ? MS_SYNCHRONOUS : 0);
	int r = mkdir_p(target, err);

	if (r < 0)
		return r;
	if (mount(dev, target, fstype, flags, NULL) < 0)
		return isol_fail(err, errno, "mount %s (%s) on %s", dev, fstype, target);
	if ((uid >= 0 || gid >= 0) && chown(target, (uid_t)uid, (gid_t)gid) < 0) {
		r = isol_fail(err, errno, "chown %s", target);
		umount2(target, MNT_DETACH);
		return r;
	}
	return 0;
}

/* A detached mount of dev: fd on its root directory (O_RDONLY), or -errno.
 * Closing it (and mfd) unmounts; it never appears in any mount table. */
static int detached_root(const char *dev, const char *fstype, int *mfd_out, isol_error *err)
{
	int fsfd = fsopen(fstype, FSOPEN_CLOEXEC), mfd, fd, e;

	if (fsfd < 0)
		return isol_fail(err, errno, "fsopen %s", fstype);
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", dev, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		e = errno;
		close(fsfd);
		return isol_fail(err, e, "mount %s (%s)", dev, fstype);
	}
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
	e = errno;
	close(fsfd);
	if (mfd < 0)
		return isol_fail(err, e, "mount %s (%s)", dev, fstype);
	fd = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		close(mfd);
		return isol_fail(err, e, "open root of %s", dev);
	}
	*mfd_out = mfd;
	return fd;
}

int isol_image_chown(const char *dev, const char *fstype, long uid, long gid, isol_error *err)
{
	int mfd = -1, fd = detached_root(dev, fstype, &mfd, err), r = 0;

	if (fd < 0)
		return fd;
	if (fchown(fd, (uid_t)uid, (gid_t)gid) < 0)
		r = isol_fail(err, errno, "chown the root of %s", dev);
	else if (syncfs(fd) < 0)
		r = isol_fail(err, errno, "sync %s", dev);
	close(fd);
	close(mfd);
	return r;
}

int isol_image_trim(const char *dev, const char *fstype, uint64_t *trimmed, isol_error *err)
{
	struct fstrim_range range = { .start = 0, .len = UINT64_MAX, .minlen = 0 };
	int mfd = -1, fd = detached_root(dev, fstype, &mfd, err), r = 0;

	if (fd < 0)
		return fd;
	if (syncfs(fd) < 0)
		r = isol_fail(err, errno, "sync %s", dev);
	else if (ioctl(fd, FITRIM, &range) < 0)
		r = isol_fail(err, errno, "trim %s", dev);
	else if (syncfs(fd) < 0)
		r = isol_fail(err, errno, "sync %s", dev);
	if (r == 0 && trimmed)
		*trimmed = range.len;
	close(fd);
	close(mfd);
	return r;
}
