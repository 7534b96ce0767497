/*
 * Syscall filters (one concern): libseccomp compiles a profile to classic
 * BPF in the parent; the child loads it with one seccomp(2) call.
 *
 * Why compile in the parent: libseccomp allocates, so it cannot run between
 * clone and exec; a sandbox compiles once and every spawn reuses the bytes.
 * libseccomp 2.5 has no export-to-memory (seccomp_export_bpf_mem is 2.6),
 * so the program is exported to a memfd and read back.
 *
 * Architectures: the filter covers every ABI the kernel runs, so that a
 * denied call cannot be reached through another entry (x86_64 kernels also
 * run i386 code through `int $0x80`, and x32 code when built with it;
 * arm64 runs arm). A call through an ABI the filter does not list fails
 * with ENOSYS (libseccomp's bad-arch action, set so).
 *
 * The `default` profile: allow everything but what Docker's default profile
 * (moby/profiles seccomp/default.json; the reasons are Docker's table of
 * "significant syscalls blocked by the default profile",
 * docs.docker.com/engine/security/seccomp) denies and that fits isol.
 * Docker's is an allow-list; isol keeps the kernel's newer calls working
 * and denies by name instead:
 *   - keyctl, add_key, request_key: the kernel keyring is not namespaced.
 *   - bpf, perf_event_open: large kernel attack surface, host-wide data.
 *   - userfaultfd: a tool to win kernel races (Docker; also a sysctl).
 *   - kexec_load, kexec_file_load, reboot: replace or stop the host kernel.
 *   - init_module, finit_module, delete_module, create_module,
 *     query_module, get_kernel_syms: kernel modules.
 *   - iopl, ioperm: raw I/O ports. vm86, vm86old: old i386 modes.
 *   - swapon, swapoff, acct, quotactl, syslog: host-wide state.
 *   - clock_settime, clock_adjtime, settimeofday, stime: the clock is not
 *     namespaced (adjtimex stays: changing time needs CAP_SYS_TIME, and
 *     reading is common; Docker allows it too).
 *   - lookup_dcookie, nfsservctl, uselib, _sysctl, sysfs, ustat: obsolete
 *     or removed, old bug sources.
 *   - open_by_handle_at, name_to_handle_at: the "shocker" escape out of a
 *     bind mount to any inode of the filesystem.
 *   - mbind, set_mempolicy, move_pages: NUMA placement of host memory
 *     (Docker gates them with CAP_SYS_NICE).
 *   - io_uring_setup, io_uring_enter, io_uring_register: denied by Docker
 *     since Engine 25 (moby/profiles), a steady source of kernel CVEs.
 *   - vhangup: CAP_SYS_TTY_CONFIG in Docker.
 *   - personality, except the values Docker allows (0 = PER_LINUX,
 *     8 = PER_LINUX32, 0x20000 = UNAME26, 0x20008): no ADDR_NO_RANDOMIZE,
 *     READ_IMPLIES_EXEC or foreign execution domains. libseccomp compares
 *     an argument once per rule, so the rules are "above 0x20008" (every
 *     flag but UNAME26) and "bit 0, 1, 2 or 4 set" (the domains other than
 *     PER_LINUX32); values made only of the undefined bits 5..16 pass, and,
 *     unlike Docker, the query value 0xffffffff is denied.
 *   - ioctl TIOCSTI (push input into the terminal of the caller) and
 *     TIOCLINUX (the same through the console), as the kernel's own
 *     dev.tty.legacy_tiocsti=0 and Docker do.
 *   - Unless the recipe grants CAP_SYS_ADMIN (Docker's includes by
 *     capability): mount, umount, umount2, pivot_root, the new mount API
 *     (open_tree, move_mount, fsopen, fsconfig, fsmount, fspick,
 *     mount_setattr), setns, and clone/unshare with namespace flags.
 *     CLONE_NEWUSER alone follows nested_userns.
 * ptrace, process_vm_readv/writev and kcmp stay allowed, as in Docker on
 * kernels >= 4.8 (a pid namespace bounds whom they reach).
 *
 * nested_userns = false: clone/unshare with CLONE_NEWUSER fail. clone3
 * passes its flags in memory, which seccomp cannot read, so clone3 fails
 * with ENOSYS whenever a flag must be checked: libc then falls back to
 * clone (Chromium, systemd and Docker do the same). bubblewrap's
 * --disable-userns reaches the same end by another road (it sets
 * user.max_user_namespaces to 1 in the sandbox's own user namespace).
 *
 * The `strict` profile: everything denied but the list in strict_allow[]
 * and the ioctl requests in strict_ioctls[],
 * what sh, coreutils and `python3 -c` computations use, plus what isol's
 * init needs to supervise (clone without namespace flags, wait4/waitid,
 * kill, signalfd, timerfd, poll, pidfd ops, prctl, execveat, landlock
 * restrict_self).
 */
