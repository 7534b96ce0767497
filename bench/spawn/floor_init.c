/* The minimal init of the spawn floor (bench/spawn/floor.c -i): a static
 * program exec'd from a sealed memfd as PID 1 of the new pid namespace; it
 * forks, the child execs the command, and it reaps until the command is
 * gone, exiting with its status. What isol's init does at the least. */
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int st = 0;
	pid_t pid, w;

	if (argc < 2)
		return 2;
	pid = fork();
	if (pid == 0) {
		execv(argv[1], argv + 1);
		_exit(127);
	}
	if (pid < 0)
		return 126;
	while ((w = wait(&st)) != pid)
		if (w < 0)
			return 126;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
