/*
 * Filesystem steps of a sandbox: mounts and the new root, as data.
 *
 * A plan is a propagation mode, an optional root (how to make the root mount
 * and whether to pivot_root or chroot into it), and an ordered list of mount
 * operations. The Lua binding builds it (csrc/lua/l_mount.c); the plan only
 * points at strings and arrays the caller keeps alive while it runs.
 *
 * Execution (isol_fs_child_setup), in the new mount namespace:
 *   1. propagation of the whole tree (MS_REC | private/slave/shared; or none),
 *   2. every operation's mount is prepared *detached* while host paths still
 *      mean the host: binds are open_tree(OPEN_TREE_CLONE) copies (so a
 *      source's absolute symlinks resolve on the host), fresh filesystems
 *      are fsopen/fsconfig/fsmount'ed; read-only/nosuid/... are set on the
 *      detached mount (mount_setattr), so nothing is ever writable by mistake,
 *   3. with a root: the root mount is attached on /tmp (the staging point,
 *      bubblewrap's choice: the original /tmp is only hidden in this private
 *      namespace and every source was opened before); with pivot_root and a
 *      hardened /proc or /sys, the tiny tmpfs its masks are cloned from is
 *      attached there first, under the root, and goes with the old root,
 *   4. each target is resolved *inside* the root by an O_PATH walk that
 *      refuses symlinks and ".." (so a symlink planted in the root can never
 *      send a mount to the host), missing directories/files are created, and
 *      the prepared mount is moved there (move_mount by fd, no path lookup);
 *      the directory of the previous target is kept open (until a mount
 *      covers it), so /etc/passwd, /etc/group, ... cost one walk to /etc
 *      and then one create-or-open of the last component each,
 *   5. pivot_root into the root and detach the old root (default), or chroot
 *      (weaker: the old root stays reachable by a chroot escape for a process
 *      with CAP_SYS_CHROOT; only when the recipe asks for mode "chroot", and
 *      then lua/isol/security.lua drops CAP_SYS_CHROOT unless the recipe
 *      keeps it by name; CAP_SYS_ADMIN, never in the default set, would
 *      also allow a way out).
 * Everything is syscalls on stack buffers: no allocation, no locks (it runs
 * between clone and exec). The same function serves isol.mount.* on the
 * calling process (a plan without root and with propagation "unchanged").
 */
#ifndef ISOL_MOUNT_H
#define ISOL_MOUNT_H

#include <stddef.h>

#include "error.h"

enum isol_mount_type {
	ISOL_MNT_TMPFS,   /* fresh tmpfs; opts: size, mode, uid, gid, nr_inodes */
	ISOL_MNT_BIND,    /* source (host path) bound on target; recursive, attrs */
	ISOL_MNT_PROC,    /* fresh proc (shows the pid namespace of PID 1 here),
	                     hardened unless `unmasked` (see ISOL_PROC_READONLY) */
	ISOL_MNT_DEV,     /* tmpfs with null zero full random urandom tty (bound
	                     from the host), a private devpts (pts, ptmx), shm,
	                     fd/stdin/stdout/stderr symlinks */
	ISOL_MNT_MQUEUE,  /* fresh mqueue (needs an ipc namespace) */
	ISOL_MNT_OVERLAY, /* opts: lowerdir, upperdir, workdir (host paths) */
	ISOL_MNT_FS,      /* generic: fstype + source (e.g. ext4 on /dev/loop3) */
	ISOL_MNT_REMOUNT, /* change attrs of the mount already at target */
	ISOL_MNT_DIR,     /* mkdir target (mode) */
	ISOL_MNT_SYMLINK, /* symlink target -> source */
	ISOL_MNT_SYSFS,   /* fresh sysfs, always read-only, /sys/firmware masked
	                     (needs a net namespace of the sandbox's user namespace) */
};

/* The standard hardening of a fresh /proc (runc's default spec, also
 * Docker's and crun's): these are bound read-only onto themselves... */