#define _GNU_SOURCE
#include "seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif

/* name lists, kept dense */
/* clang-format off */
static const char *const default_deny[] = {
	"keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
	"kexec_load", "kexec_file_load", "reboot", "init_module", "finit_module",
	"delete_module", "create_module", "query_module", "get_kernel_syms", "iopl",
	"ioperm", "vm86", "vm86old", "swapon", "swapoff", "acct", "quotactl", "syslog",
	"clock_settime", "clock_adjtime", "settimeofday", "stime", "lookup_dcookie",
	"nfsservctl", "uselib", "_sysctl", "sysfs", "ustat", "open_by_handle_at",
	"name_to_handle_at", "mbind", "set_mempolicy", "move_pages", "io_uring_setup",
	"io_uring_enter", "io_uring_register", "vhangup",
};

static const char *const admin_deny[] = {
	"mount", "umount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen",
	"fsconfig", "fsmount", "fspick", "mount_setattr", "setns",
};

static const char *const strict_allow[] = {
	/* files and descriptors */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"preadv2", "pwritev2", "open", "openat", "openat2", "creat", "close", "close_range",
	"stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "lseek",
	"_llseek", "stat64", "fstat64", "lstat64", "fstatat64", "statfs64", "fstatfs64",
	"access", "faccessat", "faccessat2", "dup", "dup2", "dup3", "fcntl", "fcntl64",
	"flock", "fsync", "fdatasync", "sync", "syncfs", "truncate", "ftruncate",
	"truncate64", "ftruncate64", "fallocate", "fadvise64", "fadvise64_64",
	"getdents", "getdents64", "getcwd", "chdir", "fchdir", "rename", "renameat",
	"renameat2", "mkdir", "mkdirat", "rmdir", "link", "linkat", "unlink", "unlinkat",
	"symlink", "symlinkat", "readlink", "readlinkat", "chmod", "fchmod", "fchmodat",
	"fchmodat2", "chown", "fchown", "lchown", "fchownat", "chown32", "fchown32",
	"lchown32", "umask", "utime", "utimes", "utimensat", "futimesat", "mknod", "mknodat",
	"getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
	"sendfile", "sendfile64", "copy_file_range", "splice", "tee", "pipe",
	"pipe2", "select", "_newselect", "pselect6", "poll", "ppoll", "epoll_create",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"eventfd", "eventfd2", "memfd_create", "socketpair", "inotify_init1",
	"inotify_add_watch", "inotify_rm_watch",
	/* memory */
	"brk", "mmap", "mmap2", "mprotect", "munmap", "mremap", "madvise", "mincore",
	"msync", "mlock", "munlock", "membarrier", "get_mempolicy",
	/* signals and time */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigreturn", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_sigpending", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
	"sigaltstack", "signalfd", "signalfd4", "sigaction", "sigprocmask", "alarm",
	"pause", "setitimer", "getitimer", "nanosleep", "clock_nanosleep", "clock_gettime",
	"clock_getres", "gettimeofday", "time", "times", "timerfd_create",
	"timerfd_settime", "timerfd_gettime", "timer_create", "timer_settime",
	"timer_gettime", "timer_delete", "timer_getoverrun", "adjtimex",
	/* processes */
	"execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid", "kill",
	"tgkill", "tkill", "clone", "fork", "vfork", "getpid", "getppid", "gettid",
	"getuid", "geteuid", "getgid", "getegid", "getuid32", "geteuid32", "getgid32",
	"getegid32", "getresuid", "getresgid", "getresuid32", "getresgid32", "getgroups",
	"getgroups32", "getpgrp", "getpgid", "setpgid", "getsid", "setsid", "uname",
	"sysinfo", "getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage",
	"getpriority", "setpriority", "sched_yield", "sched_getaffinity",
	"sched_setaffinity", "sched_getparam", "sched_getscheduler",
	"sched_get_priority_max", "sched_get_priority_min", "getcpu", "capget",
	"arch_prctl", "set_thread_area", "get_thread_area", "set_tid_address",
	"set_robust_list", "get_robust_list", "rseq", "futex", "futex_time64",
	"futex_waitv", "getrandom", "prctl", "personality", "pidfd_open",
	"pidfd_send_signal", "landlock_restrict_self", "restart_syscall",
};
/* clang-format on */

