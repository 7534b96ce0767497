/*
 * Spec helper (spec/policy_spec.lua): try syscalls and print one line per
 * probe, "NAME ok" or "NAME errno=N". The *32 probes enter the kernel's
 * i386 table through `int $0x80` from this 64-bit program, which is what
 * a 32-bit binary does: the seccomp filter must cover that ABI too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long r, int e)
{
	if (r < 0)
		printf("%s errno=%d\n", name, e);
	else
		printf("%s ok\n", name);
}

#if defined(__x86_64__)
/* i386 numbers: getpid 20, keyctl 288, uname 122 */
static long int80(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return r;
}
#endif

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *n = argv[i];
		long r = 0;
		errno = 0;
		if (strcmp(n, "keyctl") == 0) /* KEYCTL_GET_KEYRING_ID of the session keyring */
			r = syscall(SYS_keyctl, 0, -3, 0);
		else if (strcmp(n, "bpf") == 0) /* BPF_MAP_CREATE with no attr: EFAULT/EINVAL unfiltered */
			r = syscall(SYS_bpf, 0, NULL, 0);
		else if (strcmp(n, "perf_event_open") == 0)
			r = syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
		else if (strcmp(n, "getpid") == 0)
			r = syscall(SYS_getpid);
		else if (strcmp(n, "personality") == 0) /* ADDR_NO_RANDOMIZE */
			r = personality(0x0040000);
		else if (strcmp(n, "tiocsti") == 0) {
			char c = 'x';
			r = ioctl(0, TIOCSTI, &c);
		}
#if defined(__x86_64__)
		else if (strcmp(n, "tiocsti32") == 0 || strcmp(n, "tiocsti_x32") == 0) {
			/* ioctl(0, TIOCSTI) through the i386 entry (54) and the x32
			 * one (514 with the x32 bit); unfiltered: ENOTTY or EFAULT
			 * (the pointer does not fit 32 bits), ENOSYS where the
			 * kernel has no such ABI */
			static char c = 'x';
			if (strcmp(n, "tiocsti32") == 0)
				r = int80(54, 0, TIOCSTI, (long)&c);
			else
				r = syscall(0x40000000L | 514, 0, TIOCSTI, &c);
			if (strcmp(n, "tiocsti32") == 0 && r < 0 && r > -4096) {
				errno = (int)-r;
				r = -1;
			}
		}
		else if (strcmp(n, "getpid32") == 0 || strcmp(n, "keyctl32") == 0) {
			r = strcmp(n, "getpid32") == 0 ? int80(20, 0, 0, 0) : int80(288, 0, -3, 0);
			if (r < 0 && r > -4096) {
				errno = (int)-r;
				r = -1;
			}
		}
#endif
		else {
			printf("%s unknown\n", n);
			continue;
		}
		report(n, r, errno);
	}
	return 0;
}
