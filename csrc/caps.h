/*
 * Capabilities of the sandboxed command: the five sets as bit masks.
 *
 * Names are parsed with libcap in the parent (isol_cap_from_name); the
 * child applies prepared masks with plain syscalls (prctl, capset), so
 * nothing between clone and exec allocates.
 *
 * Why the bounding set matters: a process with uid 0 (in its user
 * namespace) gets at execve permitted = bounding | inheritable (its file
 * capabilities count as "all"), so lowering permitted alone does not stick.
 * Dropping from the bounding set (and inheritable, ambient) does.
 */
#ifndef ISOL_CAPS_H
#define ISOL_CAPS_H

#include <stdint.h>

#include "error.h"

struct isol_caps {
	uint64_t bounding;    /* caps not here are dropped from the bounding set */
	uint64_t permitted;   /* subset of bounding | the current permitted set */
	uint64_t effective;   /* subset of permitted */
	uint64_t inheritable; /* subset of bounding */
	uint64_t ambient;     /* subset of permitted & inheritable */
};

/* Capability number for a name: "CAP_NET_RAW", "cap_net_raw", "net_raw"
 * (libcap's names, any case). Returns the number, or -EINVAL for an
 * unknown name or one that libcap knows but this build cannot hold. */
int isol_cap_from_name(const char *name);

/* Canonical lower-case name of cap ("cap_net_raw") in buf, or "cap_N"
 * for a number libcap does not name. Returns buf. */
const char *isol_cap_name(int cap, char *buf, size_t len);

/* Highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap,
 * else libcap's compile-time CAP_LAST_CAP), read on the first call. */
int isol_cap_last(void);

/* Check that the masks are consistent (the kernel would refuse them at
 * some step otherwise): effective within permitted, ambient within
 * permitted & inheritable, inheritable within bounding. -EINVAL with the
 * offending set named. */
int isol_caps_check(const struct isol_caps *caps, isol_error *err);

/* In the cloned child, in this order: drop every capability outside
 * `bounding` from the bounding set (PR_CAPBSET_DROP), set the inheritable
 * set, clear the ambient set and raise `ambient` (PR_CAP_AMBIENT), then
 * capset(permitted, effective, inheritable). Async-signal-safe.
 * A process that holds no capabilities at all (an unprivileged caller
 * without a user namespace) cannot change its bounding set and has
 * nothing to drop: the bounding step is skipped then (set-uid programs
 * are disarmed by no_new_privs, on by default). Errors: EPERM from the
 * kernel ("capabilities: drop cap_sys_admin from the bounding set: ..."). */
int isol_caps_child_apply(const struct isol_caps *caps, isol_error *err);

#endif
