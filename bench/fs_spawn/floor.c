/* C floor for bench/fs_spawn: the same new root as isol.recipes.host_readonly
 * (read-only binds, symlinks, /etc files, fresh /proc, minimal /dev, tmpfs
 * /tmp, read-only root, pivot_root + detach), with plain mount(2) calls and
 * nothing else: clone(NEWNS|NEWPID) -> mounts -> exec /bin/true -> wait.
 * The fresh /proc gets the hardening every container runtime applies and a
 * safe sandbox needs (runc's default maskedPaths/readonlyPaths, isol's
 * ISOL_PROC_MASKED/ISOL_PROC_READONLY, checked by spec/boundary_spec.lua;
 * bubblewrap does the read-only part): kcore, keys, timer_list,
 * timer_stats, sched_debug, latency_stats and interrupts covered with
 * /dev/null, acpi, scsi and asound with a read-only tmpfs, sys,
 * sysrq-trigger, irq, bus and fs bound read-only onto themselves. Done the
 * cheapest way with bare mount(2), as runc does it, without a stat first
 * (a name this kernel lacks fails ENOENT and is skipped).
 * usage: floor N OP...   OP = B:/dir  L:/link=target  F:/etc/file  P  D  T
 * prints the mean microseconds per spawn. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int nops;
static char **ops;

#define R "/tmp"
#define CK(x) do { if ((x) < 0) { perror(#x); _exit(120); } } while (0)

static void mkdirs(const char *p)
{
	char b[4096];
	snprintf(b, sizeof b, "%s", p);
	for (char *s = b + 1; *s; s++)
		if (*s == '/') { *s = 0; mkdir(b, 0755); *s = '/'; }
	mkdir(b, 0755);
}

static void bind_ro(const char *src, const char *dst, int file)
{
	struct stat st;
	if (stat(src, &st) < 0)
		return;
	if (file || !S_ISDIR(st.st_mode)) {
		char d[4096];
		snprintf(d, sizeof d, "%s", dst);
		*strrchr(d, '/') = 0;
		mkdirs(d);
		close(open(dst, O_CREAT | O_WRONLY, 0644));
	} else {
		mkdirs(dst);
	}
	CK(mount(src, dst, NULL, MS_BIND | MS_REC, NULL));
	CK(mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV | MS_NOSUID, NULL));
}

/* mount(2) that may find no such name (skipped) */
static void mount_opt(const char *src, const char *dst, const char *type, unsigned long flags)
{
	if (mount(src, dst, type, flags, NULL) < 0 && errno != ENOENT) {
		perror(dst);
		_exit(120);
	}
}

static void proc_harden(void)
{
	static const char *const files[] = { "kcore", "keys", "timer_list", "timer_stats", "sched_debug",
					     "latency_stats", "interrupts" };
	static const char *const dirs[] = { "acpi", "scsi", "asound" };
	static const char *const ro[] = { "sys", "sysrq-trigger", "irq", "bus", "fs" };
	char p[64];

	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(p, sizeof p, R "/proc/%s", files[i]);
		mount_opt("/dev/null", p, NULL, MS_BIND);
	}
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		snprintf(p, sizeof p, R "/proc/%s", dirs[i]);
		mount_opt("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
	}
	for (size_t i = 0; i < sizeof ro / sizeof *ro; i++) {
		snprintf(p, sizeof p, R "/proc/%s", ro[i]);
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			perror(p);
			_exit(120);
		}
		CK(mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
	}
}

static int child(void *arg)
{
	char dst[4096];
	(void)arg;
	CK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	CK(mount("tmpfs", R, "tmpfs", 0, "mode=0755"));
	for (int i = 0; i < nops; i++) {
		char *op = ops[i];
		if (op[0] == 'B' || op[0] == 'F') {
			snprintf(dst, sizeof dst, R "%s", op + 2);
			bind_ro(op + 2, dst, 0);
		} else if (op[0] == 'L') {
			char *eq = strchr(op, '=');
			*eq = 0;
			snprintf(dst, sizeof dst, R "%s", op + 2);
			symlink(eq + 1, dst);
			*eq = '=';
		} else if (op[0] == 'P') {
			mkdirs(R "/proc");
			CK(mount("proc", R "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
			proc_harden();
		} else if (op[0] == 'D') {
			static const char *n[] = { "null", "zero", "full", "random", "urandom", "tty" };
			mkdirs(R "/dev");
			CK(mount("tmpfs", R "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k"));
			for (int k = 0; k < 6; k++) {
				char s[64];
				snprintf(s, sizeof s, "/dev/%s", n[k]);
				snprintf(dst, sizeof dst, R "/dev/%s", n[k]);
				close(open(dst, O_CREAT | O_WRONLY, 0644));
				CK(mount(s, dst, NULL, MS_BIND, NULL));
			}
			mkdirs(R "/dev/pts");
			CK(mount("devpts", R "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"));
			mkdirs(R "/dev/shm");
			CK(mount("tmpfs", R "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
			symlink("pts/ptmx", R "/dev/ptmx");
			symlink("/proc/self/fd", R "/dev/fd");
			symlink("/proc/self/fd/0", R "/dev/stdin");
			symlink("/proc/self/fd/1", R "/dev/stdout");
			symlink("/proc/self/fd/2", R "/dev/stderr");
		} else if (op[0] == 'T') {
			mkdirs(R "/tmp");
			CK(mount("tmpfs", R "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m"));
		}
	}
	CK(mount(NULL, R, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
	CK(chdir(R));
	CK(syscall(SYS_pivot_root, ".", "."));
	CK(umount2(".", MNT_DETACH));
	CK(chdir("/"));
	execl("/bin/true", "true", (char *)NULL);
	_exit(127);
}

int main(int argc, char **argv)
{
	static char stack[1 << 16];
	struct timespec a, b;
	int n = atoi(argv[1]);

	nops = argc - 2;
	ops = argv + 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		int st;
		pid_t pid = clone(child, stack + sizeof stack, CLONE_NEWNS | CLONE_NEWPID | SIGCHLD, NULL);
		if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "floor: spawn %d failed (status %d)\n", i, st);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n);
	return 0;
}
