/*
 * The spawn pipeline (see spawn.h): clone3, release, the child's steps in
 * order, exec of isol's init or of the command, the error pipe.
 */
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/magic.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "execpath.h"
#include "identity.h"
#include "init.h"
#include "keyring.h"
#include "landlock.h"
#include "mount.h"
#include "pidfd.h"
#include "rlimits.h"
#include "seccomp.h"
#include "vmclone.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

void isol_plan_init(struct isol_plan *plan)
{
	memset(plan, 0, sizeof *plan);
	plan->stdio[0] = plan->stdio[1] = plan->stdio[2] = -1;
	plan->cgroup_fd = -1;
	plan->join_pidfd = -1;
	plan->status_fd = -1;
	plan->new_session = 1;
	plan->die_with_parent = 1;
	plan->no_new_privs = 1;
	plan->init = 1;
}

/* The plan's cgroup directories, opened before clone3 (plan.cgroup_dirs). */
struct cg_join {
	int clone_fd;                    /* a cgroup2 directory for CLONE_INTO_CGROUP, or -1 */
	const char *clone_name;          /* its path */
	int fds[ISOL_SPAWN_MAX_CGROUPS]; /* v1 `tasks` files: the child writes "0" */
	const char *names[ISOL_SPAWN_MAX_CGROUPS];
	int n;
};

static void cg_join_close(struct cg_join *j)
{
	if (j->clone_fd >= 0)
		close(j->clone_fd), j->clone_fd = -1;
	for (int i = 0; i < j->n; i++)
		close(j->fds[i]);
	j->n = 0;
}

/* Open every directory of plan->cgroup_dirs, checked to be a cgroup: a
 * cgroup2 one is kept for clone3 (the first, when the plan has no
 * cgroup_fd), a v1 one's `tasks` file (a further cgroup2 one's
 * cgroup.procs) is opened for the child to write "0" to. On failure
 * everything opened is closed. */
static int cg_join_open(const struct isol_plan *plan, struct cg_join *j, isol_error *err)
{
	j->clone_fd = -1;
	j->clone_name = NULL;
	j->n = 0;
	if (plan->ncgroup_dirs < 0 || plan->ncgroup_dirs > ISOL_SPAWN_MAX_CGROUPS)
		return isol_failx(err, EINVAL, "spawn: %d cgroup directories (at most %d)",
				  plan->ncgroup_dirs, ISOL_SPAWN_MAX_CGROUPS);
	for (int i = 0; i < plan->ncgroup_dirs; i++) {
		const char *dir = plan->cgroup_dirs[i], *file;
		struct statfs sf;
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd, e;

		if (dfd < 0 || fstatfs(dfd, &sf) < 0) {
			e = errno;
			if (dfd >= 0)
				close(dfd);
			cg_join_close(j);
			return isol_fail(err, e, "cgroup %s", dir);
		}
		if (sf.f_type == CGROUP2_SUPER_MAGIC && plan->cgroup_fd < 0 && j->clone_fd < 0) {
			j->clone_fd = dfd;
			j->clone_name = dir;
			continue;
		}
		file = sf.f_type == CGROUP2_SUPER_MAGIC  ? "cgroup.procs"
		       : sf.f_type == CGROUP_SUPER_MAGIC ? "tasks"
							 : NULL;
		fd = file ? openat(dfd, file, O_WRONLY | O_CLOEXEC) : -1;
		e = errno;
		close(dfd);
		if (fd < 0) {
			cg_join_close(j);
			if (!file)
				return isol_failx(err, EINVAL, "cgroup %s: not a cgroup directory", dir);
			return isol_fail(err, e, "cgroup %s: open %s", dir, file);
		}
		j->fds[j->n] = fd;
		j->names[j->n++] = dir;
	}
	return 0;
}

