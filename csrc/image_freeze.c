#define _GNU_SOURCE
/* Freezing the mounted users of an image file around a checkpoint (see
 * image_freeze.h): loop devices found by backing inode, their mounts by
 * /proc/PID/mountinfo of every process, FIFREEZE / FITHAW. */
#include "image_freeze.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct loopdev {
	dev_t rdev;
	char name[64];
	int user;       /* index in u->fd, or -1 */
	pid_t seen_pid; /* a mount of it that could not be opened */
	char seen_at[256];
	int seen_errno;
};

static void users_init(struct isol_image_users *u)
{
	memset(u, 0, sizeof *u);
	for (int i = 0; i < ISOL_IMAGE_MAXUSERS; i++)
		u->fd[i] = -1;
}

/* Loop devices whose backing file is (dev, ino). Returns how many (<= max). */
static int find_loops(dev_t dev, ino_t ino, struct loopdev *out, int max)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char path[64];
		struct loop_info64 li;
		struct stat sb;
		int fd;

		if (strncmp(e->d_name, "loop", 4) != 0 || !isdigit((unsigned char)e->d_name[4]))
			continue;
		snprintf(path, sizeof path, "/dev/%.40s", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ioctl(fd, LOOP_GET_STATUS64, &li) == 0 && li.lo_device == (uint64_t)dev &&
		    li.lo_inode == (uint64_t)ino && fstat(fd, &sb) == 0) {
			out[n].rdev = sb.st_rdev;
			snprintf(out[n].name, sizeof out[n].name, "%s", path);
			out[n].user = -1;
			out[n].seen_pid = 0;
			n++;
		}
		close(fd);
	}
	closedir(d);
	return n;
}

/* Undo mountinfo's octal escapes (\040 for a space...) in place. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Open `where` as process pid sees it (resolved inside its root) and check
 * that it is on device rdev. Returns the fd or -errno. */
static int open_in_root(pid_t pid, const char *where, dev_t rdev)
{
	char root[64];
	struct open_how how;
	struct stat sb;
	int dfd, fd, e;

	snprintf(root, sizeof root, "/proc/%d/root", (int)pid);
	dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	memset(&how, 0, sizeof how);
	how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, dfd, where, &how, sizeof how);
	e = errno;
	close(dfd);
	if (fd < 0)
		return -e;
	if (fstat(fd, &sb) < 0 || sb.st_dev != rdev) {
		close(fd);
		return -ESTALE; /* unmounted or replaced meanwhile */
	}
	return fd;
}

/* One mountinfo line: if it is a mount of one of the loops, record it. */
static int scan_line(char *line, pid_t pid, struct loopdev *loops, int nl, struct isol_image_users *u)
{
	unsigned maj, min;
	char where[256], opts[64], *sep;
	int i;

	if (sscanf(line, "%*d %*d %u:%u %*s %255s %63s", &maj, &min, where, opts) != 4)
		return 0;
	for (i = 0; i < nl && loops[i].rdev != makedev(maj, min); i++)
		;
	if (i == nl)
		return 0;
	unescape(where);
	/* read-write only if both the mount and its superblock are */
	sep = strstr(line, " - ");
	int rw = strncmp(opts, "rw", 2) == 0 && sep && !strstr(sep, " ro,") && !strstr(sep, " ro\n");
	if (loops[i].user >= 0) {
		u->rw[loops[i].user] |= rw;
		return 0;
	}
	if (u->n == ISOL_IMAGE_MAXUSERS)
		return 0;
	int fd = open_in_root(pid, where, loops[i].rdev);
	if (fd < 0) {
		if (!loops[i].seen_pid) {
			loops[i].seen_pid = pid;
			loops[i].seen_errno = -fd;
			snprintf(loops[i].seen_at, sizeof loops[i].seen_at, "%s", where);
		}
		return 0;
	}
	loops[i].user = u->n;
	u->fd[u->n] = fd;
	u->rw[u->n] = rw;
	u->pid[u->n] = pid;
	snprintf(u->where[u->n], sizeof u->where[u->n], "%s", where);
	snprintf(u->dev[u->n], sizeof u->dev[u->n], "%s", loops[i].name);
	u->n++;
	return 0;
}

int isol_image_users_find(const char *image, struct isol_image_users *u, isol_error *err)
{
	struct loopdev loops[ISOL_IMAGE_MAXUSERS];
	struct stat sb;
	struct dirent *e;
	char *line = NULL;
	size_t cap = 0;
	DIR *d;
	int nl;

	users_init(u);
	if (stat(image, &sb) < 0)
		return isol_fail(err, errno, "stat image %s", image);
	nl = find_loops(sb.st_dev, sb.st_ino, loops, ISOL_IMAGE_MAXUSERS);
	if (nl == 0)
		return 0;
	d = opendir("/proc");
	if (!d)
		return isol_fail(err, errno, "open /proc");
	while ((e = readdir(d))) {
		char path[64];
		FILE *f;
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/mountinfo", (int)pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (getline(&line, &cap, f) > 0)
			scan_line(line, pid, loops, nl, u);
		fclose(f);
	}
	closedir(d);
	free(line);
	for (int i = 0; i < nl; i++) {
		if (loops[i].user < 0 && loops[i].seen_pid) {
			int e2 = loops[i].seen_errno;
			isol_image_users_release(u);
			return isol_fail(err, e2,
					 "image %s is mounted at %s (through %s, seen by pid %d), which isol "
					 "cannot open to freeze it",
					 image, loops[i].seen_at, loops[i].name, (int)loops[i].seen_pid);
		}
	}
	return 0;
}

int isol_image_users_trim(const struct isol_image_users *u, uint64_t *trimmed, isol_error *err)
{
	for (int i = 0; i < u->n; i++) {
		struct fstrim_range range = { .start = 0, .len = UINT64_MAX, .minlen = 0 };

		if (!u->rw[i])
			continue;
		if (ioctl(u->fd[i], FITRIM, &range) < 0)
			return isol_fail(err, errno, "trim %s (mounted at %s)", u->dev[i], u->where[i]);
		*trimmed += range.len;
		return 0;
	}
	return 0;
}

int isol_image_users_freeze(struct isol_image_users *u, isol_error *err)
{
	for (int i = 0; i < u->n; i++) {
		if (ioctl(u->fd[i], FIFREEZE, 0) < 0) {
			int e = errno, r;

			r = isol_failx(err, e,
				       "image in use: %s is mounted %s at %s (seen by pid %d) and FIFREEZE "
				       "failed (%s)%s: "
				       "stop what uses it (isol kill) or mount it read-only, then checkpoint",
				       u->dev[i], u->rw[i] ? "read-write" : "read-only", u->where[i],
				       (int)u->pid[i], strerror(e),
				       e == EBUSY ? ", already frozen by someone else" : "");
			for (int j = 0; j < i; j++)
				if (u->frozen[j] && ioctl(u->fd[j], FITHAW, 0) == 0)
					u->frozen[j] = 0;
			return r;
		}
		u->frozen[i] = 1;
	}
	return 0;
}

void isol_image_users_release(struct isol_image_users *u)
{
	for (int i = 0; i < u->n; i++) {
		if (u->frozen[i] && ioctl(u->fd[i], FITHAW, 0) == 0)
			u->frozen[i] = 0;
		if (u->fd[i] >= 0)
			close(u->fd[i]);
		u->fd[i] = -1;
	}
	u->n = 0;
}