/* strict: terminal queries and settings, non-blocking and close-on-exec
 * flags, bytes available; not TIOCSTI or TIOCLINUX (input injection). */
static const unsigned long strict_ioctls[] = {
	TCGETS,     TCSETS,     TCSETSW,  TCSETSF, TCFLSH,   TIOCGPGRP, TIOCSPGRP,
	TIOCGWINSZ, TIOCSWINSZ, FIONREAD, FIONBIO, FIONCLEX, FIOCLEX,   FIOASYNC,
};

/* Namespace flags that clone(2) can carry (CLONE_NEWTIME shares its bit
 * with CSIGNAL there, so it is an unshare-only flag). */
static const unsigned long clone_ns[] = {
	CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWCGROUP,
};

static int in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

int isol_seccomp_known(const char *name)
{
	return seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR;
}

/* Rules go to a sink: libseccomp's context when compiling, a list when
 * exporting (OCI). One rule set, two consumers. */
struct sink {
	isol_seccomp_sink fn;
	void *ctx;
};

/* Emit one rule; a name this libseccomp lacks is skipped (the built-in
 * lists name calls of every architecture). */
static int add(const struct sink *s, uint32_t action, const char *name, unsigned n,
	       const struct scmp_arg_cmp *cmp, isol_error *err)
{
	struct isol_seccomp_rule r = { .action = action, .name = name, .n = n };

	if (seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR)
		return 0;
	for (unsigned i = 0; i < n && i < 2; i++)
		r.cmp[i] = cmp[i];
	return s->fn(s->ctx, &r, err);
}

static int add_list(const struct sink *s, uint32_t action, const char *const *names, size_t n,
		    const struct isol_seccomp_opts *o, isol_error *err)
{
	for (size_t i = 0; i < n; i++) {
		if (in_list(names[i], o->allow, o->nallow))
			continue;
		if (add(s, action, names[i], 0, NULL, err) < 0)
			return -1;
	}
	return 0;
}

/* Deny clone/unshare carrying any of `flags`: one rule per flag, since a
 * rule cannot test "any bit of a mask". */
static int deny_ns_flags(const struct sink *s, uint32_t deny, const char *call, const unsigned long *flags,
			 size_t n, isol_error *err)
{
	for (size_t i = 0; i < n; i++) {
		struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i]);
		if (add(s, deny, call, 1, &c, err) < 0)
			return -1;
	}
	return 0;
}

