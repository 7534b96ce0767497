/*
 * bench/sweep floor: one sweep run with plain syscalls. mkdir a memory
 * cgroup under the given parent, write the limit, fork a child that joins it
 * and execs /bin/true, wait, read the peak, rmdir. Repeats N times and
 * prints the total seconds.
 *
 *   floor PARENT_DIR v1|v2 N [INIT] [-d]
 *
 * With INIT (a static program: bench/spawn/floor_init.c, which forks, execs
 * its argv and reaps), INIT is copied once into a sealed memfd and the
 * child execs it with /bin/true as its command: the floor of a sweep run
 * with an init supervising the command, as isol's default (init = true).
 * Added with the row's switch to isol's default; without INIT the floor
 * does what it always did. A child that fails (exit status not 0) stops the
 * floor with an error, as a failed isol run stops the bench.
 *
 * The child joins the group the cheapest way the kernel offers, the way
 * isol does: on v1 it writes "0" to the group's `tasks` file (moving one
 * thread skips the kernel's global threadgroup lock, whose write side,
 * taken by a write to cgroup.procs, waits a whole RCU grace period when
 * idle: 5-25 ms on one run in a hundred here); on v2 it is cloned into
 * the group (clone3 with CLONE_INTO_CGROUP).
 *
 * With -d, the child then takes isol's own defences, as a sweep run's child
 * does (bench/spawn/defences.h, without a loopback: no network namespace).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../spawn/defences.h"

static int put(const char *dir, const char *file, const char *val)
{
	char p[4096];
	int fd, ok;

	snprintf(p, sizeof p, "%s/%s", dir, file);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

static long get(const char *dir, const char *file)
{
	char p[4096], buf[64];
	int fd;
	ssize_t n;

	snprintf(p, sizeof p, "%s/%s", dir, file);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return atol(buf);
}

/* INIT into a sealed memfd (once, outside the timed loop), as isol does. */
static int load_init(const char *path)
{
	char buf[65536];
	ssize_t n;
	int in = open(path, O_RDONLY | O_CLOEXEC),
	    fd = memfd_create("floor-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (in < 0 || fd < 0) {
		perror(path);
		exit(1);
	}
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(fd, buf, (size_t)n) != n)
			exit(1);
	close(in);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		perror("seal");
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct timespec a, b;
	int v2, n, i, init_fd = -1, defences = 0;

	if (argc > 4 && strcmp(argv[argc - 1], "-d") == 0)
		defences = 1, argc--;
	if (argc != 4 && argc != 5)
		return 2;
	if (argc == 5)
		init_fd = load_init(argv[4]);
	v2 = !strcmp(argv[2], "v2");
	n = atoi(argv[3]);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		char dir[4096];
		pid_t pid;
		int st;

		snprintf(dir, sizeof dir, "%s/isolbench-floor-%d-%d", argv[1], (int)getpid(), i);
		if (mkdir(dir, 0755) < 0) {
			perror("mkdir");
			return 1;
		}
		if (put(dir, v2 ? "memory.max" : "memory.limit_in_bytes", "33554432") < 0) {
			perror("limit");
			return 1;
		}
		if (v2) {
			struct clone_args ca;
			int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			memset(&ca, 0, sizeof ca);
			ca.flags = CLONE_INTO_CGROUP;
			ca.exit_signal = SIGCHLD;
			ca.cgroup = (uint64_t)dfd;
			pid = dfd < 0 ? -1 : (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
			if (dfd >= 0 && pid != 0)
				close(dfd);
		} else {
			pid = fork();
		}
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			if (!v2 && put(dir, "tasks", "0") < 0)
				_exit(126);
			if (defences) {
				defences_early(0);
				defences_late();
			}
			if (init_fd >= 0) {
				char *iargv[] = { "init", "/bin/true", NULL }, *noenv[] = { NULL };
				syscall(SYS_execveat, init_fd, "", iargv, noenv, AT_EMPTY_PATH);
				_exit(127);
			}
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "child failed\n");
			return 1;
		}
		if (get(dir, v2 ? "memory.peak" : "memory.max_usage_in_bytes") < 0 && !v2)
			fprintf(stderr, "no peak\n");
		if (rmdir(dir) < 0) {
			perror("rmdir");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.6f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
