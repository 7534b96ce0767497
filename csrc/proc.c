#define _GNU_SOURCE
#include "proc.h"

#include <sys/socket.h>

#include "spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "SIGHUP", SIGHUP },     { "SIGINT", SIGINT },       { "SIGQUIT", SIGQUIT },
	{ "SIGILL", SIGILL },     { "SIGTRAP", SIGTRAP },     { "SIGABRT", SIGABRT },
	{ "SIGBUS", SIGBUS },     { "SIGFPE", SIGFPE },       { "SIGKILL", SIGKILL },
	{ "SIGUSR1", SIGUSR1 },   { "SIGSEGV", SIGSEGV },     { "SIGUSR2", SIGUSR2 },
	{ "SIGPIPE", SIGPIPE },   { "SIGALRM", SIGALRM },     { "SIGTERM", SIGTERM },
	{ "SIGSTKFLT", SIGSTKFLT }, { "SIGCHLD", SIGCHLD },   { "SIGCONT", SIGCONT },
	{ "SIGSTOP", SIGSTOP },   { "SIGTSTP", SIGTSTP },     { "SIGTTIN", SIGTTIN },
	{ "SIGTTOU", SIGTTOU },   { "SIGURG", SIGURG },       { "SIGXCPU", SIGXCPU },
	{ "SIGXFSZ", SIGXFSZ },   { "SIGVTALRM", SIGVTALRM }, { "SIGPROF", SIGPROF },
	{ "SIGWINCH", SIGWINCH }, { "SIGIO", SIGIO },         { "SIGPWR", SIGPWR },
	{ "SIGSYS", SIGSYS },     { NULL, 0 },
};

int isol_signal_number(const char *name)
{
	const char *bare = strncasecmp(name, "SIG", 3) == 0 ? name + 3 : name;

	for (int i = 0; signals[i].name; i++)
		if (strcasecmp(bare, signals[i].name + 3) == 0)
			return signals[i].sig;
	return 0;
}

const char *isol_signal_name(int sig)
{
	for (int i = 0; signals[i].name; i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	return NULL;
}

int isol_pidfd_open(pid_t pid, isol_error *err)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0)
		return isol_fail(err, errno, "pidfd_open %d", (int)pid);
	return fd;
}

int isol_pidfd_send_signal(int pidfd, int sig, isol_error *err)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0) {
		const char *n = isol_signal_name(sig);
		return isol_fail(err, errno, "kill %s", n ? n : "signal");
	}
	return 0;
}

void isol_decode_status(int st, struct isol_wait *w)
{
	memset(w, 0, sizeof *w);
	if (WIFEXITED(st)) {
		w->exited = 1;
		w->code = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		w->signal = WTERMSIG(st);
		w->core = WCOREDUMP(st) ? 1 : 0;
	}
}

int isol_pidfd_wait(int pidfd, int status_fd, int nohang, struct isol_wait *w, isol_error *err)
{
	siginfo_t si;
	struct rusage ru;
	int st;

	memset(&si, 0, sizeof si);
	memset(&ru, 0, sizeof ru);
	for (;;) {
		/* The raw syscall also returns the child's rusage (glibc's waitid
		 * does not pass it through). */
		if (syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED | (nohang ? WNOHANG : 0), &ru) == 0)
			break;
		if (errno != EINTR)
			return isol_fail(err, errno, "waitid");
	}
	if (si.si_pid == 0)
		return 1;
	memset(w, 0, sizeof *w);
	w->maxrss_kb = ru.ru_maxrss;
	w->utime = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	w->stime = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	if (si.si_code == CLD_EXITED) {
		w->exited = 1;
		w->code = si.si_status;
	} else {
		w->signal = si.si_status;
		w->core = si.si_code == CLD_DUMPED;
	}
	if (status_fd >= 0) {
		/* The init wrote the command's status before it exited; EOF means
		 * the init itself was killed (e.g. SIGKILL of the whole sandbox). */
		ssize_t n = read(status_fd, &st, sizeof st);
		if (n == (ssize_t)sizeof st) {
			struct isol_wait keep = *w;
			isol_decode_status(st, w);
			w->maxrss_kb = keep.maxrss_kb;
			w->utime = keep.utime;
			w->stime = keep.stime;
		}
	}
	return 0;
}

