#define _GNU_SOURCE
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int vfail(isol_error *err, int errnum, int with_strerror, const char *fmt, va_list ap)
{
	if (errnum <= 0)
		errnum = EIO;
	if (err) {
		int n;

		err->code = errnum;
		n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		if (n < 0)
			n = 0;
		if (with_strerror && (size_t)n < sizeof err->msg) {
			char buf[128];
			/* GNU strerror_r returns a pointer; it never allocates. */
			const char *s = strerror_r(errnum, buf, sizeof buf);
			snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", s);
		}
	}
	return -errnum;
}

int isol_fail(isol_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(err, errnum, 1, fmt, ap);
	va_end(ap);
	return r;
}

int isol_failx(isol_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(err, errnum, 0, fmt, ap);
	va_end(ap);
	return r;
}

void isol_error_clear(isol_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

void isol_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
		*fd = -1;
	}
}

void isol_freep(void *p)
{
	free(*(void **)p);
}