/* What the cloned child needs besides the plan, all prepared by the parent. */
struct child_ctx {
	const struct isol_plan *plan;
	int sync_fd, err_fd, parent_pidfd;
	int supervise;
	int early;                  /* the first steps run before "go" (child_first) */
	int late_cgroupns;          /* unshare the cgroup namespace after the v1 joins */
	struct cg_join join;        /* v1 groups to join first thing (a copy: the
				     * parent closes its own fds after clone3) */
	int close_fds[3];           /* the parent's ends of the pipes (-1: none) */
	int init_memfd;             /* supervise: the init's executable */
	char **init_argv;           /* supervise: its command line */
	struct isol_init_opts init; /* supervise: the fds named in it */
};

/* Everything below `child_*` runs in the cloned child: syscalls and stack
 * buffers only (see spawn.h). */

static void child_die(int err_fd, isol_error *err) __attribute__((noreturn));
static void child_die(int err_fd, isol_error *err)
{
	ssize_t w = write(err_fd, err, sizeof *err);
	(void)w;
	_exit(127);
}

/* Every caught or ignored disposition back to SIG_DFL, while all signals
 * are still blocked (the parent blocked them around clone3): a host handler
 * must never run in the child, and an ignored SIGPIPE must not reach the
 * sandbox through execve. The mask is emptied only right before execve.
 * Raw system calls (it may run before "go", see child_first), so glibc's
 * own signals (32, 33: its wrapper refuses them) are reset too. */
#if defined(__x86_64__) || defined(__aarch64__)
static void child_reset_signals(void)
{
	/* the kernel's struct sigaction here (both have sa_restorer) */
	struct {
		unsigned long handler, flags, restorer, mask;
	} sa, dfl = { 0, 0, 0, 0 };

	for (int s = 1; s <= 64; s++) {
		if (s == SIGKILL || s == SIGSTOP)
			continue;
		if (isol_vm_syscall(SYS_rt_sigaction, s, 0, (long)(uintptr_t)&sa, sizeof sa.mask, 0, 0) ==
			    0 &&
		    sa.handler != (unsigned long)(uintptr_t)SIG_DFL)
			isol_vm_syscall(SYS_rt_sigaction, s, (long)(uintptr_t)&dfl, 0, sizeof dfl.mask, 0, 0);
	}
}
#else
/* (no CLONE_VM child here: the child is a copy, glibc's calls are safe) */
static void child_reset_signals(void)
{
	struct sigaction sa;

	for (int s = 1; s < NSIG; s++) {
		if (s == SIGKILL || s == SIGSTOP)
			continue;
		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL) {
			memset(&sa, 0, sizeof sa);
			sa.sa_handler = SIG_DFL;
			sigaction(s, &sa, NULL);
		}
	}
}
#endif

static void child_unblock_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The parent pidfd is opened whenever die_with_parent is set: it is
 * level-triggered, so a parent that died before PDEATHSIG was armed (or
 * before the init watches it) is seen here. */
static int child_parent_alive(int parent_pidfd)
{
	struct pollfd p = { .fd = parent_pidfd, .events = POLLIN };
	struct timespec now = { 0, 0 };

	return parent_pidfd < 0 ||
	       isol_vm_syscall(SYS_ppoll, (long)(uintptr_t)&p, 1, (long)(uintptr_t)&now, 0, 0, 0) == 0;
}

/* A step of child_first that failed: reported once released. */
struct first_failure {
	int code; /* errno, 0: none */
	const char *what;
	const char *arg; /* NULL, or a path named after `what` */
};

/* Join the v1 groups (cg_join_open): "0" to each `tasks` file moves this
 * thread, the child's only one. First thing, before any work is charged
 * to the caller's groups; raw syscalls (before "go"). */
static void child_join_cgroups(const struct child_ctx *c, struct first_failure *f)
{
	for (int i = 0; i < c->join.n; i++) {
		long r = isol_vm_syscall(SYS_write, c->join.fds[i], (long)(uintptr_t) "0", 1, 0, 0, 0);
		isol_vm_syscall(SYS_close, c->join.fds[i], 0, 0, 0, 0, 0);
		if (r < 0 && !f->code)
			f->code = (int)-r, f->what = "join cgroup", f->arg = c->join.names[i];
	}
}

