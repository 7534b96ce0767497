/*
 * isol's init (PID 1 of a pid namespace, or a subreaper supervisor without
 * one), as run in the cloned child, and the reading of the status it writes.
 */
#ifndef ISOL_INIT_H
#define ISOL_INIT_H

#include "error.h"

struct isol_wait;

/*
 * isol's init, run in the cloned child instead of exec'ing directly:
 * starts the command as cmd_fn(cmd_arg) in a new process (a vfork-style
 * clone on its own stack: cmd_fn must exec or _exit, never return into the
 * init); the init never returns: it reaps every child, forwards
 * SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2/SIGWINCH to the command,
 * watches the spawning process through `parent_pidfd`, and exits with the
 * command's status, which it also writes as an int to status_fd.
 * Returns only if the command cannot be started: negative, err filled.
 */
int isol_init_run(int parent_pidfd, int status_fd, int err_fd, int pidns, int (*cmd_fn)(void *),
		  void *cmd_arg, isol_error *err);

/* After the init was reaped with status *w: read the command's status from
 * status_fd and put it in *w. */
void isol_init_status(int status_fd, struct isol_wait *w);

#endif