void isol_close_fds_except(const int *keep, int n)
{
	int sorted[8], i, j, lo = 3;

	if (n > 8)
		n = 8;
	for (i = 0; i < n; i++)
		sorted[i] = keep[i];
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			int t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if (sorted[i] < lo)
			continue;
		if (sorted[i] > lo)
			syscall(SYS_close_range, lo, sorted[i] - 1, 0);
		lo = sorted[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
}

static void reap(pid_t cmd, int *cmd_status, int *cmd_done)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p == cmd) {
			*cmd_status = st;
			*cmd_done = 1;
		}
	}
}

struct cmd_start {
	sigset_t mask;
	int status_fd, parent_pidfd;
	int (*fn)(void *);
	void *arg;
};

/* Runs in the command's process, on its own stack, sharing the init's
 * memory (CLONE_VM|CLONE_VFORK) until it execs: it only restores the signal
 * mask, closes the init's private fds (the fd table is not shared) and hands
 * over to fn, which execs or _exits. */
static int cmd_trampoline(void *p)
{
	struct cmd_start *c = p;

	sigprocmask(SIG_SETMASK, &c->mask, NULL);
	if (c->status_fd >= 0)
		close(c->status_fd);
	if (c->parent_pidfd >= 0)
		close(c->parent_pidfd);
	_exit(c->fn(c->arg));
}

/* Start the command. A vfork-style clone (CLONE_VM|CLONE_VFORK) does not
 * copy the init's address space, which is a copy of the whole host process
 * (the Lua state and everything else): a plain fork would copy its page
 * tables once more only to throw them away at exec. The init is suspended
 * until the command has exec'd (or failed), so nothing runs concurrently on
 * the shared memory. */
static pid_t start_command(struct cmd_start *c)
{
	const size_t size = 256 * 1024;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pid_t pid;

	if (stack == MAP_FAILED)
		return -1;
	pid = clone(cmd_trampoline, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, c);
	munmap(stack, size);
	return pid;
}

int isol_init_run(int parent_pidfd, int status_fd, int err_fd, int pidns, int (*cmd_fn)(void *),
		  void *cmd_arg, isol_error *err)
{
	static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	sigset_t set, old;
	struct pollfd pfd[2];
	int sfd, cmd_status = 0, cmd_done = 0, keep[3], nkeep = 0;
	pid_t cmd;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(&set, forwarded[i]);
	sigaddset(&set, SIGCHLD);
	/* Block first, so that no signal is lost between fork and signalfd. */
	sigprocmask(SIG_BLOCK, &set, &old);
	if (!pidns)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	{
		struct cmd_start c = { .mask = old, .status_fd = status_fd, .parent_pidfd = parent_pidfd,
				       .fn = cmd_fn, .arg = cmd_arg };
		cmd = start_command(&c);
	}
	if (cmd < 0) {
		int e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return isol_fail(err, e, "fork command under init");
	}

	/* The init: from here on it never returns. A status pipe whose reader
	 * went away (a detached sandbox) must not kill it with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (err_fd >= 0)
		close(err_fd);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (status_fd >= 0)
		keep[nkeep++] = status_fd;
	if (parent_pidfd >= 0)
		keep[nkeep++] = parent_pidfd;
	if (sfd >= 0)
		keep[nkeep++] = sfd;
	/* Hold nothing of the host's: no listening socket, no pipe end. */
	isol_close_fds_except(keep, nkeep);
	prctl(PR_SET_NAME, "isol-init", 0, 0, 0);

	if (sfd < 0) {
		/* No signalfd (fd limit?): still reap, just without forwarding. */
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		while (!cmd_done) {
			int st;
			pid_t p = waitpid(-1, &st, 0);
			if (p == cmd)
				cmd_status = st, cmd_done = 1;
			else if (p < 0 && errno != EINTR)
				break;
		}
	}
	pfd[0].fd = sfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = parent_pidfd;
	pfd[1].events = POLLIN;
	while (!cmd_done) {
		int r = poll(pfd, parent_pidfd >= 0 ? 2 : 1, -1);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (parent_pidfd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP))) {
			/* The spawning process is gone: take the sandbox with us.
			 * As PID 1, kill(-1) reaches every process of the namespace
			 * (and the kernel kills the rest when we exit). As a plain
			 * supervisor we are a child subreaper: every descendant,
			 * setsid escapees included, is re-parented to us, so killing
			 * children until none is left ends them all. */
			if (pidns)
				kill(-1, SIGKILL);
			else
				isol_kill_descendants();
			_exit(128 + SIGKILL);
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if ((int)si.ssi_signo == SIGCHLD)
					reap(cmd, &cmd_status, &cmd_done);
				else
					kill(cmd, (int)si.ssi_signo);
				if (cmd_done)
					break;
			}
			/* signalfd coalesces SIGCHLD: always sweep once more. */
			reap(cmd, &cmd_status, &cmd_done);
		}
	}
	/* The sandbox ends with its command, with or without a pid namespace:
	 * leftover daemons and escapees die here rather than leak to the host. */
	if (!pidns)
		isol_kill_descendants();
	if (status_fd >= 0) {
		ssize_t w = write(status_fd, &cmd_status, sizeof cmd_status);
		(void)w;
	}
	if (WIFEXITED(cmd_status))
		_exit(WEXITSTATUS(cmd_status));
	_exit(128 + WTERMSIG(cmd_status));
}

