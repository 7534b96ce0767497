/* Spec helper, preloaded (LD_PRELOAD): the first time the process creates a
 * file named $ISOL_RACE_NAME with openat(O_CREAT), it first renames
 * $ISOL_RACE_FROM over $ISOL_RACE_TO. isol creates a bind's target right
 * before it attaches the bind, so this replaces the bind's source between
 * its clone and the attach, as a rewrite of /etc/resolv.conf or
 * /etc/passwd (a new file renamed over the old) can at any moment. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int openat(int dirfd, const char *path, int flags, ...)
{
	static int done;
	const char *name = getenv("ISOL_RACE_NAME");
	mode_t mode = 0;

	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (name && !done && (flags & O_CREAT) && strcmp(path, name) == 0) {
		done = 1;
		if (rename(getenv("ISOL_RACE_FROM"), getenv("ISOL_RACE_TO")) < 0)
			perror("race_shim: rename");
	}
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}
