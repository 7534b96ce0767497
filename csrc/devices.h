/*
 * Device access rules for a cgroup: v1 `devices.allow` / `devices.deny`,
 * v2 a BPF_CGROUP_DEVICE program built here and loaded with the raw bpf(2)
 * syscall (no libbpf; libcgroup 2.0.2 has no v2 device support).
 *
 * Rules come from paths (`/dev/zero`), globs (`/dev/nvidia*`) or kernel
 * rule strings (`c 195:* rwm`), resolved to type/major/minor at run time:
 *   - a path is stat()ed (must be a device node);
 *   - a glob is expanded in /dev, each node gives its exact rule; the glob's
 *     last component is also matched against the driver names in
 *     /proc/devices and a few majors fixed by the kernel's devices.txt
 *     (nvidia -> c 195, dri -> c 226), each giving a whole-major rule. So
 *     `/dev/nvidia*` denies major 195 even on a host with no GPU, where it
 *     has no other effect; nvidia-uvm & co. (dynamic majors) are included
 *     once their driver is loaded, because they appear in /proc/devices.
 */
#ifndef ISOL_DEVICES_H
#define ISOL_DEVICES_H

#include <stddef.h>

#include "error.h"

enum { ISOL_DEV_M = 1, ISOL_DEV_R = 2, ISOL_DEV_W = 4, ISOL_DEV_ALL = 7 };

struct isol_dev_rule {
	char type;        /* 'a' (all), 'c' or 'b' */
	int major, minor; /* -1: any */
	unsigned access;  /* ISOL_DEV_* */
	int allow;        /* 1 allow, 0 deny */
};

/* Parse "c 195:* rwm" / "a" / "b 8:0 r". */
int isol_dev_parse_rule(const char *s, struct isol_dev_rule *r, isol_error *err);

/* Format a rule the v1 way ("c 195:* rwm") into buf. */
void isol_dev_format(const struct isol_dev_rule *r, char *buf, size_t len);

/* Resolve a path, glob or rule string (access applies to paths and globs)
 * into at most max rules appended at out[*n]. ENOENT for a path that does
 * not exist, ENODEV for one that is not a device node, E2BIG when full. */
int isol_dev_resolve(const char *what, unsigned access, int allow, struct isol_dev_rule *out, size_t *n,
		     size_t max, isol_error *err);

/* Apply to a v1 devices cgroup directory: default allow -> "a" in
 * devices.allow then denies; default deny -> "a" in devices.deny, then the
 * allow rules, then the deny rules (v1 removes exactly matching entries). */
int isol_dev_apply_v1(const char *dir, int default_allow, const struct isol_dev_rule *rules, size_t n,
		      isol_error *err);

#endif