/* ---- /proc scans ---- */

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static pid_t parse_pid(const char *s)
{
	long v = 0;

	if (!*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000000)
			return 0;
		v = v * 10 + (*s - '0');
	}
	return (pid_t)v;
}

/* Call fn(pid, ctx) for every numeric entry of /proc, with getdents64 and a
 * stack buffer (no opendir: it allocates, and the init must not). fn returns
 * nonzero to stop. Returns 0 or -errno. */
static int proc_each(int (*fn)(pid_t, void *), void *ctx)
{
	char buf[8192] __attribute__((aligned(8)));
	int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n;

	if (fd < 0)
		return -errno;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			pid_t pid = parse_pid(d->d_name);

			off += d->d_reclen;
			if (pid > 0 && fn(pid, ctx)) {
				close(fd);
				return 0;
			}
		}
	}
	if (n < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

int isol_proc_stat(pid_t pid, struct isol_procstat *st, isol_error *err)
{
	char path[40], buf[1024];
	const char *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return isol_fail(err, errno == ENOENT ? ESRCH : errno, "read %s", path);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return isol_fail(err, n < 0 ? errno : ESRCH, "read %s", path);
	buf[n] = '\0';
	/* comm may contain spaces and ')': the fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return isol_failx(err, EINVAL, "parse %s", path);
	memset(st, 0, sizeof *st);
	st->pid = pid;
	p += 2;
	st->state = *p;
	/* p is at field 3 (state); walk to 4 (ppid), 5, 6 and 22 (starttime). */
	for (field = 3; *p && field < 22; p++) {
		if (*p != ' ')
			continue;
		field++;
		switch (field) {
		case 4:
			st->ppid = (pid_t)strtol(p + 1, NULL, 10);
			break;
		case 5:
			st->pgrp = (pid_t)strtol(p + 1, NULL, 10);
			break;
		case 6:
			st->sid = (pid_t)strtol(p + 1, NULL, 10);
			break;
		case 22:
			st->start = strtoull(p + 1, NULL, 10);
			break;
		}
	}
	if (field < 22)
		return isol_failx(err, EINVAL, "parse %s: too few fields", path);
	return 0;
}

static uint64_t ns_ino_of(pid_t pid, const char *name)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, name);
	if (stat(path, &sb) < 0)
		return 0;
	return (uint64_t)sb.st_ino;
}

struct scan {
	struct isol_procstat *all;
	size_t n, cap;
	int err;
	/* Without roots nor sid, namespace criteria decide alone: check the
	 * ns links (one stat) before reading /proc/<pid>/stat (three calls). */
	const struct isol_selector *ns_only;
};

