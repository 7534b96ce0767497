/*
 * isol core error contract.
 *
 * Every core function that can fail takes an `isol_error *err` as its LAST
 * parameter and returns 0 (or a non-negative value) on success and a negative
 * errno value on failure. On failure it has filled `err` with:
 *   - err->code: the positive errno that describes the failure, and
 *   - err->msg:  a message with context, "<step> <object>: <strerror>", e.g.
 *                "pivot_root /srv/box: Invalid argument".
 * `err` may be NULL when the caller does not want the message.
 * The struct is plain data (no heap), so it can be filled in a cloned child
 * between clone and exec and copied through a pipe to the parent verbatim.
 * Errors are never raised across the core; the Lua binding turns them into
 * `nil, msg, errno` (it copies code before touching the Lua stack).
 */
#ifndef ISOL_ERROR_H
#define ISOL_ERROR_H

#include <stddef.h>

#define ISOL_ERRMSG_MAX 480

typedef struct isol_error {
	int code;                   /* positive errno */
	char msg[ISOL_ERRMSG_MAX];  /* NUL-terminated, with context */
} isol_error;

/* Fill err with errnum and "<formatted context>: <strerror(errnum)>".
 * Returns -errnum (so callers can `return isol_fail(err, errno, ...)`).
 * Async-signal-safe apart from vsnprintf's use of the locale, which glibc
 * does without allocating for the formats used in the core (%s %d %u %ld %x). */
int isol_fail(isol_error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like isol_fail, but the message is used as given (no ": strerror" suffix). */
int isol_failx(isol_error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clear err (code 0, empty message). */
void isol_error_clear(isol_error *err);

/* A few helpers shared by the core (cleanup attributes as in bubblewrap/crun). */
void isol_closep(int *fd);
void isol_freep(void *p);
#define isol_cleanup_fd __attribute__((cleanup(isol_closep)))
#define isol_cleanup_free __attribute__((cleanup(isol_freep)))

/* Move an fd/pointer out of a cleanup variable. */
static inline int isol_steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

#endif
