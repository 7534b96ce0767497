/* The error contract of the core (see error.h): filling isol_error, the
 * deferred strerror of a cloned child, cleanup helpers. */
#define _GNU_SOURCE
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set only in cloned children (their own copy of this variable). */
/* Per thread: a CLONE_VM child (vmclone.h) runs on its parent thread's TLS
 * while that thread waits, and the parent restores the value afterwards
 * (isol_error_deferring / isol_error_set_deferring). initial-exec: no
 * __tls_get_addr (which may allocate) in the child. */
static __thread int defer_strerror __attribute__((tls_model("initial-exec")));

void isol_error_defer_strerror(void)
{
	defer_strerror = 1;
}

int isol_error_deferring(void)
{
	return defer_strerror;
}

void isol_error_set_deferring(int on)
{
	defer_strerror = on;
}

static void append_strerror(isol_error *err)
{
	size_t n = strlen(err->msg);

	if (n < sizeof err->msg) {
		char buf[128];
		/* GNU strerror_r returns a pointer (maybe not into buf). */
		const char *s = strerror_r(err->code, buf, sizeof buf);
		snprintf(err->msg + n, sizeof err->msg - n, ": %s", s);
	}
}

void isol_error_finish(isol_error *err)
{
	/* In a copy of the host (detach's intermediate) the text stays pending
	 * for the real parent. */
	if (err && err->strerror_pending && !defer_strerror) {
		err->msg[sizeof err->msg - 1] = '\0';
		err->strerror_pending = 0;
		append_strerror(err);
	}
}

static int vfail(isol_error *err, int errnum, int with_strerror, const char *fmt, va_list ap)
{
	if (errnum <= 0)
		errnum = EIO;
	if (err) {
		err->code = errnum;
		err->strerror_pending = 0;
		if (vsnprintf(err->msg, sizeof err->msg, fmt, ap) < 0)
			err->msg[0] = '\0';
		if (with_strerror && defer_strerror)
			err->strerror_pending = 1;
		else if (with_strerror)
			append_strerror(err);
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
		err->strerror_pending = 0;
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