#define ISOL_PROC_READONLY "sys", "sysrq-trigger", "irq", "bus", "fs"
/* ...and these are hidden: a file under a read-only empty file, a
 * directory under a read-only empty tmpfs (they expose host memory, keys,
 * kernel addresses and timing, or hardware state). */
#define ISOL_PROC_MASKED                                                                                     \
	"kcore", "keys", "timer_list", "timer_stats", "sched_debug", "latency_stats", "acpi", "scsi",        \
		"asound", "interrupts"
/* Because part of that /proc is covered, the kernel refuses a further proc
 * mount from inside (it is not "fully visible"): `unshare -Urmpf
 * --mount-proc` in the sandbox fails, as in runc. */

/* fsconfig(FSCONFIG_SET_STRING, key, value) pairs (value NULL: a flag). */
struct isol_mount_kv {
	const char *key, *value;
};

struct isol_mount_op {
	int type;                         /* enum isol_mount_type */
	const char *target;               /* absolute; inside the root when there is one */
	const char *source;               /* BIND: host path; FS: device; SYMLINK: link text */
	const char *fstype;               /* FS only */
	const struct isol_mount_kv *opts; /* fsconfig options */
	size_t nopts;
	unsigned attr_set;      /* MOUNT_ATTR_RDONLY | NOSUID | NODEV | NOEXEC */
	unsigned attr_clr;      /* REMOUNT: attrs to clear (e.g. RDONLY for rw) */
	unsigned mode;          /* DIR / created parents: 0755 default */
	unsigned recursive : 1; /* BIND: the whole subtree (rbind) */
	unsigned optional : 1;  /* BIND: skip when the source does not exist */
	unsigned file : 1;      /* BIND: create the target as a file (source is not a dir) */
	unsigned unmasked : 1;  /* PROC: no read-only/masked paths (opt out) */
	unsigned nofollow : 1;  /* BIND: refuse a source path with a symlink in it
	                                     (resolved with openat2 RESOLVE_NO_SYMLINKS) */
};

enum isol_root_mode { ISOL_ROOT_NONE, ISOL_ROOT_PIVOT, ISOL_ROOT_CHROOT };

/* Propagation values: 0 leaves it unchanged, else MS_PRIVATE / MS_SLAVE /
 * MS_SHARED (applied recursively to "/"). */
struct isol_fs_plan {
	unsigned long propagation;
	int root_mode;                    /* enum isol_root_mode */
	const struct isol_mount_op *root; /* TMPFS, BIND (a host dir) or FS (an image);
	                                     its target is ignored */
	unsigned root_attr;               /* attrs set on the whole root at the end
	                                     (MOUNT_ATTR_RDONLY: a read-only root) */
	const struct isol_mount_op *ops;
	size_t nops;
};

/* Limits of one plan (the child keeps every prepared mount fd on its stack). */
#define ISOL_FS_MAX_OPS 128
#define ISOL_FS_MAX_FDS 512
#define ISOL_FS_MAX_OPTS 16

/* Run the plan in the current process (the cloned child between clone and
 * exec, or the caller after unshare(CLONE_NEWNS)). Async-signal-safe: no
 * allocation, no locks. On failure err names the step and the path,
 * e.g. "mount tmpfs on /scratch: No space left on device"; mounts made
 * before the failure stay (in the child they die with its namespace). */
int isol_fs_child_setup(const struct isol_fs_plan *fs, isol_error *err);

/* Nonzero if the plan changes the root (pivot_root or chroot). */
int isol_fs_has_new_root(const struct isol_fs_plan *fs);

/* Unmount target (MNT_DETACH when lazy). */
int isol_umount(const char *target, int lazy, isol_error *err);

/* Change propagation of the mount at path (recursive when rec). */
int isol_mount_propagation(const char *path, unsigned long mode, int rec, isol_error *err);

#endif