static int build_rules(const struct sink *ctx, const struct isol_seccomp_opts *o, uint32_t deny,
		       isol_error *err)
{
	int strict = o->profile == ISOL_SECCOMP_STRICT;
	int dflt = o->profile == ISOL_SECCOMP_DEFAULT;
	int guard_ns = dflt && !o->sys_admin;
	unsigned long userns[] = { CLONE_NEWUSER };
	unsigned long unshare_ns[] = { CLONE_NEWNS,  CLONE_NEWUTS,    CLONE_NEWIPC, CLONE_NEWNET,
				       CLONE_NEWPID, CLONE_NEWCGROUP, CLONE_NEWTIME };

	if (strict) {
		unsigned long mask = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID |
				     CLONE_NEWCGROUP | CLONE_NEWUSER;
		struct scmp_arg_cmp noflags = SCMP_A0(SCMP_CMP_MASKED_EQ, mask, 0);
		for (size_t i = 0; i < sizeof strict_allow / sizeof *strict_allow; i++) {
			const char *n = strict_allow[i];
			if (strcmp(n, "clone") == 0 || in_list(n, o->deny, o->ndeny))
				continue;
			if (add(ctx, SCMP_ACT_ALLOW, n, 0, NULL, err) < 0)
				return -1;
		}
		/* clone without namespace flags (threads, fork, the init's vfork) */
		if (!in_list("clone", o->deny, o->ndeny) &&
		    add(ctx, SCMP_ACT_ALLOW, "clone", 1, &noflags, err) < 0)
			return -1;
		/* ioctl: only these requests (an unconditional rule would win
		 * over any exception). The kernel reads the request as 32 bits,
		 * so the comparison masks the upper half. */
		for (size_t i = 0;
		     i < sizeof strict_ioctls / sizeof *strict_ioctls && !in_list("ioctl", o->deny, o->ndeny);
		     i++) {
			struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, strict_ioctls[i]);
			if (add(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &c, err) < 0)
				return -1;
		}
	}
	/* Pushing input into a terminal (TIOCSTI) or console (TIOCLINUX):
	 * denied unless the options allow it, whatever the profile (strict's
	 * ioctl allow-list never has them). */
	if (o->deny_tty && !strict && !in_list("ioctl", o->allow, o->nallow)) {
		struct scmp_arg_cmp tty[2] = {
			SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, TIOCSTI),
			SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, TIOCLINUX),
		};
		for (int i = 0; i < 2; i++)
			if (add(ctx, deny, "ioctl", 1, &tty[i], err) < 0)
				return -1;
	}
	if (dflt) {
		if (add_list(ctx, deny, default_deny, sizeof default_deny / sizeof *default_deny, o, err) < 0)
			return -1;
		/* personality: every flag but UNAME26 is above 0x20008, and the
		 * foreign execution domains set bits 0..4 (8 is PER_LINUX32) */
		if (!in_list("personality", o->allow, o->nallow)) {
			struct scmp_arg_cmp gt = SCMP_A0(SCMP_CMP_GT, 0x20008);
			if (add(ctx, deny, "personality", 1, &gt, err) < 0)
				return -1;
			for (unsigned b = 0; b <= 4; b++) {
				struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, 1UL << b, 1UL << b);
				if (b != 3 && add(ctx, deny, "personality", 1, &c, err) < 0)
					return -1;
			}
		}
	}
	if (guard_ns) {
		if (add_list(ctx, deny, admin_deny, sizeof admin_deny / sizeof *admin_deny, o, err) < 0)
			return -1;
		if (!in_list("clone", o->allow, o->nallow) &&
		    deny_ns_flags(ctx, deny, "clone", clone_ns, sizeof clone_ns / sizeof *clone_ns, err) < 0)
			return -1;
		if (!in_list("unshare", o->allow, o->nallow) &&
		    deny_ns_flags(ctx, deny, "unshare", unshare_ns, sizeof unshare_ns / sizeof *unshare_ns,
				  err) < 0)
			return -1;
	}
	if (!strict && !o->nested_userns) {
		if (deny_ns_flags(ctx, deny, "clone", userns, 1, err) < 0 ||
		    deny_ns_flags(ctx, deny, "unshare", userns, 1, err) < 0)
			return -1;
	}
	/* clone3's flags are out of seccomp's reach: ENOSYS sends libc back to
	 * clone, whose flags the rules above check. */
	if ((guard_ns || strict || !o->nested_userns) && !in_list("clone3", o->allow, o->nallow) &&
	    add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, err) < 0)
		return -1;
	for (size_t i = 0; i < o->ndeny; i++)
		if (add(ctx, deny, o->deny[i], 0, NULL, err) < 0)
			return -1;
	if (strict)
		for (size_t i = 0; i < o->nallow; i++)
			if (add(ctx, SCMP_ACT_ALLOW, o->allow[i], 0, NULL, err) < 0)
				return -1;
	return 0;
}

/* Does the kernel run x32 code? (CONFIG_X86_X32_ABI; off in Debian's
 * kernels.) A filter section for an ABI the kernel refuses anyway only
 * costs load time (about a third of the program). */
static int kernel_runs_x32(void)
{
#if defined(__x86_64__)
	errno = 0;
	return syscall(0x40000000L | SYS_getpid) >= 0 || errno != ENOSYS;
#else
	return 0;
#endif
}

