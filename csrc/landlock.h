/*
 * Landlock: restrict which paths the sandboxed command may read, write or
 * execute, and which TCP ports it may bind or connect to. Works for an
 * unprivileged caller and binds even a process that is root in its user
 * namespace.
 *
 * The ruleset is built in the child after the root change (the paths are
 * the sandbox's own). Without an init the child restricts itself right
 * away; with an init the ruleset fd is handed to it and the command's
 * process calls isol_landlock_restrict(fd) just before execve, so that the
 * supervising init itself stays unrestricted.
 */
#ifndef ISOL_LANDLOCK_H
#define ISOL_LANDLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Right groups a recipe names (bit set: the group is restricted). */
enum {
	ISOL_LL_READ = 1,
	ISOL_LL_WRITE = 2,
	ISOL_LL_EXEC = 4,
	ISOL_LL_BIND_TCP = 8,
	ISOL_LL_CONNECT_TCP = 16,
};

struct isol_landlock_path {
	const char *path; /* inside the sandbox; not copied */
	unsigned groups;  /* ISOL_LL_READ | ISOL_LL_WRITE | ISOL_LL_EXEC */
};

struct isol_landlock_port {
	uint16_t port;
	unsigned groups; /* ISOL_LL_BIND_TCP | ISOL_LL_CONNECT_TCP */
};

struct isol_landlock {
	unsigned handled; /* groups restricted: those the recipe names */
	int abi;          /* the kernel's ABI (isol_landlock_abi), read in the parent */
	int no_new_privs; /* the plan sets it: set it before restrict_self (which
	                     needs it or CAP_SYS_ADMIN), not only later */
	const struct isol_landlock_path *paths;
	size_t npaths;
	const struct isol_landlock_port *ports;
	size_t nports;
};

/* The kernel's Landlock ABI version (>= 1), or -errno (-EOPNOTSUPP: built
 * but disabled at boot; -ENOSYS: not built). */
int isol_landlock_abi(void);

/* The lowest ABI that has every right group in `groups` (TCP: 4). */
int isol_landlock_abi_needed(unsigned groups);

/* In the child, after the root change: build the ruleset. handoff_fd
 * NULL: restrict the calling process now. Otherwise *handoff_fd receives the
 * ruleset fd (CLOEXEC; whoever runs the command passes it to
 * isol_landlock_restrict), or -1 when ll is NULL. Returns 0 or -errno, and
 * fails naming the path, e.g. "landlock write /srv: No such file or directory". */
int isol_landlock_child_apply(const struct isol_landlock *ll, int *handoff_fd, isol_error *err);

/* landlock_restrict_self(fd), then close fd. Async-signal-safe. */
int isol_landlock_restrict(int fd, isol_error *err);

#endif
