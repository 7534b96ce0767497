/* Small kernel control files: one whole-value write, one whole-file read. */
#define _GNU_SOURCE
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int isol_write_file(const char *path, const char *data, size_t len, isol_error *err)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t w;

	if (fd < 0)
		return isol_fail(err, errno, "open %s", path);
	do
		w = write(fd, data, len);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		int e = errno;
		close(fd);
		return isol_fail(err, e, "write \"%.*s\" to %s", (int)(len > 64 ? 64 : len), data, path);
	}
	close(fd);
	if ((size_t)w != len)
		return isol_failx(err, EIO, "write \"%.*s\" to %s: short write (%zd of %zu bytes)",
				  (int)(len > 64 ? 64 : len), data, path, w, len);
	return 0;
}

int isol_write_str(const char *path, const char *s, isol_error *err)
{
	return isol_write_file(path, s, strlen(s), err);
}

int isol_write_at(const char *dir, const char *file, const char *s, isol_error *err)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
		return isol_failx(err, ENAMETOOLONG, "%s/%s: path too long", dir, file);
	return isol_write_str(path, s, err);
}

ssize_t isol_read_file(const char *path, char *buf, size_t len, isol_error *err)
{
	return isol_read_file_at(AT_FDCWD, path, buf, len, err);
}

ssize_t isol_read_file_at(int dirfd, const char *path, char *buf, size_t len, isol_error *err)
{
	int fd;
	size_t off = 0;

	if (len == 0)
		return isol_failx(err, EINVAL, "read %s: no buffer", path);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return isol_fail(err, errno, "open %s", path);
	while (off + 1 < len) {
		ssize_t r = read(fd, buf + off, len - 1 - off);
		if (r < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			close(fd);
			return isol_fail(err, e, "read %s", path);
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	buf[off] = '\0';
	return (ssize_t)off;
}
