/*
 * Session keyring of the sandbox: the child leaves the caller's session
 * keyring (which may hold its credentials) for a fresh anonymous one, so
 * keys of the host's session cannot be read, linked or revoked from inside
 * (crun and nsjail do the same).
 */
#ifndef ISOL_KEYRING_H
#define ISOL_KEYRING_H

#include "error.h"

struct isol_keyring {
	unsigned join : 1; /* join a new anonymous session keyring */
};

/* In the cloned child: keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL).
 * Async-signal-safe. A kernel built without keys (ENOSYS) is not an
 * error: there is no keyring to leak then. Other errors (EDQUOT: the user's key quota is
 * full) fail the spawn: "join a new session keyring: Disk quota exceeded". */
int isol_keyring_child_apply(const struct isol_keyring *k, isol_error *err);

#endif
