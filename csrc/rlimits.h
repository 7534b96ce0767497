/*
 * Resource limits (setrlimit family) applied in the spawned child.
 * The plan holds plain numbers; names and sizes are parsed by the binding.
 */
#ifndef ISOL_RLIMITS_H
#define ISOL_RLIMITS_H

#include <stddef.h>
#include <sys/resource.h>

#include "error.h"

#define ISOL_RLIMITS_MAX 16

struct isol_rlimit {
	int resource;      /* RLIMIT_* */
	struct rlimit lim; /* RLIM_INFINITY for "unlimited"; soft <= hard */
};

struct isol_rlimits {
	size_t n;
	struct isol_rlimit v[ISOL_RLIMITS_MAX];
};

/* "nofile" -> RLIMIT_NOFILE, ...; -1 for an unknown name. */
int isol_rlimit_resource(const char *name);

/* The name of a resource ("nofile"), NULL if not one of ours. */
const char *isol_rlimit_name(int resource);

/* In the child (after the filesystem steps, before Landlock): prlimit(0, ...)
 * each entry in order. Async-signal-safe. Fails naming the resource, e.g.
 * "prlimit nofile 64/4096: Operation not permitted". */
int isol_rlimits_child_apply(const struct isol_rlimits *rl, isol_error *err);

#endif
