/*
 * Helper processes the core forks beside a sandbox, in the caller's
 * namespaces (the user-mode network helpers, the port relay): how the child
 * sheds what it inherited from the caller, how it dies with the caller, and
 * how the caller ends it.
 *
 * Lifecycle: isol_helper_fork() -> in the child, isol_helper_child_prepare()
 * and isol_helper_die_with() before its exec or its own loop -> in the
 * caller, isol_helper_end() (also after the child failed).
 * The child's steps are async-signal-safe (plain system calls): a caller
 * with other threads may fork.
 */
#ifndef ISOL_HELPER_H
#define ISOL_HELPER_H

#include <sys/types.h>

#include "error.h"

struct isol_helper {
	pid_t pid; /* -1: none */
	int pidfd; /* -1: none (or pidfd_open is missing: the pid is used) */
};

void isol_helper_init(struct isol_helper *h);

/* fork(). In the caller: fills *h (the caller owns it) and returns the pid;
 * -errno with err filled ("<what>: fork: ..."). In the child: returns 0. */
pid_t isol_helper_fork(struct isol_helper *h, const char *what, isol_error *err);

/* In the child: signal dispositions to their defaults and none blocked; a
 * session of its own (the caller's terminal's ^C is the caller's to act
 * on); keep[i] at fd 3 + i; stdin and stdout on /dev/null, stderr on
 * err_fd (-1: /dev/null); every other fd closed, or with `cloexec` marked
 * close-on-exec (a child about to exec that reports through a CLOEXEC fd:
 * that fd must be above 3 + nkeep). Returns 0 or -1 (errno set). */
int isol_helper_child_prepare(const int *keep, int nkeep, int err_fd, int cloexec);

/* In the child: SIGKILL when the thread that forked dies (PR_SET_PDEATHSIG;
 * a change of ids clears it: call after any). -1 if `parent` is already
 * gone. */
int isol_helper_die_with(pid_t parent);

/* Send `sig` (0: none), wait up to grace_ms for the exit, then SIGKILL;
 * reap; close the pidfd. Idempotent. */
void isol_helper_end(struct isol_helper *h, int sig, int grace_ms);

#endif
