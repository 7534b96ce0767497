/*
 * Resource limits (one concern): resource names and prlimit in the child.
 * Each limit is set on the child itself (pid 0) before exec, so the command
 * and everything it starts inherit it; a hard limit above the current one
 * needs CAP_SYS_RESOURCE in the initial user namespace.
 */
#define _GNU_SOURCE
#include "rlimits.h"

#include <errno.h>
#include <string.h>

static const struct {
	const char *name;
	int resource;
} names[] = {
	{ "nofile", RLIMIT_NOFILE },
	{ "nproc", RLIMIT_NPROC },
	{ "core", RLIMIT_CORE },
	{ "cpu", RLIMIT_CPU },
	{ "as", RLIMIT_AS },
	{ "fsize", RLIMIT_FSIZE },
	{ "stack", RLIMIT_STACK },
	{ "memlock", RLIMIT_MEMLOCK },
	{ "msgqueue", RLIMIT_MSGQUEUE },
	{ "nice", RLIMIT_NICE },
	{ "rtprio", RLIMIT_RTPRIO },
	{ "data", RLIMIT_DATA },
	{ "sigpending", RLIMIT_SIGPENDING },
	{ "rttime", RLIMIT_RTTIME },
};

int isol_rlimit_resource(const char *name)
{
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(names[i].name, name) == 0)
			return names[i].resource;
	return -1;
}

const char *isol_rlimit_name(int resource)
{
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (names[i].resource == resource)
			return names[i].name;
	return NULL;
}

int isol_rlimits_child_apply(const struct isol_rlimits *rl, isol_error *err)
{
	if (!rl)
		return 0;
	for (size_t i = 0; i < rl->n; i++) {
		const struct isol_rlimit *r = &rl->v[i];
		if (prlimit(0, (__rlimit_resource_t)r->resource, &r->lim, NULL) < 0) {
			const char *n = isol_rlimit_name(r->resource);
			return isol_fail(err, errno, "prlimit %s %lld/%lld", n ? n : "?",
					 r->lim.rlim_cur == RLIM_INFINITY ? -1LL : (long long)r->lim.rlim_cur,
					 r->lim.rlim_max == RLIM_INFINITY ? -1LL
									  : (long long)r->lim.rlim_max);
		}
	}
	return 0;
}