static int ns_match(pid_t pid, const struct isol_selector *sel)
{
	if (sel->pidns && ns_ino_of(pid, "pid") == sel->pidns)
		return 1;
	for (size_t j = 0; j < sel->nns; j++)
		if (ns_ino_of(pid, sel->ns_name[j]) == sel->ns_ino[j])
			return 1;
	return 0;
}

static int scan_one(pid_t pid, void *ctx)
{
	struct scan *s = ctx;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		struct isol_procstat *a = realloc(s->all, cap * sizeof *a);
		if (!a) {
			s->err = ENOMEM;
			return 1;
		}
		s->all = a;
		s->cap = cap;
	}
	if (s->ns_only && !ns_match(pid, s->ns_only))
		return 0;
	if (isol_proc_stat(pid, &s->all[s->n], NULL) == 0)
		s->n++;
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = ((const struct isol_procstat *)a)->pid, y = ((const struct isol_procstat *)b)->pid;
	return (x > y) - (x < y);
}

static long find_pid(const struct isol_procstat *all, size_t n, pid_t pid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (all[mid].pid == pid)
			return (long)mid;
		if (all[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* CONFIG_PROC_CHILDREN: /proc/<pid>/task/<tid>/children exists. */
static int children_files(void)
{
	static int known = -1;
	if (known < 0) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)getpid(), (int)getpid());
		known = access(path, R_OK) == 0;
	}
	return known;
}

/* Tree only: walk down from the roots through /proc/<pid>/task/<tid>/children
 * (the kernel's child lists) instead of reading every process's stat. */
static int push_stat(struct scan *s, pid_t pid)
{
	scan_one(pid, s);
	return s->err ? -s->err : 0;
}

