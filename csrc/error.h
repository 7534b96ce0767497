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
 * In such a child (after isol_error_defer_strerror()), isol_fail leaves the
 * ": <strerror>" part to the parent: strerror goes through gettext, which
 * takes a lock and may load a catalog (malloc) in a non-C locale. The child
 * sends {errno, context, strerror_pending = 1}; the parent that receives it
 * calls isol_error_finish(), which appends the text.
 * Errors are never raised across the core; the Lua binding turns them into
 * `nil, msg, errno` (it copies code before touching the Lua stack).
 */
#ifndef ISOL_ERROR_H
#define ISOL_ERROR_H

#include <stddef.h>

#define ISOL_ERRMSG_MAX 480

typedef struct isol_error {
	int code;                  /* positive errno */
	char msg[ISOL_ERRMSG_MAX]; /* NUL-terminated, with context */
	int strerror_pending;      /* msg still lacks ": <strerror(code)>" */
} isol_error;

/* Fill err with errnum and "<formatted context>: <strerror(errnum)>".
 * Returns -errnum (so callers can `return isol_fail(err, errno, ...)`).
 * After isol_error_defer_strerror() (in a cloned child), the strerror part
 * is deferred (see above): then it only formats with vsnprintf, which glibc
 * does without allocating or locking for the formats used in the core
 * (%s %d %u %ld %x). */
int isol_fail(isol_error *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like isol_fail, but the message is used as given (no ": strerror" suffix). */
int isol_failx(isol_error *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* In a process copied from the host by clone (no exec yet): from now on,
 * isol_fail defers strerror to whoever receives the error. Per thread (a
 * CLONE_VM child shares its parent thread's: that parent saves the value
 * with isol_error_deferring() before the clone and puts it back with
 * isol_error_set_deferring() once the child has exec'd or exited); never
 * call it in the host process itself. */
void isol_error_defer_strerror(void);
int isol_error_deferring(void);
void isol_error_set_deferring(int on);

/* Parent side, on an isol_error received from a child: append the pending
 * ": <strerror>" (no-op otherwise, and in a process that deferred its own
 * strerror: it passes the error on; NULL allowed). */
void isol_error_finish(isol_error *err);

/* Clear err (code 0, empty message). */
void isol_error_clear(isol_error *err);

/* A few helpers shared by the core (cleanup attributes as in bubblewrap/crun). */
void isol_closep(int *fd);
void isol_freep(void *p);
#define isol_cleanup_fd __attribute__((cleanup(isol_closep)))
#define isol_cleanup_free __attribute__((cleanup(isol_freep)))

/* Move an fd out of a cleanup variable. */
static inline int isol_steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

#endif
