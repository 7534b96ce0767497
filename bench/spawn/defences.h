/* The child-side steps of isol's boundary for a recipe like
 * bench/spawn/recipe.lua, as raw system calls, for the floors' -d option:
 * what the sandbox's own defences cost, measured apart from isol's
 * bookkeeping. The same calls, in the same order, as csrc/spawn.c's child
 * for that recipe (see `strace -f build/bin/isol run recipe.lua`):
 *   before "go": every signal disposition back to the default, a new
 *     session, PDEATHSIG, loopback up (with a network namespace);
 *   after "go": fds 3.. close-on-exec, a session keyring of its own, the
 *     capability bounding set down to Docker's 14 and the permitted and
 *     effective sets with it, no_new_privs, and a 16-instruction seccomp
 *     filter (isol's terminal filter: ioctl TIOCSTI and TIOCLINUX denied).
 * A failure exits 1: a floor that skipped a step would look cheaper. */
#ifndef BENCH_DEFENCES_H
#define BENCH_DEFENCES_H

#include <errno.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void need(long r)
{
	if (r < 0)
		_exit(1);
}

static void defences_early(int loopback)
{
	/* the kernel's struct sigaction */
	struct {
		unsigned long handler, flags, restorer, mask;
	} sa, dfl = { 0, 0, 0, 0 };
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} m;
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	char ack[512];
	int s;

	for (int sig = 1; sig < 65; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && syscall(SYS_rt_sigaction, sig, NULL, &sa, 8) == 0 &&
		    sa.handler != (unsigned long)SIG_DFL)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
	need(setsid());
	need(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
	if (!loopback)
		return;
	memset(&m, 0, sizeof m);
	m.h.nlmsg_len = sizeof m;
	m.h.nlmsg_type = RTM_NEWLINK;
	m.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	m.h.nlmsg_seq = 1;
	m.i.ifi_family = AF_UNSPEC;
	m.i.ifi_index = 1; /* lo */
	m.i.ifi_flags = m.i.ifi_change = IFF_UP;
	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	need(s);
	need(sendto(s, &m, sizeof m, 0, (struct sockaddr *)&to, sizeof to));
	need(recv(s, ack, sizeof ack, 0));
	close(s);
}

static void defences_late(void)
{
	/* Docker's default capabilities (isol's default `caps`) */
	const uint64_t keep = 1ULL << CAP_CHOWN | 1ULL << CAP_DAC_OVERRIDE | 1ULL << CAP_FOWNER |
			      1ULL << CAP_FSETID | 1ULL << CAP_KILL | 1ULL << CAP_SETGID |
			      1ULL << CAP_SETUID | 1ULL << CAP_SETPCAP | 1ULL << CAP_NET_BIND_SERVICE |
			      1ULL << CAP_NET_RAW | 1ULL << CAP_SYS_CHROOT | 1ULL << CAP_MKNOD |
			      1ULL << CAP_AUDIT_WRITE | 1ULL << CAP_SETFCAP;
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	const uint32_t req = (uint32_t)offsetof(struct seccomp_data, args[1]);
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 5, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 16, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40000000u | 16, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40000000u | 514, 3, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 54, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, req),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog fprog = { sizeof prog / sizeof prog[0], prog };

	need(syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */));
	need(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL));
	need(syscall(SYS_capget, &h, d));
	for (int cap = 0; cap < 64; cap++)
		if (!(keep & 1ULL << cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno != EINVAL)
				_exit(1);
			break; /* past the kernel's last capability */
		}
	d[0].permitted = d[0].effective = (uint32_t)keep;
	d[1].permitted = d[1].effective = (uint32_t)(keep >> 32);
	d[0].inheritable = d[1].inheritable = 0;
	need(syscall(SYS_capset, &h, d));
	need(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	need(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog));
}

#endif
