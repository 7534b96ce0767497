/* Probes for spec/security_spec.lua, run inside sandboxes: TIOCSTI on
 * stdin, session keyring keys. Built by the spec with the host's cc. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "tiocsti") == 0) {
		char c = '#';
		if (ioctl(0, TIOCSTI, &c) < 0) { printf("tiocsti failed: %s\n", strerror(errno)); return 3; }
		printf("tiocsti injected\n");
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "addkey") == 0) {
		long id = syscall(SYS_add_key, "user", argv[2], "isol-secret", 11, KEY_SPEC_SESSION_KEYRING);
		if (id < 0) { printf("add_key failed: %s\n", strerror(errno)); return 3; }
		printf("%ld\n", id);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "readkey") == 0) {
		char buf[64] = { 0 };
		long n = syscall(SYS_keyctl, KEYCTL_READ, atol(argv[2]), buf, sizeof buf - 1);
		if (n < 0) { printf("read failed: %s\n", strerror(errno)); return 3; }
		printf("read %s\n", buf);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "revoke") == 0)
		return syscall(SYS_keyctl, KEYCTL_REVOKE, atol(argv[2])) < 0 ? 3 : 0;
	if (argc >= 3 && strcmp(argv[1], "session") == 0) {
		/* a fresh session keyring of the test's own, then exec the rest */
		if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "isol-spec", 0, 0, 0) < 0) {
			printf("join failed: %s\n", strerror(errno));
			return 3;
		}
		execvp(argv[2], argv + 2);
		return 127;
	}
	return 2;
}
