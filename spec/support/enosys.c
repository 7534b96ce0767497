/* Spec helper: run a command with one system call failing ENOSYS, as on a
 * kernel that does not have it (a seccomp filter, under no_new_privs; the
 * command's children inherit it). Checks that the filter works first.
 * usage: enosys NR CMD [ARG...] */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char *end;
	unsigned long nr;

	if (argc < 3) {
		fprintf(stderr, "usage: enosys NR CMD [ARG...]\n");
		return 2;
	}
	nr = strtoul(argv[1], &end, 0);
	if (*end || nr > 4095) {
		fprintf(stderr, "enosys: bad system call number %s\n", argv[1]);
		return 2;
	}
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		perror("enosys: seccomp");
		return 2;
	}
	if (syscall((long)nr, -1, NULL, 0, NULL, 0) != -1 || errno != ENOSYS) {
		fprintf(stderr, "enosys: the filter does not work\n");
		return 2;
	}
	execvp(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
}
