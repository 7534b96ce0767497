/*
 * The sandbox's identity: after its user namespace's maps are written, the
 * child switches to a uid/gid of that namespace. Needed when the map does
 * not cover the caller's own ids: root mapping sandbox root to an
 * unprivileged host id keeps host uid 0 (kuid 0) until it calls setresuid,
 * and would run the command as host root, seen as "nobody" inside.
 */
#ifndef ISOL_IDENTITY_H
#define ISOL_IDENTITY_H

#include <stdint.h>

#include "error.h"

struct isol_identity {
	uint32_t uid, gid;         /* ids inside the user namespace */
	unsigned clear_groups : 1; /* setgroups(0, NULL) first (needs setgroups "allow") */
};

/* In the cloned child: setgroups (optional), setresgid, setresuid, in
 * that order. Async-signal-safe. Capabilities in the user namespace are
 * kept (the switch is towards the namespace's root, or the caps step
 * follows). Errors: "become uid 0 inside: Invalid argument" when the id
 * is not mapped. */
int isol_identity_child_apply(const struct isol_identity *id, isol_error *err);

#endif
