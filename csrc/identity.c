/* The sandbox's identity: switch to mapped ids in the child (see identity.h). */
#define _GNU_SOURCE
#include "identity.h"

#include <errno.h>
#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

int isol_identity_child_apply(const struct isol_identity *id, isol_error *err)
{
	/* Raw syscalls: glibc's setres[ug]id broadcast to every thread of the
	 * process (a signal handshake) - this child has one thread anyway. */
	if (id->clear_groups && syscall(SYS_setgroups, 0, (gid_t *)0) < 0)
		return isol_fail(err, errno, "drop supplementary groups");
	if (syscall(SYS_setresgid, id->gid, id->gid, id->gid) < 0)
		return isol_fail(err, errno, "become gid %u inside", (unsigned)id->gid);
	if (syscall(SYS_setresuid, id->uid, id->uid, id->uid) < 0)
		return isol_fail(err, errno, "become uid %u inside", (unsigned)id->uid);
	return 0;
}
