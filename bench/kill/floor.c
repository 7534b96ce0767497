/* The C floor of bench/kill: a pid namespace with the same process tree as
 * isol's (PID 1 a minimal init, PID 2 /bin/sh with N sleeping children);
 * time kill(PID 1, SIGKILL) + waitpid, then count the processes left in
 * that namespace. Prints: "<seconds> <survivors>". */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ino_t ns_ino(pid_t pid)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)pid);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

static int count_in_ns(ino_t ino)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && ns_ino(atoi(de->d_name)) == ino)
			n++;
	if (d)
		closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	const char *script = argc > 1 ? argv[1] : "for i in $(seq 1000); do sleep 1000 & done; echo ready; wait";
	int p[2];
	char buf[16];
	pid_t pid;
	ino_t ino;
	double t0, t1;

	if (pipe(p) < 0)
		return 1;
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		perror("clone");
		return 1;
	}
	if (pid == 0) {
		/* PID 1: fork the shell, then just sit (like an idle init). */
		if (fork() == 0) {
			dup2(p[1], 1);
			close(p[0]);
			close(p[1]);
			execl("/bin/sh", "sh", "-c", script, (char *)NULL);
			_exit(127);
		}
		close(p[0]);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], buf, sizeof buf) <= 0)
		return 1;
	ino = ns_ino(pid);
	t0 = now();
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	t1 = now();
	printf("%.6f %d\n", t1 - t0, count_in_ns(ino));
	return 0;
}