static int add_arches(scmp_filter_ctx ctx, isol_error *err)
{
	uint32_t native = seccomp_arch_native(), extra[2];
	size_t n = 0;
	int r;

	if (native == SCMP_ARCH_X86_64) {
		extra[n++] = SCMP_ARCH_X86;
		if (kernel_runs_x32())
			extra[n++] = SCMP_ARCH_X32;
	} else if (native == SCMP_ARCH_AARCH64) {
		extra[n++] = SCMP_ARCH_ARM;
	}
	for (size_t i = 0; i < n; i++) {
		r = seccomp_arch_add(ctx, extra[i]);
		if (r < 0 && r != -EEXIST)
			return isol_fail(err, -r, "seccomp_arch_add %#x", extra[i]);
	}
	/* A call through an ABI the filter does not list (x32 on a kernel
	 * without it) fails like on a kernel without that ABI, rather than
	 * killing the process. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS));
	if (r < 0)
		return isol_fail(err, -r, "seccomp_attr_set ACT_BADARCH");
	return 0;
}

/* libseccomp 2.5 exports to an fd only: a memfd, read back. */
static int export_bpf(scmp_filter_ctx ctx, struct isol_seccomp *out, isol_error *err)
{
	isol_cleanup_fd int fd = memfd_create("isol-seccomp", MFD_CLOEXEC);
	struct stat st;
	void *buf;
	int r;

	if (fd < 0)
		return isol_fail(err, errno, "seccomp: memfd_create");
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return isol_fail(err, -r, "seccomp_export_bpf");
	if (fstat(fd, &st) < 0)
		return isol_fail(err, errno, "seccomp: fstat memfd");
	if (st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) ||
	    st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
		return isol_failx(err, E2BIG, "seccomp: filter of %lld bytes (at most %d instructions)",
				  (long long)st.st_size, BPF_MAXINSNS);
	buf = malloc((size_t)st.st_size);
	if (!buf)
		return isol_fail(err, ENOMEM, "seccomp: filter");
	if (pread(fd, buf, (size_t)st.st_size, 0) != (ssize_t)st.st_size) {
		free(buf);
		return isol_fail(err, errno ? errno : EIO, "seccomp: read back the filter");
	}
	out->prog.filter = buf;
	out->prog.len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
	return 0;
}

/* The libseccomp sink. */
static int to_ctx(void *ctx, const struct isol_seccomp_rule *rule, isol_error *err)
{
	int nr = seccomp_syscall_resolve_name(rule->name);
	int r = seccomp_rule_add_array(ctx, rule->action, nr, rule->n, rule->cmp);

	/* -EACCES: the action equals the default one (nothing to add). */
	if (r < 0 && r != -EACCES && r != -EDOM)
		return isol_fail(err, -r, "seccomp rule for %s", rule->name);
	return 0;
}

static int check_opts(const struct isol_seccomp_opts *o, isol_error *err)
{
	for (size_t i = 0; i < o->nallow; i++)
		if (!isol_seccomp_known(o->allow[i]))
			return isol_failx(err, EINVAL, "seccomp.allow[%zu]: unknown syscall \"%s\"", i + 1,
					  o->allow[i]);
	for (size_t i = 0; i < o->ndeny; i++)
		if (!isol_seccomp_known(o->deny[i]))
			return isol_failx(err, EINVAL, "seccomp.deny[%zu]: unknown syscall \"%s\"", i + 1,
					  o->deny[i]);
	if (o->action == ISOL_SECCOMP_ERRNO && (o->errnum < 1 || o->errnum > 4095))
		return isol_failx(err, EINVAL, "seccomp.errno: %d out of 1..4095", o->errnum);
	return 0;
}

static uint32_t deny_action(const struct isol_seccomp_opts *o)
{
	return o->action == ISOL_SECCOMP_KILL  ? SCMP_ACT_KILL_PROCESS
	       : o->action == ISOL_SECCOMP_LOG ? SCMP_ACT_LOG
					       : SCMP_ACT_ERRNO((uint32_t)o->errnum);
}

int isol_seccomp_rules(const struct isol_seccomp_opts *o, uint32_t *dflt, isol_seccomp_sink fn, void *ctx,
		       isol_error *err)
{
	struct sink s = { fn, ctx };
	uint32_t deny;

	if (check_opts(o, err) < 0)
		return err && err->code ? -err->code : -EINVAL;
	deny = deny_action(o);
	*dflt = o->profile == ISOL_SECCOMP_STRICT ? deny : SCMP_ACT_ALLOW;
	if (build_rules(&s, o, deny, err) < 0)
		return err && err->code ? -err->code : -EINVAL;
	return 0;
}

#if defined(__x86_64__)
/* The filter of a sandbox without a `seccomp` field (ioctl TIOCSTI and
 * TIOCLINUX denied, everything else allowed), written out: libseccomp takes
 * ~0.1 ms to compile these 16 instructions, a tenth of `isol run`'s budget.
 * Same coverage as the compiled one: the x86_64 entry, x32 (its ioctl
 * numbers 16 and 514 with the x32 bit; on a kernel without x32 every such
 * call already fails with ENOSYS) and i386 (`int $0x80`, ioctl 54). The
 * request is compared on its low 32 bits, as the kernel reads it. Any other
 * architecture in seccomp_data fails with ENOSYS, as libseccomp's bad-arch
 * action is set. spec/policy_spec.lua tries each entry. */
static int tty_filter(uint32_t deny, struct isol_seccomp *out, isol_error *err)
{
	enum { NR = offsetof(struct seccomp_data, nr), ARCH = offsetof(struct seccomp_data, arch) };
	const uint32_t req = (uint32_t)offsetof(struct seccomp_data, args[1]); /* low half (LE) */
	const struct sock_filter prog[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARCH),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 2, 0),
		/* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 5, 0),
		/* 3 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		/* 4 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
		/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 16, 5, 0),               /* ioctl */
		/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40000000u | 16, 4, 0), /* x32 */
		/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40000000u | 514, 3, 2),
		/* 8 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
		/* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 54, 1, 0), /* i386 ioctl */
		/* 10 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* 11 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, req),
		/* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 2, 0),
		/* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 1, 0),
		/* 14 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* 15 */ BPF_STMT(BPF_RET | BPF_K, deny),
	};

	out->prog.filter = malloc(sizeof prog);
	if (!out->prog.filter)
		return isol_failx(err, ENOMEM, "seccomp filter: out of memory");
	memcpy(out->prog.filter, prog, sizeof prog);
	out->prog.len = (unsigned short)(sizeof prog / sizeof *prog);
	return 0;
}
#endif

