/*
 * Detached spawn (the nohup problem): a sandbox that outlives its caller.
 * Above spawn.c: it runs isol_spawn in an intermediate process.
 */
#ifndef ISOL_DETACH_H
#define ISOL_DETACH_H

#include "error.h"
#include "spawn.h"

/* Run `plan` detached: an intermediate process, cloned without glibc's fork,
 * calls setsid() and isol_spawn() with die_with_parent off, hands back the
 * sandbox's pidfd (and the init's status pipe) over a socket and exits, so
 * the sandbox is re-parented away from the caller: it outlives the caller,
 * SIGHUP of the caller's session and the terminal closing.
 * out->pid/pidfd/status_fd as for isol_spawn (owned by the caller), but the
 * pid is not a child of the caller: waitid() does not work on it; poll the
 * pidfd (POLLIN at exit) and read the status from status_fd (or
 * plan->status_fd's file). `plan` is only read.
 * Returns 0 or -errno with err filled (the spawn's own message on failure;
 * EIO "detach: the intermediate process died"). Nothing is left behind on
 * failure. */
int isol_spawn_detached(const struct isol_plan *plan, struct isol_child *out, isol_error *err);

#endif