/* The first steps, which need neither the id maps nor anything else the
 * parent does before "go": signals reset, new session, die-with-parent,
 * loopback up. When they can (c->early: no namespace is joined first),
 * they run before "go", while the parent writes the id maps:
 * bringing lo up alone costs ~0.1 ms of the kernel's time. Raw system
 * calls on this stack only (vmclone.h); a failure is kept in *f. */
static void child_first(const struct child_ctx *c, struct first_failure *f)
{
	const struct isol_plan *plan = c->plan;
	long r;

	child_reset_signals();
	if (plan->new_session && (r = isol_vm_syscall(SYS_setsid, 0, 0, 0, 0, 0, 0)) < 0) {
		f->code = (int)-r, f->what = "setsid";
		return;
	}
	if (plan->die_with_parent) {
		/* PDEATHSIG follows the spawning *thread*; when an init supervises,
		 * it watches the parent's pidfd instead (see init.h). The check
		 * after arming closes the race with a parent that already died. */
		if (!c->supervise &&
		    (r = isol_vm_syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0)) < 0) {
			f->code = (int)-r, f->what = "prctl PDEATHSIG";
			return;
		}
		if (!child_parent_alive(c->parent_pidfd))
			isol_vm_syscall(SYS_exit_group, 128 + SIGKILL, 0, 0, 0, 0, 0);
	}
	/* A new network namespace gets its loopback up unless the plan says no. */
	if ((plan->ns_flags & CLONE_NEWNET) && (r = isol_net_child_loopback(plan->net)) < 0)
		f->code = (int)-r, f->what = "set lo up";
}

static int child_stdio(const struct isol_plan *plan, isol_error *err)
{
	int tmp[3] = { -1, -1, -1 };

	/* Two passes so that e.g. stdout->stderr swaps cannot clobber a source. */
	for (int i = 0; i < 3; i++)
		if (plan->stdio[i] >= 0 && plan->stdio[i] != i) {
			tmp[i] = fcntl(plan->stdio[i], F_DUPFD_CLOEXEC, 3);
			if (tmp[i] < 0)
				return isol_fail(err, errno, "dup stdio %d", i);
		}
	for (int i = 0; i < 3; i++) {
		if (tmp[i] >= 0) {
			if (dup2(tmp[i], i) < 0)
				return isol_fail(err, errno, "dup2 stdio %d", i);
			close(tmp[i]);
		} else if (plan->stdio[i] == i) {
			fcntl(i, F_SETFD, 0);
		}
	}
	return 0;
}

