/*
 * /proc primitives (see procfs.h). Async-signal-safe: stack buffers only.
 */
#define _GNU_SOURCE
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static pid_t parse_pid(const char *s)
{
	long v = 0;

	if (!*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000000)
			return 0;
		v = v * 10 + (*s - '0');
	}
	return (pid_t)v;
}

static int open_in(int proc_dirfd, const char *rel, int flags)
{
	char abs[64];

	if (proc_dirfd >= 0)
		return openat(proc_dirfd, rel, flags | O_CLOEXEC);
	snprintf(abs, sizeof abs, "/proc/%s", rel);
	return open(abs, flags | O_CLOEXEC);
}

int isol_procfs_each(int proc_dirfd, int (*fn)(pid_t, void *), void *ctx)
{
	char buf[8192] __attribute__((aligned(8)));
	int fd = open_in(proc_dirfd, ".", O_RDONLY | O_DIRECTORY);
	long n;

	if (fd < 0)
		return -errno;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			pid_t pid = parse_pid(d->d_name);

			off += d->d_reclen;
			if (pid > 0 && fn(pid, ctx)) {
				close(fd);
				return 0;
			}
		}
	}
	if (n < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

int isol_procfs_stat(int proc_dirfd, pid_t pid, struct isol_procstat *st)
{
	char rel[32], buf[1024];
	const char *p;
	ssize_t n;
	int fd, field;

	snprintf(rel, sizeof rel, "%d/stat", (int)pid);
	fd = open_in(proc_dirfd, rel, O_RDONLY);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof buf - 1);
	if (n < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	if (n == 0)
		return -ESRCH;
	buf[n] = '\0';
	/* comm may contain spaces and ')': the fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EINVAL;
	memset(st, 0, sizeof *st);
	st->pid = pid;
	p += 2;
	st->state = *p;
	/* p is at field 3 (state); walk to 4 (ppid), 5, 6 and 22 (starttime). */
	for (field = 3; *p && field < 22; p++) {
		if (*p != ' ')
			continue;
		field++;
		switch (field) {
		case 4:
			st->ppid = (pid_t)strtol(p + 1, NULL, 10);
			break;
		case 5:
			st->pgrp = (pid_t)strtol(p + 1, NULL, 10);
			break;
		case 6:
			st->sid = (pid_t)strtol(p + 1, NULL, 10);
			break;
		case 22:
			st->start = strtoull(p + 1, NULL, 10);
			break;
		}
	}
	if (field < 22)
		return -EINVAL;
	return 0;
}
