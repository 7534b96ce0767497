/*
 * Filesystem steps of a sandbox: mounts and the new root.
 * (Interface used by spawn.c; the plan is built by the Lua binding.)
 */
#ifndef ISOL_MOUNT_H
#define ISOL_MOUNT_H

#include "error.h"

struct isol_fs_plan;

/* Run in the cloned child, after hostname and before cwd/stdio/exec, inside
 * the new mount namespace. Async-signal-safe: no allocation, no locks. */
int isol_fs_child_setup(const struct isol_fs_plan *fs, isol_error *err);

/* Nonzero if the plan changes the root (pivot_root or chroot). */
int isol_fs_has_new_root(const struct isol_fs_plan *fs);

#endif
