/*
 * Select and kill by session, namespaces or tree (see procscan.h).
 */
#define _GNU_SOURCE
#include "procscan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int isol_proc_stat(pid_t pid, struct isol_procstat *st, isol_error *err)
{
	int r = isol_procfs_stat(-1, pid, st);

	if (r == -EINVAL)
		return isol_failx(err, EINVAL, "parse /proc/%d/stat", (int)pid);
	if (r < 0)
		return isol_fail(err, -r, "read /proc/%d/stat", (int)pid);
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
	if (sel->nroots && sel->sid <= 0 && !sel->pidns && !sel->nns &&
	    access("/proc/self/task", F_OK) == 0 && children_files()) {
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
	r = isol_procfs_each(-1, scan_one, &s);
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
	int *fds = NULL; /* pidfds of this round's SIGKILLed processes */
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
