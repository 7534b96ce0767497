/*
 * Landlock (one concern): ABI detection, ruleset building and
 * restrict_self, with raw syscalls (no libc wrapper; Debian 12's headers
 * stop at ABI 2, so the newer constants are defined here).
 *
 * A recipe names right groups: read (READ_FILE, READ_DIR), write
 * (WRITE_FILE, REMOVE_*, MAKE_*, and REFER from ABI 2, TRUNCATE from ABI
 * 3), exec (EXECUTE), bind_tcp and connect_tcp (ABI 4). Only the groups it
 * names are handled: `{ write = { "/tmp" } }` restricts writing to /tmp and
 * leaves reading and executing alone.
 */
#define _GNU_SOURCE
#include "landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2

#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_REMOVE_DIR (1ULL << 4)
#define FS_REMOVE_FILE (1ULL << 5)
#define FS_MAKE_CHAR (1ULL << 6)
#define FS_MAKE_DIR (1ULL << 7)
#define FS_MAKE_REG (1ULL << 8)
#define FS_MAKE_SOCK (1ULL << 9)
#define FS_MAKE_FIFO (1ULL << 10)
#define FS_MAKE_BLOCK (1ULL << 11)
#define FS_MAKE_SYM (1ULL << 12)
#define FS_REFER (1ULL << 13)
#define FS_TRUNCATE (1ULL << 14)
#define NET_BIND_TCP (1ULL << 0)
#define NET_CONNECT_TCP (1ULL << 1)

/* Rights that apply to a regular file (others only to directories). */
#define FS_FILE_RIGHTS (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
};

/* packed like the kernel's struct (12 bytes) */
#pragma pack(push, 1)
struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
};
#pragma pack(pop)
_Static_assert(sizeof(struct ll_path_beneath) == 12, "landlock_path_beneath_attr is packed");

struct ll_net_port {
	uint64_t allowed_access;
	uint64_t port;
};

int isol_landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	return v < 0 ? -errno : (int)v;
}

int isol_landlock_abi_needed(unsigned groups)
{
	return groups & (ISOL_LL_BIND_TCP | ISOL_LL_CONNECT_TCP) ? 4 : 1;
}

static uint64_t fs_rights(unsigned groups, int abi)
{
	uint64_t r = 0;

	if (groups & ISOL_LL_READ)
		r |= FS_READ_FILE | FS_READ_DIR;
	if (groups & ISOL_LL_EXEC)
		r |= FS_EXECUTE;
	if (groups & ISOL_LL_WRITE) {
		r |= FS_WRITE_FILE | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_CHAR | FS_MAKE_DIR |
		     FS_MAKE_REG | FS_MAKE_SOCK | FS_MAKE_FIFO | FS_MAKE_BLOCK | FS_MAKE_SYM;
		if (abi >= 2)
			r |= FS_REFER;
		if (abi >= 3)
			r |= FS_TRUNCATE;
	}
	return r;
}

static uint64_t net_rights(unsigned groups)
{
	return (groups & ISOL_LL_BIND_TCP ? NET_BIND_TCP : 0) |
	       (groups & ISOL_LL_CONNECT_TCP ? NET_CONNECT_TCP : 0);
}

static const char *group_name(unsigned g)
{
	return g & ISOL_LL_WRITE ? "write" : g & ISOL_LL_EXEC ? "exec" : "read";
}

static int add_paths(int rs, const struct isol_landlock *ll, uint64_t handled, isol_error *err)
{
	for (size_t i = 0; i < ll->npaths; i++) {
		const struct isol_landlock_path *p = &ll->paths[i];
		struct ll_path_beneath pb;
		struct stat st;
		int fd = open(p->path, O_PATH | O_CLOEXEC);

		if (fd < 0)
			return isol_fail(err, errno, "landlock %s %s", group_name(p->groups), p->path);
		pb.allowed_access = fs_rights(p->groups, ll->abi) & handled;
		if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
			pb.allowed_access &= FS_FILE_RIGHTS;
		pb.parent_fd = fd;
		if (pb.allowed_access &&
		    syscall(SYS_landlock_add_rule, rs, LL_RULE_PATH_BENEATH, &pb, 0) < 0) {
			int e = errno;
			close(fd);
			return isol_fail(err, e, "landlock rule %s %s", group_name(p->groups), p->path);
		}
		close(fd);
	}
	return 0;
}

static int add_ports(int rs, const struct isol_landlock *ll, isol_error *err)
{
	for (size_t i = 0; i < ll->nports; i++) {
		struct ll_net_port np = { net_rights(ll->ports[i].groups), ll->ports[i].port };
		if (syscall(SYS_landlock_add_rule, rs, LL_RULE_NET_PORT, &np, 0) < 0)
			return isol_fail(err, errno, "landlock rule tcp port %u",
					 (unsigned)ll->ports[i].port);
	}
	return 0;
}

int isol_landlock_child_apply(const struct isol_landlock *ll, int *handoff_fd, isol_error *err)
{
	struct ll_ruleset_attr attr;
	size_t size = sizeof attr.handled_access_fs;
	int rs, r;

	if (handoff_fd)
		*handoff_fd = -1;
	if (!ll)
		return 0;
	attr.handled_access_fs = fs_rights(ll->handled, ll->abi);
	attr.handled_access_net = net_rights(ll->handled);
	if (attr.handled_access_net)
		size = sizeof attr;
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rs < 0)
		return isol_fail(err, errno, "landlock_create_ruleset (ABI %d)", ll->abi);
	r = add_paths(rs, ll, attr.handled_access_fs, err);
	if (r == 0)
		r = add_ports(rs, ll, err);
	if (r < 0) {
		close(rs);
		return r;
	}
	if (handoff_fd) {
		*handoff_fd = rs;
		return 0;
	}
	if (ll->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = isol_fail(err, errno, "prctl NO_NEW_PRIVS");
		close(rs);
		return r;
	}
	r = isol_landlock_restrict(rs, err);
	return r < 0 ? r : 0;
}

int isol_landlock_restrict(int fd, isol_error *err)
{
	long r = syscall(SYS_landlock_restrict_self, fd, 0);
	int e = errno;

	close(fd);
	if (r < 0 && e == EPERM)
		return isol_fail(err, e, "landlock_restrict_self (needs no_new_privs or CAP_SYS_ADMIN)");
	if (r < 0)
		return isol_fail(err, e, "landlock_restrict_self");
	return 0;
}
