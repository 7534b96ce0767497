/*
 * Syscall filters: a profile plus allow/deny lists compiled to classic BPF
 * with libseccomp in the parent, loaded in the child with seccomp(2).
 *
 * Lifecycle (minijail style): fill a `struct isol_seccomp_opts` ->
 * isol_seccomp_build() once per sandbox (libseccomp, allocates) ->
 * isol_seccomp_child_apply() in every spawned child (one plain syscall, no
 * allocation, no libseccomp) -> isol_seccomp_free().
 */
#ifndef ISOL_SECCOMP_H
#define ISOL_SECCOMP_H

#include <linux/filter.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum isol_seccomp_profile {
	ISOL_SECCOMP_NONE,    /* only the allow/deny lists and nested_userns */
	ISOL_SECCOMP_DEFAULT, /* the container runtimes' deny-list (seccomp.c) */
	ISOL_SECCOMP_STRICT,  /* an allow-list for sh, coreutils, python3 -c */
};

enum isol_seccomp_action {
	ISOL_SECCOMP_ERRNO, /* a denied call fails with opts.errnum */
	ISOL_SECCOMP_KILL,  /* a denied call kills the process (SIGSYS) */
	ISOL_SECCOMP_LOG,   /* a denied call is logged (audit) and allowed */
};

struct isol_seccomp_opts {
	enum isol_seccomp_profile profile;
	enum isol_seccomp_action action;
	int errnum;               /* 1..4095, for ISOL_SECCOMP_ERRNO */
	int nested_userns;        /* 0: no user namespace can be created inside */
	int sys_admin;            /* the recipe grants CAP_SYS_ADMIN: `default`
	                             then allows mounts and namespaces (Docker) */
	int deny_tty;             /* ioctl TIOCSTI and TIOCLINUX are denied (any
	                             profile but strict, which allows neither) */
	const char *const *allow; /* syscall names; not copied */
	size_t nallow;
	const char *const *deny;
	size_t ndeny;
};

/* A compiled filter; `prog.filter` is owned (malloc). */
struct isol_seccomp {
	struct sock_fprog prog;
};

/* Compile opts into out (out->prog.filter == NULL when there is nothing to
 * filter). Unknown syscall names fail with EINVAL naming "allow[i]" or
 * "deny[i]" and the name. Returns 0 or -errno; on failure out owns nothing. */
int isol_seccomp_build(const struct isol_seccomp_opts *opts, struct isol_seccomp *out, isol_error *err);

/* One rule of a filter, as data (SCMP_ACT_* action, up to two argument
 * comparisons of libseccomp's form). */
struct isol_seccomp_rule {
	uint32_t action;
	const char *name; /* static or the opts' string */
	unsigned n;
	struct scmp_arg_cmp cmp[2];
};
typedef int (*isol_seccomp_sink)(void *ctx, const struct isol_seccomp_rule *rule, isol_error *err);

/* The rules opts make, in order, given to fn (the same rules
 * isol_seccomp_build compiles; an OCI export writes them as JSON), and the
 * default action in *dflt. Returns 0 or -errno (what fn returned, or a bad
 * option named in err). */
int isol_seccomp_rules(const struct isol_seccomp_opts *opts, uint32_t *dflt, isol_seccomp_sink fn, void *ctx,
		       isol_error *err);

/* Release the program (idempotent). */
void isol_seccomp_free(struct isol_seccomp *f);

/* In the child, after no_new_privs, as the last step before exec: load the
 * filter (NULL or empty: nothing). Async-signal-safe. */
int isol_seccomp_child_apply(const struct isol_seccomp *f, isol_error *err);

/* Does this libseccomp know `name` for the native architecture? */
int isol_seccomp_known(const char *name);

/* libseccomp's run-time version, e.g. "2.5.4", into buf; the seccomp
 * filter mode's availability (1 yes, 0 no). */
int isol_seccomp_available(char *version, size_t len);

#endif
