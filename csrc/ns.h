/*
 * Namespaces: names <-> CLONE_* flags, unshare of the caller, setns through a
 * pidfd, uid/gid maps (written directly, or through the setuid helpers
 * newuidmap/newgidmap for subordinate ranges), hostname/domainname and
 * time-namespace offsets.
 */
#ifndef ISOL_NS_H
#define ISOL_NS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "fileio.h" /* isol_write_file: uid_map, gid_map, setgroups */

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

struct isol_ns_kind {
	const char *name;     /* "mount", "uts", ... as used in recipes */
	const char *procname; /* file under /proc/<pid>/ns/ */
	int flag;             /* CLONE_NEW* */
};

/* The eight kinds, terminated by a {NULL, NULL, 0} entry. Static data. */
#define ISOL_NS_KINDS 8
extern const struct isol_ns_kind isol_ns_kinds[ISOL_NS_KINDS + 1];

/* CLONE_* flag for a namespace name ("mount" or "mnt", "net", ...), 0 if unknown. */
int isol_ns_flag(const char *name);

/* One contiguous id range: ids [inside, inside+count) map to [outside, ...). */
struct isol_idmap {
	uint32_t inside, outside, count;
};

/* Format a map for /proc/<pid>/{uid,gid}_map into buf (no allocation).
 * Returns the length or -ENOSPC. */
int isol_idmap_format(char *buf, size_t size, const struct isol_idmap *m, size_t n);

/* Write uid/gid maps of process `pid` (0 = self). setgroups_deny writes "deny"
 * to /proc/<pid>/setgroups first (required for unprivileged gid maps).
 * Either map may be NULL/0 to skip it. Async-signal-safe. */
int isol_write_id_maps(pid_t pid, const struct isol_idmap *uid, size_t nuid, const struct isol_idmap *gid,
		       size_t ngid, int setgroups_deny, isol_error *err);

/* Set the uid/gid maps of child `pid` through the setuid helpers newuidmap
 * and newgidmap (Debian `uidmap`), which check the ranges against the
 * caller's subordinate ids in /etc/subuid and /etc/subgid. They set the
 * setgroups policy themselves ("allow" for a range from /etc/subgid), so
 * nothing is written to /proc/<pid>/setgroups here. Parent side only: it
 * posix_spawns each helper (empty environment, its stderr captured for the
 * message) and waits for it. At most ISOL_IDMAP_HELPER_MAX ranges per map.
 * Errors: ENOENT (helper not installed), EPERM (the helper refused: its
 * message is in err), E2BIG (too many ranges), or the spawn/wait errno. */
#define ISOL_IDMAP_HELPER_MAX 32
int isol_id_maps_helper(pid_t pid, const struct isol_idmap *uid, size_t nuid, const struct isol_idmap *gid,
			size_t ngid, isol_error *err);

/* The one call of spawn.c's parent: the maps of child `pid`, through the
 * helpers when `helper` is set, else written directly (isol_write_id_maps). */
int isol_set_id_maps(pid_t pid, const struct isol_idmap *uid, size_t nuid, const struct isol_idmap *gid,
		     size_t ngid, int setgroups_deny, int helper, isol_error *err);

/* 1 when the caller holds CAP_SYS_ADMIN (effective) in its own user
 * namespace, as creating any namespace kind but "user" requires; 0 when it
 * does not (an ordinary user: it needs a new user namespace first). */
int isol_ns_privileged(void);

/* Write time offsets (seconds) for a time namespace not yet entered by any
 * task: /proc/<pid>/timens_offsets (0 = self). Async-signal-safe. */
int isol_write_time_offsets(pid_t pid, int64_t monotonic, int64_t boottime, isol_error *err);

/* unshare(2) the calling process with flags. CLONE_NEWPID only affects
 * children (documented kernel behaviour). Returns 0 or -errno. */
int isol_unshare(int flags, isol_error *err);

/* Enter the namespaces `flags` of the process behind pidfd (setns(2) with a
 * pidfd, Linux 5.8+). Returns 0 or -errno. */
int isol_setns_pidfd(int pidfd, int flags, isol_error *err);

/* Inode of /proc/<pid>/ns/<procname> (pid 0 = self); 0 and err on failure. */
uint64_t isol_ns_inode(pid_t pid, const char *procname, isol_error *err);

#endif
