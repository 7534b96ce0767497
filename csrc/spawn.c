#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "identity.h"
#include "keyring.h"
#include "mount.h"
#include "proc.h"

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

/* With a cgroup namespace and cgroups joined by pid (v1, before_release),
 * cloning the namespace would root it at the caller's cgroups; the child
 * unshares it after the parent attached it instead. */
static int late_cgroupns(const struct isol_plan *plan)
{
	return (plan->ns_flags & CLONE_NEWCGROUP) && plan->before_release && plan->cgroup_fd < 0;
}

/* Everything below `child_*` runs in the cloned child: syscalls and stack
 * buffers only (see spawn.h). */

static __attribute__((noreturn)) void child_die(int err_fd, isol_error *err)
{
	ssize_t w = write(err_fd, err, sizeof *err);
	(void)w;
	_exit(127);
}

static void child_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	/* Ignored dispositions and the blocked mask survive execve: a host
	 * that ignores SIGPIPE must not hand that to the sandbox. */
	for (int s = 1; s < NSIG; s++) {
		if (s == SIGKILL || s == SIGSTOP)
			continue;
		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
			sa.sa_handler = SIG_DFL;
			sigaction(s, &sa, NULL);
		}
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int child_parent_alive(int parent_pidfd, pid_t ppid, int pidns)
{
	if (parent_pidfd >= 0) {
		struct pollfd p = { .fd = parent_pidfd, .events = POLLIN };
		return poll(&p, 1, 0) == 0;
	}
	return pidns || getppid() == ppid;
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

static const char *env_path(char *const *envp)
{
	for (; envp && *envp; envp++)
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	return "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
}

static int child_exec(const struct isol_plan *plan, isol_error *err)
{
	char *const *envp = plan->envp ? plan->envp : environ;
	const char *file = plan->file ? plan->file : plan->argv[0];
	int new_root = plan->fs && isol_fs_has_new_root(plan->fs);
	const char *where = new_root ? " inside the new root" : "";
	int e = ENOENT;

	if (strchr(file, '/')) {
		execve(file, plan->argv, envp);
		e = errno;
		if (e == ENOENT)
			return isol_failx(err, e, "exec %s: not found%s", file, where);
		return isol_fail(err, e, "exec %s", file);
	}
	/* PATH search, with a stack buffer (execvpe may allocate). */
	const char *p = env_path(envp);
	size_t flen = strlen(file);
	int saw_eacces = 0;
	while (*p) {
		char buf[4096];
		const char *colon = strchr(p, ':');
		size_t dlen = colon ? (size_t)(colon - p) : strlen(p);

		if (dlen + flen + 2 <= sizeof buf) {
			if (dlen == 0)
				buf[0] = '.', dlen = 1;
			else
				memcpy(buf, p, dlen);
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, file, flen + 1);
			execve(buf, plan->argv, envp);
			if (errno == EACCES)
				saw_eacces = 1;
			else if (errno != ENOENT && errno != ENOTDIR)
				return isol_fail(err, errno, "exec %s", buf);
		}
		p += dlen;
		if (*p == ':')
			p++;
	}
	if (saw_eacces)
		e = EACCES;
	if (e == ENOENT)
		return isol_failx(err, e, "exec %s: not found in PATH%s", file, where);
	return isol_fail(err, e, "exec %s", file);
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

struct command_ctx {
	const struct isol_plan *plan;
	int err_fd;
};

/* The command's process under an init (see isol_init_run): it shares the
 * init's memory until execve, so it only uses its own stack. */
static int command_main(void *p)
{
	const struct command_ctx *c = p;
	isol_error err;

	isol_error_clear(&err);
	if (c->plan->new_session)
		setsid(); /* the command leads its own session, like without init */
	if (child_ctty(c->plan, &err) < 0)
		child_die(c->err_fd, &err);
	child_exec(c->plan, &err);
	child_die(c->err_fd, &err);
}

static __attribute__((noreturn)) void
child_main(const struct isol_plan *plan, int sync_fd, int err_fd, int parent_pidfd,
	   int status_fd, pid_t ppid, int supervise)
{
	isol_error err;
	char go;
	int pidns = (plan->ns_flags & CLONE_NEWPID) != 0;

	isol_error_clear(&err);
	/* Wait until the parent has written the id maps (and attached cgroups). */
	if (read(sync_fd, &go, 1) != 1)
		_exit(127);
	close(sync_fd);
	/* v1 cgroups are joined by pid after clone: the cgroup namespace is made
	 * now, so that its root is the sandbox's cgroup (see late_cgroupns). */
	if (late_cgroupns(plan) && unshare(CLONE_NEWCGROUP) < 0)
		isol_fail(&err, errno, "unshare cgroup namespace"), child_die(err_fd, &err);

	/* isol exec: enter a running sandbox first (the kernel orders a pidfd
	 * setns so that the user namespace comes first). */
	if (plan->join_pidfd >= 0 && isol_setns_pidfd(plan->join_pidfd, plan->join_flags, &err) < 0)
		child_die(err_fd, &err);
	child_reset_signals();
	if (plan->new_session && setsid() < 0)
		isol_fail(&err, errno, "setsid"), child_die(err_fd, &err);
	if (plan->die_with_parent) {
		/* PDEATHSIG follows the spawning *thread*; when an init supervises,
		 * it watches the parent's pidfd instead (see proc.h). The check
		 * after arming closes the race with a parent that already died. */
		if (!supervise && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
			isol_fail(&err, errno, "prctl PDEATHSIG"), child_die(err_fd, &err);
		if (!child_parent_alive(parent_pidfd, ppid, pidns))
			_exit(128 + SIGKILL);
	}
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
	/* A new network namespace gets its loopback up unless the plan says no. */
	if ((plan->ns_flags & CLONE_NEWNET) && isol_net_child_setup(plan->net, &err) < 0)
		child_die(err_fd, &err);
	if (plan->fs && isol_fs_child_setup(plan->fs, &err) < 0)
		child_die(err_fd, &err);
	if (plan->cwd && chdir(plan->cwd) < 0)
		isol_fail(&err, errno, "chdir %s", plan->cwd), child_die(err_fd, &err);
	if (child_stdio(plan, &err) < 0 || child_fds(plan, &err) < 0)
		child_die(err_fd, &err);
	/* under an init, the command takes the terminal (command_main) */
	if (!supervise && child_ctty(plan, &err) < 0)
		child_die(err_fd, &err);
	if (plan->keyring && isol_keyring_child_apply(plan->keyring, &err) < 0)
		child_die(err_fd, &err);
	if (plan->caps && isol_caps_child_apply(plan->caps, &err) < 0)
		child_die(err_fd, &err);
	if (plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		isol_fail(&err, errno, "prctl NO_NEW_PRIVS"), child_die(err_fd, &err);
	if (supervise) {
		struct command_ctx c = { plan, err_fd };
		/* Never returns: the init runs here, the command in command_main. */
		isol_init_run(parent_pidfd, status_fd, err_fd, pidns, command_main, &c, &err);
		child_die(err_fd, &err);
	}
	child_exec(plan, &err);
	child_die(err_fd, &err);
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

int isol_spawn(const struct isol_plan *plan, struct isol_child *out, isol_error *err)
{
	int sync_p[2] = { -1, -1 }, err_p[2] = { -1, -1 }, status_p[2] = { -1, -1 };
	isol_cleanup_fd int parent_pidfd = -1;
	int pidfd = -1, pidns = (plan->ns_flags & CLONE_NEWPID) != 0, supervise, r;
	struct clone_args args;
	pid_t ppid = getpid(), pid;
	isol_error cerr;
	ssize_t n;

	out->pid = -1;
	out->pidfd = out->status_fd = -1;
	isol_net_state_init(&out->net);
	if (!plan->argv || !plan->argv[0])
		return isol_failx(err, EINVAL, "spawn: empty argv");
	/* Robust die-with-parent needs a process watching the parent's pidfd when
	 * the spawning thread is not the main thread (PDEATHSIG would fire when
	 * just this thread exits). */
	supervise = (pidns && plan->init) || plan->supervise ||
		    (plan->join_pidfd >= 0 && (plan->join_flags & CLONE_NEWPID)) ||
		    (plan->die_with_parent && (pid_t)syscall(SYS_gettid) != ppid);
	if (plan->die_with_parent && supervise) {
		parent_pidfd = isol_pidfd_open(ppid, err);
		if (parent_pidfd < 0)
			return parent_pidfd;
	}
	if (pipe2(sync_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0 ||
	    (supervise && plan->status_fd < 0 && pipe2(status_p, O_CLOEXEC) < 0)) {
		r = isol_fail(err, errno, "pipe");
		goto fail;
	}

	memset(&args, 0, sizeof args);
	args.flags = (uint64_t)(plan->ns_flags & ~CLONE_NEWTIME) | CLONE_PIDFD;
	if (late_cgroupns(plan))
		args.flags &= ~(uint64_t)CLONE_NEWCGROUP;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	if (plan->cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)plan->cgroup_fd;
	}
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	if (pid < 0) {
		r = isol_fail(err, errno, "clone3");
		goto fail;
	}
	if (pid == 0) {
		close(sync_p[1]);
		close(err_p[0]);
		if (status_p[0] >= 0)
			close(status_p[0]);
		child_main(plan, sync_p[0], err_p[1], parent_pidfd,
			   plan->status_fd >= 0 ? plan->status_fd : status_p[1], ppid, supervise);
	}

	close(sync_p[0]), sync_p[0] = -1;
	close(err_p[1]), err_p[1] = -1;
	if (status_p[1] >= 0)
		close(status_p[1]), status_p[1] = -1;

	if ((plan->nuid || plan->ngid || plan->setgroups_deny) && (plan->ns_flags & CLONE_NEWUSER)) {
		r = isol_write_id_maps(pid, plan->uid_map, plan->nuid, plan->gid_map, plan->ngid,
				       plan->setgroups_deny, err);
		if (r < 0)
			goto kill_child;
	}
	if (plan->net) {
		r = isol_net_parent_setup(plan->net, pid, &out->net, err);
		if (r < 0)
			goto kill_child;
	}
	if (plan->before_release) {
		r = plan->before_release(plan->hook_ctx, pid, err);
		if (r < 0)
			goto kill_child;
	}
	if (write(sync_p[1], "g", 1) != 1) {
		r = isol_fail(err, errno, "release child");
		goto kill_child;
	}
	close(sync_p[1]), sync_p[1] = -1;

	/* EOF: exec happened. A whole isol_error: a step failed. */
	do
		n = read(err_p[0], &cerr, sizeof cerr);
	while (n < 0 && errno == EINTR);
	close(err_p[0]), err_p[0] = -1;
	if (n == (ssize_t)sizeof cerr) {
		cerr.msg[sizeof cerr.msg - 1] = '\0';
		if (err)
			*err = cerr;
		r = -(cerr.code ? cerr.code : EIO);
		goto reap_child;
	}

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
	close_pair(sync_p);
	close_pair(err_p);
	close_pair(status_p);
	return r;
}
