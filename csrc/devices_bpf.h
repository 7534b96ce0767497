/* cgroup v2 device rules as a BPF_CGROUP_DEVICE program. */
#ifndef ISOL_DEVICES_BPF_H
#define ISOL_DEVICES_BPF_H

#include <linux/bpf.h>
#include <stddef.h>

#include "devices.h"
#include "error.h"

/* Build the program for the rules into p (room for max instructions):
 * deny rules first, then allow rules, first match wins, else the default.
 * Pure: no global state, safe from any thread. Returns the instruction
 * count, or -E2BIG when it does not fit. */
int isol_dev_bpf_build(struct bpf_insn *p, int max, int default_allow, const struct isol_dev_rule *rules,
		       size_t n);

/* v2: build a program (deny rules first, then allow rules, first match
 * wins, else the default), load it and attach it to the cgroup fd with
 * BPF_F_ALLOW_MULTI (a sub-group can only restrict further). The program
 * lives as long as the cgroup; the fd is closed. */
int isol_dev_apply_v2(int cgroup_fd, int default_allow, const struct isol_dev_rule *rules, size_t n,
		      isol_error *err);

#endif
