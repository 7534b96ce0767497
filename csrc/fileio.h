/*
 * Small control files (cgroupfs, /proc/<pid>/uid_map, setgroups): one
 * write of a whole value, one read of a whole small file.
 *
 * Kernel control files take a value per write(2): a value split over two
 * writes is two values, so a short write is an error (EIO), not a retry.
 */
#ifndef ISOL_FILEIO_H
#define ISOL_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Write data[0..len) to path in one write(2). Errors: open/write errno
 * ("write \"<value>\" to <path>: ..."), EIO on a short write. */
int isol_write_file(const char *path, const char *data, size_t len, isol_error *err);

/* isol_write_file of a NUL-terminated string. */
int isol_write_str(const char *path, const char *s, isol_error *err);

/* isol_write_str to dir/file. ENAMETOOLONG when the path does not fit. */
int isol_write_at(const char *dir, const char *file, const char *s, isol_error *err);

/* Read the whole file (at most len-1 bytes) into buf, NUL-terminated.
 * Returns the length, or a negative errno (err may be NULL). */
ssize_t isol_read_file(const char *path, char *buf, size_t len, isol_error *err);

/* isol_read_file of path relative to the directory fd dirfd (AT_FDCWD:
 * the working directory): several files of one directory without a walk
 * of its path each (a cgroup's statistics). */
ssize_t isol_read_file_at(int dirfd, const char *path, char *buf, size_t len, isol_error *err);

#endif
