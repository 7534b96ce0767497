/* maxrss CMD ARGS...: run CMD through fork (a small copy-on-write parent)
 * and print its peak RSS in KiB (ru_maxrss of wait4). A child made with
 * CLONE_VM (isol's spawn, posix_spawn, vfork) would carry its parent's
 * high-water RSS through execve into ru_maxrss; a fork of this small
 * program carries only its own few pages. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int st;
	pid_t pid;

	if (argc < 2)
		return 2;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 1;
	printf("%ld\n", ru.ru_maxrss);
	return 0;
}