static int child_fds(const struct isol_plan *plan, isol_error *err)
{
	/* CLOEXEC rather than close: the error pipe must live until execve. */
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		/* Pre-5.11 kernels: mark one by one. */
		for (int fd = 3; fd < 65536; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	for (size_t i = 0; i < plan->nkeep; i++)
		if (fcntl(plan->keep_fds[i], F_SETFD, 0) < 0)
			return isol_fail(err, errno, "keep fd %d", plan->keep_fds[i]);
	return 0;
}

/* The command itself, without an init. */
static int child_exec(const struct isol_plan *plan, isol_error *err)
{
	char *const *envp = plan->envp ? plan->envp : environ;
	const char *file = plan->file ? plan->file : plan->argv[0];
	int new_root = plan->fs && isol_fs_has_new_root(plan->fs);
	const char *where = new_root ? " inside the new root" : "";
	const char *tried;
	char buf[4096];
	int r;

	child_unblock_signals();
	r = isol_exec_path(file, plan->argv, envp, buf, &tried);
	if (r == -ENOENT && strchr(file, '/'))
		return isol_failx(err, ENOENT, "exec %s: not found%s", file, where);
	if (r == -ENOENT)
		return isol_failx(err, ENOENT, "exec %s: not found in PATH%s", file, where);
	return isol_fail(err, -r, "exec %s", tried);
}

/* plan->ctty: the terminal on fd 0 becomes the controlling terminal of the
 * process that execs the command, leader of a session of its own, so that
 * an interactive shell gets job control. Runs after the stdio step. */
static int child_ctty(const struct isol_plan *plan, isol_error *err)
{
	if (!plan->ctty)
		return 0;
	if (getsid(0) != getpid() && setsid() < 0)
		return isol_fail(err, errno, "setsid for the terminal");
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		return isol_fail(err, errno, "make fd 0 the controlling terminal (TIOCSCTTY)");
	return 0;
}

/* The steps, in order. Each failure goes to the parent through the error
 * pipe (child_die). Concerns added between "fds" and "no_new_privs" (see
 * COMMON.md: keyring, rlimits, landlock, caps) add one line each. */
static void child_main(const struct child_ctx *c) __attribute__((noreturn));
static void child_main(const struct child_ctx *c)
{
	const struct isol_plan *plan = c->plan;
	int err_fd = c->err_fd;
	int landlock_fd = -1; /* set by the landlock step when an init runs */
	struct first_failure first = { 0, NULL, NULL };
	isol_error err;
	char go;

	/* Wait until the parent has written the id maps.
	 * Until "go", nothing here writes memory but this stack: with CLONE_VM
	 * the parent thread runs meanwhile (vmclone.h). Hence raw syscalls:
	 * glibc's read and close are cancellation points that flip a bit of
	 * the calling thread's descriptor, and set errno on failure. */
	for (int i = 0; i < 3; i++)
		if (c->close_fds[i] >= 0)
			isol_vm_syscall(SYS_close, c->close_fds[i], 0, 0, 0, 0, 0);
	child_join_cgroups(c, &first);
	if (c->early && !first.code)
		child_first(c, &first);
	if (isol_vm_syscall(SYS_read, c->sync_fd, (long)(uintptr_t)&go, 1, 0, 0, 0) != 1)
		_exit(127);
	close(c->sync_fd);
	isol_error_defer_strerror();
	isol_error_clear(&err);
	if (first.code)
		isol_fail(&err, first.code, "%s%s%s", first.what, first.arg ? " " : "",
			  first.arg ? first.arg : ""),
			child_die(err_fd, &err);
	/* v1 groups are joined after clone: the cgroup namespace is made now,
	 * so that its root is the sandbox's group in every hierarchy. */
	if (c->late_cgroupns && unshare(CLONE_NEWCGROUP) < 0)
		isol_fail(&err, errno, "unshare cgroup namespace"), child_die(err_fd, &err);

	/* isol exec: enter a running sandbox first (the kernel orders a pidfd
	 * setns so that the user namespace comes first). */
	if (plan->join_pidfd >= 0 && isol_setns_pidfd(plan->join_pidfd, plan->join_flags, &err) < 0)
		child_die(err_fd, &err);
	if (!c->early)
		child_first(c, &first);
	if (first.code)
		isol_fail(&err, first.code, "%s", first.what), child_die(err_fd, &err);
	/* A time namespace is entered at execve (or by children): offsets can
	 * only be written while no task is in it, so it is unshared here, in the
	 * child, rather than by clone3. */
	if (plan->ns_flags & CLONE_NEWTIME) {
		if (isol_unshare(CLONE_NEWTIME, &err) < 0)
			child_die(err_fd, &err);
		if (plan->time_offsets &&
		    isol_write_time_offsets(0, plan->time_monotonic, plan->time_boottime, &err) < 0)
			child_die(err_fd, &err);
	}
	/* The mapped identity before the mounts: they are made (and their
	 * files owned) by the sandbox's root, not by an unmapped host root. */
	if (plan->identity && isol_identity_child_apply(plan->identity, &err) < 0)
		child_die(err_fd, &err);
	if (plan->hostname && sethostname(plan->hostname, strlen(plan->hostname)) < 0)
		isol_fail(&err, errno, "sethostname %s", plan->hostname), child_die(err_fd, &err);
	if (plan->domainname && setdomainname(plan->domainname, strlen(plan->domainname)) < 0)
		isol_fail(&err, errno, "setdomainname %s", plan->domainname), child_die(err_fd, &err);
	/* the veth peer (lo is up: child_first) */
	if ((plan->ns_flags & CLONE_NEWNET) && isol_net_child_setup(plan->net, &err) < 0)
		child_die(err_fd, &err);
	if (plan->fs && isol_fs_child_setup(plan->fs, &err) < 0)
		child_die(err_fd, &err);
	if (plan->cwd && chdir(plan->cwd) < 0)
		isol_fail(&err, errno, "chdir %s", plan->cwd), child_die(err_fd, &err);
	if (child_stdio(plan, &err) < 0 || child_fds(plan, &err) < 0)
		child_die(err_fd, &err);
	/* under an init, the command takes the terminal (isol-init -T) */
	if (!c->supervise && child_ctty(plan, &err) < 0)
		child_die(err_fd, &err);
	if (plan->keyring && isol_keyring_child_apply(plan->keyring, &err) < 0)
		child_die(err_fd, &err);
	if (isol_rlimits_child_apply(plan->rlimits, &err) < 0)
		child_die(err_fd, &err);
	/* with an init, the ruleset goes to the command's process (the init
	 * restricts it just before execve) */
	if (isol_landlock_child_apply(plan->landlock, c->supervise ? &landlock_fd : NULL, &err) < 0)
		child_die(err_fd, &err);
	if (plan->caps && isol_caps_child_apply(plan->caps, &err) < 0)
		child_die(err_fd, &err);
	if (plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		isol_fail(&err, errno, "prctl NO_NEW_PRIVS"), child_die(err_fd, &err);
	if (isol_seccomp_child_apply(plan->seccomp, &err) < 0)
		child_die(err_fd, &err);
	if (c->supervise)
		isol_init_child_exec(c->init_memfd, c->init_argv, &c->init, landlock_fd, &err);
	else
		child_exec(plan, &err);
	child_die(err_fd, &err);
}

static int child_entry(void *arg)
{
	child_main(arg);
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

static int spawn_plan(const struct isol_plan *plan, struct isol_child *out, isol_error *err)
{
	int sync_p[2] = { -1, -1 }, err_p[2] = { -1, -1 }, status_p[2] = { -1, -1 };
	int parent_pidfd = -1, owned;
	isol_cleanup_fd int own_pidfd = -1; /* parent_pidfd when it is not the kept one */
	isol_cleanup_fd int proc_dirfd = -1;
	char **init_argv = NULL;
	int pidfd = -1, pidns = (plan->ns_flags & CLONE_NEWPID) != 0, supervise, r, memfd = -1;
	struct clone_args args;
	struct child_ctx c;
	sigset_t all, old;
	pid_t ppid = getpid(), pid;
	isol_error cerr;
	ssize_t n;
	/* The child shares this process's memory (CLONE_VM, vmclone.h) unless
	 * it must setns into a user namespace (refused to shared memory) or
	 * this architecture has no entry for it: then a copy-on-write clone,
	 * whose cost grows with the host's size. */
	int vm = isol_vmclone_supported() && plan->join_pidfd < 0, blocked = 0;
	int deferring = isol_error_deferring();
	struct isol_vm_stack stack = { NULL, 0 };
	struct cg_join join = { .clone_fd = -1 };
	/* the init's argv when it fits (isol_init_argv) */
	union {
		char bytes[4096];
		void *align;
	} argv_buf;

	out->pid = -1;
	out->pidfd = out->status_fd = -1;
	isol_net_state_init(&out->net);
	if (!plan->argv || !plan->argv[0])
		return isol_failx(err, EINVAL, "spawn: empty argv");
	if (plan->timeout_ms < 0)
		return isol_failx(err, EINVAL, "spawn: timeout_ms %d: expected >= 0", plan->timeout_ms);
	if (plan->timeout_ms > 0 && !plan->init)
		return isol_failx(err, EINVAL, "spawn: timeout_ms needs isol's init (init is off)");
	/* Robust die-with-parent needs a process watching the parent's pidfd when
	 * the spawning thread is not the main thread (PDEATHSIG would fire when
	 * just this thread exits). A timeout needs the init's timer. */
	supervise = (pidns && plan->init) || plan->supervise || plan->timeout_ms > 0 ||
		    (plan->join_pidfd >= 0 && (plan->join_flags & CLONE_NEWPID)) ||
		    (plan->die_with_parent && (pid_t)syscall(SYS_gettid) != ppid);
	if (plan->die_with_parent) {
		parent_pidfd = isol_pidfd_self(&owned, err);
		if (parent_pidfd < 0)
			return parent_pidfd;
		if (owned)
			own_pidfd = parent_pidfd;
	}
	if (supervise) {
		memfd = isol_init_memfd(err);
		if (memfd < 0)
			return memfd;
		/* Without a pid namespace the init finds the sandbox's processes
		 * in the host /proc, opened here, before any root change. */
		if (!pidns) {
			proc_dirfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (proc_dirfd < 0)
				return isol_fail(err, errno, "open /proc");
		}
	}
	if ((r = cg_join_open(plan, &join, err)) < 0)
		goto fail;
	if (pipe2(sync_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0 ||
	    (supervise && plan->status_fd < 0 && pipe2(status_p, O_CLOEXEC) < 0)) {
		r = isol_fail(err, errno, "pipe");
		goto fail;
	}

	if (vm && (r = isol_vm_stack_alloc(&stack, err)) < 0)
		goto fail;

	memset(&c, 0, sizeof c);
	c.plan = plan;
	c.sync_fd = sync_p[0];
	c.err_fd = err_p[1];
	c.close_fds[0] = sync_p[1];
	c.close_fds[1] = err_p[0];
	c.close_fds[2] = status_p[0];
	c.parent_pidfd = parent_pidfd;
	c.supervise = supervise;
	c.early = plan->join_pidfd < 0;
	c.late_cgroupns = (plan->ns_flags & CLONE_NEWCGROUP) && join.n > 0;
	c.join = join;
	if (supervise) {
		c.init_memfd = memfd;
		c.init = (struct isol_init_opts){
			.pidns = pidns,
			.new_session = plan->new_session,
			.ctty = plan->ctty,
			.new_root = plan->fs && isol_fs_has_new_root(plan->fs),
			.status_fd = plan->status_fd >= 0 ? plan->status_fd : status_p[1],
			.parent_pidfd = parent_pidfd,
			.err_fd = err_p[1],
			.proc_dirfd = proc_dirfd,
			.timeout_ms = plan->timeout_ms,
			.file = plan->file ? plan->file : plan->argv[0],
			.argv = plan->argv,
			.envp = plan->envp ? plan->envp : environ,
		};
		init_argv = isol_init_argv(&c.init, argv_buf.bytes, sizeof argv_buf.bytes, err);
		if (!init_argv) {
			r = -(err && err->code ? err->code : ENOMEM);
			goto fail;
		}
		c.init_argv = init_argv;
	}

	memset(&args, 0, sizeof args);
	args.flags = (uint64_t)(plan->ns_flags & ~CLONE_NEWTIME) | CLONE_PIDFD;
	if (c.late_cgroupns)
		args.flags &= ~(uint64_t)CLONE_NEWCGROUP;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	if (plan->cgroup_fd >= 0 || join.clone_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)(plan->cgroup_fd >= 0 ? plan->cgroup_fd : join.clone_fd);
	}
	/* No host signal handler may run in the child: every signal is blocked
	 * across clone3; the child resets dispositions before unblocking. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (vm) {
		pid = isol_clone3_vm(&args, &stack, child_entry, &c);
	} else {
		pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
		if (pid == 0)
			child_main(&c);
	}
	r = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		r = join.clone_name ? isol_fail(err, r, "clone3 into cgroup %s", join.clone_name)
				    : isol_fail(err, r, "clone3");
		goto fail;
	}
	cg_join_close(&join); /* the child has its own copies */

	close(sync_p[0]), sync_p[0] = -1;
	close(err_p[1]), err_p[1] = -1;
	if (status_p[1] >= 0)
		close(status_p[1]), status_p[1] = -1;

	if ((plan->nuid || plan->ngid || plan->setgroups_deny) && (plan->ns_flags & CLONE_NEWUSER)) {
		r = isol_set_id_maps(pid, plan->uid_map, plan->nuid, plan->gid_map, plan->ngid,
				     plan->setgroups_deny, plan->idmap_helper, err);
		if (r < 0)
			goto kill_child;
	}
	if (plan->net) {
		r = isol_net_parent_setup(plan->net, pid, &out->net, err);
		if (r < 0)
			goto kill_child;
	}
	/* (beside the child's first steps when they run before "go") */
	for (int i = 0; plan->ns_inodes && i < ISOL_NS_KINDS; i++)
		out->ns_ino[i] = plan->ns_flags & isol_ns_kinds[i].flag
					 ? isol_ns_inode(pid, isol_ns_kinds[i].procname, NULL)
					 : 0;
	/* From "go" until the child has exec'd or exited, a CLONE_VM child
	 * runs on this thread's memory (errno, the TLS): this thread only
	 * waits on the error pipe, and no signal handler runs in it (the way
	 * posix_spawn blocks signals across its vfork). */
	if (vm) {
		pthread_sigmask(SIG_SETMASK, &all, NULL);
		blocked = 1;
	}
	if (write(sync_p[1], "g", 1) != 1) {
		r = isol_fail(err, errno, "release child");
		goto kill_child;
	}
	close(sync_p[1]), sync_p[1] = -1;

	/* EOF: exec happened (the kernel switches the memory before it closes
	 * CLOEXEC fds, and an exit releases it before the fds too). A whole
	 * isol_error: a step failed. */
	do
		n = read(err_p[0], &cerr, sizeof cerr);
	while (n < 0 && errno == EINTR);
	isol_error_set_deferring(deferring); /* the child may have set it (vm) */
	close(err_p[0]), err_p[0] = -1;
	if (n == (ssize_t)sizeof cerr) {
		cerr.msg[sizeof cerr.msg - 1] = '\0';
		isol_error_finish(&cerr);
		if (err)
			*err = cerr;
		r = -(cerr.code ? cerr.code : EIO);
		goto reap_child;
	}

	isol_init_argv_free(init_argv);
	isol_vm_stack_free(&stack);
	if (blocked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	out->pid = pid;
	out->pidfd = pidfd;
	out->status_fd = status_p[0];
	return 0;

kill_child:
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
reap_child : {
	siginfo_t si;
	while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	close(pidfd);
	isol_net_helper_stop(&out->net);
}
fail:
	/* (the child, if any, is reaped: its stack is free) */
	cg_join_close(&join);
	isol_error_set_deferring(deferring);
	isol_vm_stack_free(&stack);
	if (blocked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	isol_init_argv_free(init_argv);
	close_pair(sync_p);
	close_pair(err_p);
	close_pair(status_p);
	return r;
}

int isol_spawn(const struct isol_plan *plan, struct isol_child *out, isol_error *err)
{
	int cancel_state, r;

	/* This thread's frame holds what the child reads: it must not be
	 * cancelled under it (posix_spawn does the same). */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	r = spawn_plan(plan, out, err);
	pthread_setcancelstate(cancel_state, NULL);
	return r;
}