int isol_seccomp_build(const struct isol_seccomp_opts *o, struct isol_seccomp *out, isol_error *err)
{
	uint32_t deny, dflt;
	scmp_filter_ctx ctx;
	struct sink s = { to_ctx, NULL };
	int r;

	out->prog.filter = NULL;
	out->prog.len = 0;
	if (check_opts(o, err) < 0)
		return err && err->code ? -err->code : -EINVAL;
	if (o->profile == ISOL_SECCOMP_NONE && o->nested_userns && o->ndeny == 0 && !o->deny_tty)
		return 0; /* nothing to filter */

	deny = deny_action(o);
#if defined(__x86_64__)
	if (o->profile == ISOL_SECCOMP_NONE && o->nested_userns && o->ndeny == 0 && o->nallow == 0 &&
	    seccomp_arch_native() == SCMP_ARCH_X86_64)
		return tty_filter(deny, out, err); /* deny_tty alone */
#endif
	dflt = o->profile == ISOL_SECCOMP_STRICT ? deny : SCMP_ACT_ALLOW;
	ctx = seccomp_init(dflt);
	if (!ctx)
		return isol_failx(err, ENOMEM, "seccomp_init failed");
	/* A binary tree of syscall numbers rather than a linear list: loading
	 * costs less (the kernel runs the filter per syscall number to build
	 * its allow cache) and so does every filtered call. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0)
		r = isol_fail(err, -r, "seccomp_attr_set OPTIMIZE");
	if (r == 0)
		r = add_arches(ctx, err);
	s.ctx = ctx;
	if (r == 0)
		r = build_rules(&s, o, deny, err);
	if (r == 0)
		r = export_bpf(ctx, out, err);
	seccomp_release(ctx);
	return r < 0 ? (err && err->code ? -err->code : -EINVAL) : 0;
}

void isol_seccomp_free(struct isol_seccomp *f)
{
	free(f->prog.filter);
	f->prog.filter = NULL;
	f->prog.len = 0;
}

int isol_seccomp_child_apply(const struct isol_seccomp *f, isol_error *err)
{
	if (!f || !f->prog.filter)
		return 0;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &f->prog) < 0) {
		int e = errno;
		if (e == EACCES)
			return isol_fail(err, e, "seccomp load (needs no_new_privs or CAP_SYS_ADMIN)");
		return isol_fail(err, e, "seccomp load");
	}
	return 0;
}

int isol_seccomp_available(char *version, size_t len)
{
	const struct scmp_version *v = seccomp_version();

	if (version && len)
		snprintf(version, len, "%u.%u.%u", v->major, v->minor, v->micro);
	/* Does the kernel know SECCOMP_SET_MODE_FILTER? A NULL program is
	 * rejected with EFAULT when it does, EINVAL when it does not. */
	errno = 0;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, NULL) < 0 && errno == EFAULT)
		return 1;
	return 0;
}
