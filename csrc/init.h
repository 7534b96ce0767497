/*
 * isol's init, parent side: the program's copy embedded in core.so, the
 * sealed memfd it is exec'd from, its command line, and the status record
 * it writes. The program itself is csrc/init/isol-init.c (a separate static
 * executable, linked into core.so as data by the Makefile).
 *
 * Why a separate program: a fork of the host as PID 1 held the host's
 * memory (secrets readable through /proc/1/mem), environment and binary
 * (/proc/1/exe, CVE-2019-5736). The exec'd init holds none of them: empty
 * environment, non-dumpable, a sealed memfd as its executable, every fd of
 * its own CLOEXEC so that the command inherits none.
 *
 * Command line (argv), all built by the parent before clone:
 *   isol-init [-n] [-S] [-R] [-sFD] [-pFD] [-eFD] [-tMS] [-rFD] -lFD______ --
 *             NENV ENV... FILE ARGV...
 *   -n   PID 1 of a new pid namespace (else: a subreaper supervisor)
 *   -S   the init leads a new session (the child made it): the command
 *        gets a process group of its own in it (setpgid)
 *   -R   there is a new root (only for the "not found" message)
 *   -s   status fd: one isol_init_record is written there at the end
 *   -p   pidfd of the spawning process: die with it (die_with_parent)
 *   -e   error pipe: an isol_error when the command cannot be started
 *   -t   wall-clock timeout in ms: then the whole sandbox is killed
 *   -r   dirfd of the host /proc (subreaper mode: finds its descendants
 *        even when the new root has no /proc)
 *   -l   landlock ruleset fd (-1: none), patched in the child
 *        (isol_init_child_exec); the command calls landlock_restrict_self.
 * The environment of the init itself is empty. Once the command is forked,
 * the init wipes NENV and what follows from its memory (and so from
 * /proc/<init>/cmdline).
 */
#ifndef ISOL_INIT_H
#define ISOL_INIT_H

#include <stdint.h>

#include "error.h"

/* Written by the init to its status fd, exactly once, just before it
 * exits with ISOL_INIT_EXIT_OK. `status` comes first so that readers of a
 * plain int (detached sandboxes' status files) see the wait status. */
struct isol_init_record {
	int32_t status; /* the command's waitpid() status */
	uint32_t flags; /* ISOL_INIT_MAGIC | ISOL_INIT_TIMEOUT... */
};
#define ISOL_INIT_MAGIC 0x15010000u
#define ISOL_INIT_MAGIC_MASK 0xffff0000u
#define ISOL_INIT_TIMEOUT 0x1u
#define ISOL_INIT_EXIT_OK 0

#ifndef ISOL_INIT_PROGRAM /* the rest is for core.so only */

struct isol_wait;

/* The init's executable: a memfd (MFD_CLOEXEC, sealed against any write,
 * shrink or grow) holding the embedded copy. Created once per process, on
 * first use, without locks (a racing thread's copy is closed); the fd is
 * cached and owned by this module, never closed. If the host closed or
 * replaced that fd number, a new memfd is made. Returns it or -errno. */
int isol_init_memfd(isol_error *err);

struct isol_init_opts {
	int pidns, new_session, new_root;
	int ctty;                                        /* fd 0 becomes the command's controlling tty */
	int status_fd, parent_pidfd, err_fd, proc_dirfd; /* -1: none */
	int timeout_ms;                                  /* 0: none */
	const char *file;
	char *const *argv, *const *envp;
};

/* The init's argv for these options, in one block: buf (bufsize bytes,
 * e.g. the caller's stack: aligned for pointers) when it fits, else mmap'd
 * (no malloc lock: usable in a clone of a threaded host); released with
 * isol_init_argv_free(), which leaves buf alone. NULL with err filled
 * (ENOMEM, E2BIG). The strings of o->envp, o->argv and o->file are
 * referenced, not copied. */
char **isol_init_argv(const struct isol_init_opts *o, void *buf, size_t bufsize, isol_error *err);
void isol_init_argv_free(char **argv);

/* In the cloned child, as its last step: patch the landlock fd (-1: none)
 * into argv, clear CLOEXEC on the fds the init needs (the child marked
 * every fd CLOEXEC), then execveat(memfd, "", argv, {}, AT_EMPTY_PATH).
 * The signal mask stays as it is (every signal blocked, dispositions
 * default): the init sets its own first thing, so that a signal sent to
 * it meanwhile waits for it instead of ending it (a SIGTERM right after
 * the spawn reaches the command).
 * Returns only on failure: -errno, err filled. Async-signal-safe. */
int isol_init_child_exec(int memfd, char **argv, const struct isol_init_opts *o, int landlock_fd,
			 isol_error *err);

/* After the init was reaped with status *w: if it ended as agreed (exit
 * code ISOL_INIT_EXIT_OK and exactly one record on status_fd), returns 1
 * with the command's wait status and timeout flag. Otherwise 0: the init's
 * own fate (e.g. SIGKILL) stands, whatever the sandbox wrote. */
int isol_init_status(int status_fd, const struct isol_wait *w, int *status, int *timeout);

#endif
#endif
