/*
 * /proc primitives: iterate the processes of a /proc and parse
 * /proc/<pid>/stat. Async-signal-safe (getdents64 and stack buffers, no
 * malloc, no isol_error): isol's init links this file too. Every function
 * takes a dirfd of the /proc to read (the caller owns it; -1: "/proc" of
 * the caller's mount namespace), so that a supervisor whose new root has no
 * /proc still sees its processes through a dirfd opened before the root
 * change.
 */
#ifndef ISOL_PROCFS_H
#define ISOL_PROCFS_H

#include <sys/types.h>

/* What /proc/<pid>/stat says about a process. */
struct isol_procstat {
	pid_t pid, ppid, pgrp, sid;
	char state;               /* 'R', 'S', 'Z', ... */
	unsigned long long start; /* field 22, clock ticks since boot: with the
	                             pid it identifies a process (pid reuse) */
};

/* Read <proc>/<pid>/stat. Returns 0, -ESRCH when the process does not
 * exist, -EINVAL when the file does not parse, or another -errno. */
int isol_procfs_stat(int proc_dirfd, pid_t pid, struct isol_procstat *st);

/* Call fn(pid, ctx) for every numeric entry of <proc>; fn returns nonzero
 * to stop. Returns 0 or -errno (the /proc cannot be opened or read). */
int isol_procfs_each(int proc_dirfd, int (*fn)(pid_t pid, void *ctx), void *ctx);

#endif
