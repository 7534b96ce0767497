/* Session keyring: the child joins a fresh anonymous one (see keyring.h). */
#define _GNU_SOURCE
#include "keyring.h"

#include <errno.h>
#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int isol_keyring_child_apply(const struct isol_keyring *k, isol_error *err)
{
	if (!k->join)
		return 0;
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, (const char *)0, 0, 0, 0) < 0) {
		if (errno == ENOSYS)
			return 0;
		return isol_fail(err, errno, "join a new session keyring");
	}
	return 0;
}
