/*
 * bench/sweep floor: one sweep run with plain syscalls. mkdir a memory
 * cgroup under the given parent, write the limit, fork a child that joins it
 * and execs /bin/true, wait, read the peak, rmdir. Repeats N times and
 * prints the total seconds.
 *
 *   floor PARENT_DIR v1|v2 N
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
	struct timespec a, b;
	int v2, n, i;

	if (argc != 4)
		return 2;
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
		pid = fork();
		if (pid == 0) {
			if (put(dir, "cgroup.procs", "0") < 0)
				_exit(126);
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &st, 0);
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