static int tree_walk(const struct isol_selector *sel, struct scan *s)
{
	for (size_t j = 0; j < sel->nroots; j++)
		if (push_stat(s, sel->roots[j]) < 0)
			return -s->err;
	for (size_t q = 0; q < s->n; q++) {
		char path[64];
		DIR *d;
		struct dirent *de;
		pid_t pid = s->all[q].pid;

		snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
		d = opendir(path);
		if (!d)
			continue; /* gone */
		while ((de = readdir(d))) {
			char cpath[320], buf[4096];
			ssize_t n;
			int fd;

			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			snprintf(cpath, sizeof cpath, "/proc/%d/task/%s/children", (int)pid, de->d_name);
			fd = open(cpath, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			/* "pid pid pid " possibly longer than buf: carry partial numbers */
			long cur = -1;
			while ((n = read(fd, buf, sizeof buf)) > 0) {
				for (ssize_t i = 0; i < n; i++) {
					if (buf[i] >= '0' && buf[i] <= '9') {
						cur = (cur < 0 ? 0 : cur * 10) + (buf[i] - '0');
					} else if (cur >= 0) {
						if (push_stat(s, (pid_t)cur) < 0) {
							close(fd);
							closedir(d);
							return -s->err;
						}
						cur = -1;
					}
				}
			}
			if (cur >= 0)
				push_stat(s, (pid_t)cur);
			close(fd);
		}
		closedir(d);
	}
	return 0;
}

/* One pass: the selected processes with their start times (for the pidfd
 * check). *out is malloc'd. */
static int select_stats(const struct isol_selector *sel, struct isol_procstat **out, size_t *nout,
			isol_error *err)
{
	struct scan s = { NULL, 0, 0, 0, NULL };
	unsigned char *mark = NULL; /* 1 selected, 2 root kept out */
	pid_t self = getpid();
	size_t k = 0;
	int r;

	*out = NULL;
	*nout = 0;
	if (sel->nroots && sel->sid <= 0 && !sel->pidns && !sel->nns && access("/proc/self/task", F_OK) == 0 &&
	    children_files()) {
		r = tree_walk(sel, &s);
		if (r < 0 || s.err) {
			free(s.all);
			return isol_fail(err, r < 0 ? -r : s.err, "scan /proc");
		}
		/* every walked process is a root or a descendant */
		for (size_t i = 0; i < s.n; i++) {
			int root = 0;
			for (size_t j = 0; j < sel->nroots; j++)
				root |= s.all[i].pid == sel->roots[j];
			if ((root && sel->keep_roots) || s.all[i].pid == self || s.all[i].state == 'Z' ||
			    s.all[i].state == 'X')
				continue;
			s.all[k++] = s.all[i];
		}
		*out = s.all;
		*nout = k;
		return 0;
	}
	if (!sel->nroots && sel->sid <= 0)
		s.ns_only = sel;
	r = proc_each(scan_one, &s);
	if (r < 0 || s.err) {
		free(s.all);
		return isol_fail(err, r < 0 ? -r : s.err, "scan /proc");
	}
	if (s.n > 1)
		qsort(s.all, s.n, sizeof *s.all, cmp_pid);
	mark = calloc(s.n ? s.n : 1, 1);
	if (!mark) {
		free(s.all);
		return isol_fail(err, ENOMEM, "scan /proc");
	}
	for (size_t i = 0; i < s.n; i++) {
		struct isol_procstat *p = &s.all[i];
		if (s.ns_only || (sel->sid > 0 && p->sid == sel->sid))
			mark[i] = 1;
		else if (ns_match(p->pid, sel))
			mark[i] = 1;
	}
	if (sel->nroots) {
		int changed = 1;
		for (size_t j = 0; j < sel->nroots; j++) {
			long i = find_pid(s.all, s.n, sel->roots[j]);
			if (i >= 0)
				mark[i] = 1;
		}
		/* Descendants: propagate marks down the ppid links until stable. */
		while (changed) {
			changed = 0;
			for (size_t i = 0; i < s.n; i++) {
				long pi;
				if (mark[i])
					continue;
				pi = find_pid(s.all, s.n, s.all[i].ppid);
				if (pi >= 0 && mark[pi]) {
					mark[i] = 1;
					changed = 1;
				}
			}
		}
		if (sel->keep_roots)
			for (size_t j = 0; j < sel->nroots; j++) {
				long i = find_pid(s.all, s.n, sel->roots[j]);
				if (i >= 0)
					mark[i] = 0;
			}
	}
	for (size_t i = 0; i < s.n; i++)
		if (mark[i] && s.all[i].pid != self && s.all[i].state != 'Z' && s.all[i].state != 'X')
			s.all[k++] = s.all[i];
	free(mark);
	*out = s.all;
	*nout = k;
	return 0;
}

int isol_proc_select(const struct isol_selector *sel, pid_t **pids, size_t *n, isol_error *err)
{
	struct isol_procstat *st;
	size_t k;
	int r = select_stats(sel, &st, &k, err);

	*pids = NULL;
	*n = 0;
	if (r < 0)
		return r;
	*pids = malloc((k ? k : 1) * sizeof **pids);
	if (!*pids) {
		free(st);
		return isol_fail(err, ENOMEM, "scan /proc");
	}
	for (size_t i = 0; i < k; i++)
		(*pids)[i] = st[i].pid;
	*n = k;
	free(st);
	return 0;
}

/* Signal one scanned process unless its pid now names another process. */
/* Signal one scanned process unless its pid now names another process.
 * With keep, a signalled process's pidfd is returned in *keep (else -1). */
static int signal_checked(const struct isol_procstat *p, int sig, int *keep)
{
	struct isol_procstat now;
	int fd = (int)syscall(SYS_pidfd_open, p->pid, 0), r = 0;

	if (keep)
		*keep = -1;
	if (fd < 0)
		return 0; /* gone already */
	/* The pidfd pins the process: if the start time still matches, the
	 * signal cannot reach a process that reused the pid. */
	if (isol_proc_stat(p->pid, &now, NULL) == 0 && now.start == p->start &&
	    syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) == 0)
		r = 1;
	if (r && keep)
		*keep = fd;
	else
		close(fd);
	return r;
}

static long long now_ms(void);

/* Wait until each pidfd reports its process's exit (POLLIN), closing them.
 * Cheaper than scanning /proc again and again while they die. */
