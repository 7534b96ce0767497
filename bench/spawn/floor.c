/* Raw-syscall floor for the spawn benchmark: clone3 into
 * user+mnt+pid+uts+ipc+net, parent writes uid/gid maps, releases the child
 * over a pipe, the child execs /bin/true, the parent reaps through the pidfd.
 * Usage: floor N [-i INIT] [-d]  -> runs N spawns, prints the median ns per
 * spawn. With -i, INIT (a static program: floor_init.c) is copied once into
 * a sealed memfd and the child execs it with /bin/true as its command (the
 * floor of a spawn with an init as PID 1, as isol's default). With -d, the
 * child takes isol's own defences first (defences.h). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "defences.h"

static int defences;

static void wr(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, s, strlen(s)) < 0) {
		perror(path);
		exit(1);
	}
	close(fd);
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static int init_fd = -1;

static void load_init(const char *path)
{
	char buf[65536];
	ssize_t n;
	int in = open(path, O_RDONLY | O_CLOEXEC);

	init_fd = memfd_create("floor-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (in < 0 || init_fd < 0) {
		perror(path);
		exit(1);
	}
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(init_fd, buf, (size_t)n) != n)
			exit(1);
	close(in);
	if (fcntl(init_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		perror("seal");
		exit(1);
	}
}

static void one(void)
{
	struct clone_args args;
	int pidfd = -1, p[2];
	char path[64], map[64];
	pid_t pid;
	siginfo_t si;

	if (pipe2(p, O_CLOEXEC) < 0)
		exit(1);
	memset(&args, 0, sizeof args);
	args.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
		     CLONE_NEWNET | CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	if (pid < 0) {
		perror("clone3");
		exit(1);
	}
	if (pid == 0) {
		char c;
		close(p[1]);
		if (defences)
			defences_early(1);
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		if (defences)
			defences_late();
		if (init_fd >= 0) {
			char *iargv[] = { "init", "/bin/true", NULL }, *noenv[] = { NULL };
			syscall(SYS_execveat, init_fd, "", iargv, noenv, AT_EMPTY_PATH);
			_exit(127);
		}
		char *argv[] = { "/bin/true", NULL };
		execve(argv[0], argv, environ);
		_exit(127);
	}
	close(p[0]);
	snprintf(path, sizeof path, "/proc/%d/setgroups", pid);
	wr(path, "deny");
	snprintf(map, sizeof map, "0 %d 1\n", (int)getuid());
	snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
	wr(path, map);
	snprintf(map, sizeof map, "0 %d 1\n", (int)getgid());
	snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
	wr(path, map);
	if (write(p[1], "g", 1) != 1)
		exit(1);
	close(p[1]);
	if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 || si.si_status != 0) {
		fprintf(stderr, "child failed\n");
		exit(1);
	}
	close(pidfd);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-i") == 0 && i + 1 < argc)
			load_init(argv[++i]);
		else if (strcmp(argv[i], "-d") == 0)
			defences = 1;
		else
			return fprintf(stderr, "usage: floor N [-i INIT] [-d]\n"), 2;
	}
	long long *t = calloc((size_t)n, sizeof *t);

	for (int i = 0; i < n; i++) {
		long long t0 = now_ns();
		one();
		t[i] = now_ns() - t0;
	}
	qsort(t, (size_t)n, sizeof *t, cmp);
	printf("%lld\n", t[n / 2]);
	free(t);
	return 0;
}