static void wait_pidfds(int *fds, size_t n, long long deadline)
{
	for (size_t i = 0; i < n; i++) {
		struct pollfd pf = { .fd = fds[i], .events = POLLIN };
		long long left = deadline - now_ms();

		if (left > 0)
			while (poll(&pf, 1, (int)left) < 0 && errno == EINTR)
				;
		close(fds[i]);
	}
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_pid_t(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

long isol_proc_kill(const struct isol_selector *sel, int sig, int timeout_ms, isol_error *err)
{
	long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
	pid_t *seen = NULL; /* distinct processes met, sorted: the count returned */
	size_t nseen = 0, cap = 0;
	int *fds = NULL;    /* pidfds of this round's SIGKILLed processes */
	long r = 0;

	for (;;) {
		struct isol_procstat *st;
		size_t k, before = nseen, nfds = 0;

		r = select_stats(sel, &st, &k, err);
		if (r < 0)
			break;
		if (k == 0) {
			free(st);
			r = (long)nseen;
			break;
		}
		if (sig == SIGKILL) {
			int *f2 = realloc(fds, k * sizeof *fds);
			if (!f2) {
				free(st);
				r = isol_fail(err, ENOMEM, "kill");
				break;
			}
			fds = f2;
		}
		for (size_t i = 0; i < k; i++) {
			int fd = -1;
			if (!signal_checked(&st[i], sig, sig == SIGKILL ? &fd : NULL))
				continue;
			if (fd >= 0)
				fds[nfds++] = fd;
			if (before == 0 || !bsearch(&st[i].pid, seen, before, sizeof *seen, cmp_pid_t)) {
				if (nseen == cap) {
					pid_t *n2 = realloc(seen, (cap = cap ? cap * 2 : 256) * sizeof *seen);
					if (!n2) {
						free(st);
						wait_pidfds(fds, nfds, 0);
						free(fds);
						free(seen);
						return isol_fail(err, ENOMEM, "kill");
					}
					seen = n2;
				}
				seen[nseen++] = st[i].pid;
			}
		}
		free(st);
		if (nseen > 1)
			qsort(seen, nseen, sizeof *seen, cmp_pid_t);
		if (sig != SIGKILL) {
			r = (long)nseen;
			break;
		}
		/* Let this round's processes die (a process with SIGKILL pending
		 * forks no more), then scan again for what was forked meanwhile.
		 * With too many fds open at once, the pidfd_open of some simply
		 * failed: they are found alive by the next scan. */
		wait_pidfds(fds, nfds, deadline);
		if (nfds == 0) {
			/* Selected but none signalled (exiting right now): breathe. */
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
		if (now_ms() > deadline) {
			r = isol_failx(err, ETIMEDOUT, "kill: processes still alive after %d ms",
				       timeout_ms > 0 ? timeout_ms : 10000);
			break;
		}
	}
	free(fds);
	free(seen);
	return r;
}

static int kill_if_child(pid_t pid, void *ctx)
{
	struct isol_procstat st;
	long *n = ctx;

	if (isol_proc_stat(pid, &st, NULL) == 0 && st.ppid == getpid() && st.state != 'Z') {
		kill(pid, SIGKILL);
		(*n)++;
	}
	return 0;
}

void isol_kill_descendants(void)
{
	for (;;) {
		long n = 0, reaped = 0;
		int st;
		pid_t p;
		siginfo_t probe;

		/* The common case, nothing left: no child at all (orphans are
		 * re-parented to us synchronously when their parent exits, so none
		 * can be on its way once we have reaped the command). This saves a
		 * scan of all /proc on every sandbox exit. */
		if (waitid(P_ALL, 0, &probe, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD)
			return;
		proc_each(kill_if_child, &n);
		/* Reap what is dead without blocking; orphans of the killed come
		 * back to us (we are a subreaper) and the next pass kills them. */
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			reaped++;
		if (p < 0 && errno == ECHILD)
			return;
		if (n == 0 && reaped == 0) {
			/* An orphan on its way to us, not yet in /proc as ours. */
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
			continue;
		}
		/* Block for the signalled children not reaped yet: each of them
		 * dies, so every wait returns; any other death is progress too
		 * and only makes us wait less (never for an unsignalled child). */
		for (long i = reaped; i < n; i++) {
			p = waitpid(-1, &st, 0);
			if (p < 0 && errno == EINTR)
				i--;
			else if (p < 0)
				return;
		}
	}
}

/* ---- detached spawn ---- */

struct detach_msg {
	int r;
	pid_t pid;
	int nfds;
	isol_error err;
};

int isol_spawn_detached(const struct isol_plan *plan, struct isol_child *out, isol_error *err)
{
	int sv[2], ipfd = -1;
	struct clone_args args;
	struct detach_msg m;
	pid_t mid;

	out->pid = -1;
	out->pidfd = out->status_fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return isol_fail(err, errno, "detach: socketpair");
	memset(&args, 0, sizeof args);
	args.flags = CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&ipfd;
	args.exit_signal = SIGCHLD;
	mid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	if (mid < 0) {
		int e = errno;
		close(sv[0]), close(sv[1]);
		return isol_fail(err, e, "detach: fork");
	}
	if (mid == 0) {
		/* The intermediate: a copy of a host that may have threads, so
		 * syscalls only, like the spawn child. */
		struct isol_plan p = *plan;
		struct isol_child ch;
		struct msghdr mh;
		struct iovec iov;
		union {
			char buf[CMSG_SPACE(2 * sizeof(int))];
			struct cmsghdr align;
		} u;

		close(sv[0]);
		setsid();
		p.die_with_parent = 0;
		memset(&m, 0, sizeof m);
		m.r = isol_spawn(&p, &ch, &m.err);
		m.pid = ch.pid;
		memset(&mh, 0, sizeof mh);
		iov.iov_base = &m;
		iov.iov_len = sizeof m;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (m.r == 0) {
			int fds[2] = { ch.pidfd, ch.status_fd };
			struct cmsghdr *c;

			m.nfds = ch.status_fd >= 0 ? 2 : 1;
			memset(&u, 0, sizeof u);
			mh.msg_control = u.buf;
			mh.msg_controllen = CMSG_SPACE((size_t)m.nfds * sizeof(int));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN((size_t)m.nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fds, (size_t)m.nfds * sizeof(int));
		}
		if (sendmsg(sv[1], &mh, MSG_NOSIGNAL) < 0 && m.r == 0)
			kill(ch.pid, SIGKILL); /* nobody will know about it */
		_exit(0);
	}

	close(sv[1]);
	{
		struct msghdr mh;
		struct iovec iov;
		union {
			char buf[CMSG_SPACE(2 * sizeof(int))];
			struct cmsghdr align;
		} u;
		ssize_t n;
		siginfo_t si;

		memset(&mh, 0, sizeof mh);
		memset(&m, 0, sizeof m);
		iov.iov_base = &m;
		iov.iov_len = sizeof m;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof u.buf;
		do
			n = recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC);
		while (n < 0 && errno == EINTR);
		close(sv[0]);
		while (waitid((idtype_t)P_PIDFD, (id_t)ipfd, &si, WEXITED) < 0 && errno == EINTR)
			;
		close(ipfd);
		if (n != (ssize_t)sizeof m)
			return isol_failx(err, EIO, "detach: the intermediate process died");
		if (m.r < 0) {
			m.err.msg[sizeof m.err.msg - 1] = '\0';
			if (err)
				*err = m.err;
			return m.r;
		}
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		if (!c || c->cmsg_type != SCM_RIGHTS || m.nfds < 1 || m.nfds > 2 ||
		    c->cmsg_len != CMSG_LEN((size_t)m.nfds * sizeof(int)))
			return isol_failx(err, EIO, "detach: no pidfd received");
		int fds[2] = { -1, -1 };
		memcpy(fds, CMSG_DATA(c), (size_t)m.nfds * sizeof(int));
		out->pid = m.pid;
		out->pidfd = fds[0];
		out->status_fd = fds[1];
	}
	return 0;
}
