/*
 * isol's init, parent side: embedded copy, sealed memfd, argv, status
 * record (see init.h). The init program is csrc/init/isol-init.c.
 */
#define _GNU_SOURCE
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pidfd.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

/* csrc/init/blob.S: the static isol-init executable, as data. */
extern const unsigned char isol_init_blob[], isol_init_blob_end[];

static int cached_memfd = -1;

static int make_memfd(isol_error *err)
{
	const unsigned char *p = isol_init_blob;
	size_t left = (size_t)(isol_init_blob_end - isol_init_blob);
	/* MFD_EXEC: with vm.memfd_noexec=1 (Linux 6.3+), a memfd is not
	 * executable unless asked; older kernels reject the flag. */
	int fd = memfd_create("isol-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("isol-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return isol_fail(err, errno, "memfd_create isol-init");
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			return isol_fail(err, e, "write isol-init memfd");
		}
		p += n;
		left -= (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int e = errno;
		close(fd);
		return isol_fail(err, e, "seal isol-init memfd");
	}
	return fd;
}

/* The cached fd and the inode it had: a host may close or dup2 over fds it
 * does not know (closefrom), and exec'ing whatever now holds that number
 * must never happen. One fstat per spawn tells. */
static unsigned long long cached_ino;

static int still_ours(int fd)
{
	struct stat sb;
	int seals = fcntl(fd, F_GET_SEALS);

	return fstat(fd, &sb) == 0 && seals >= 0 && (seals & F_SEAL_WRITE) &&
	       (unsigned long long)sb.st_ino == __atomic_load_n(&cached_ino, __ATOMIC_ACQUIRE);
}

int isol_init_memfd(isol_error *err)
{
	int old = __atomic_load_n(&cached_memfd, __ATOMIC_ACQUIRE), fd;
	struct stat sb;

	if (old >= 0 && still_ours(old))
		return old;
	fd = make_memfd(err);
	if (fd < 0)
		return fd;
	if (fstat(fd, &sb) < 0) {
		int e = errno;
		close(fd);
		return isol_fail(err, e, "stat isol-init memfd");
	}
	/* Publish; a racing thread's copy wins and ours is closed. A stale
	 * cached number is simply replaced (it is not ours to close). */
	if (!__atomic_compare_exchange_n(&cached_memfd, &old, fd, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		close(fd);
		return old;
	}
	__atomic_store_n(&cached_ino, (unsigned long long)sb.st_ino, __ATOMIC_RELEASE);
	return fd;
}

/* The landlock slot: "-l" and room for any int, patched in the child. */
#define LANDLOCK_SLOT 16

char **isol_init_argv(const struct isol_init_opts *o, void *buf, size_t bufsize, isol_error *err)
{
	char opts[10][LANDLOCK_SLOT];
	size_t nenv = 0, nargv = 0, nopt = 0, bytes = 0, nptr;
	char **argv, *s;

	while (o->envp && o->envp[nenv])
		nenv++;
	while (o->argv[nargv])
		nargv++;
	if (o->pidns)
		snprintf(opts[nopt++], LANDLOCK_SLOT, "-n");
	if (o->new_session)
		snprintf(opts[nopt++], LANDLOCK_SLOT, "-S");
	if (o->new_root)
		snprintf(opts[nopt++], LANDLOCK_SLOT, "-R");
	if (o->ctty)
		snprintf(opts[nopt++], LANDLOCK_SLOT, "-T");
	if (o->status_fd >= 0)
		snprintf(opts[nopt++], LANDLOCK_SLOT, "-s%d", o->status_fd);
	if (o->parent_pidfd >= 0)
		snprintf(opts[nopt++], LANDLOCK_SLOT, "-p%d", o->parent_pidfd);
	if (o->err_fd >= 0)
		snprintf(opts[nopt++], LANDLOCK_SLOT, "-e%d", o->err_fd);
	if (o->timeout_ms > 0)
		snprintf(opts[nopt++], LANDLOCK_SLOT, "-t%d", o->timeout_ms);
	if (o->proc_dirfd >= 0)
		snprintf(opts[nopt++], LANDLOCK_SLOT, "-r%d", o->proc_dirfd);
	/* argv[0], options, landlock slot, "--", NENV, env, file, argv, NULL */
	nptr = 1 + nopt + 1 + 1 + 1 + nenv + 1 + nargv + 1;
	if (nenv > 1000000 || nargv > 1000000)
		return isol_failx(err, E2BIG, "spawn: command line too long"), NULL;
	bytes = nptr * sizeof(char *) + sizeof "isol-init" + (nopt + 1) * LANDLOCK_SLOT + 3 + 24;
	/* The block starts with its mmap'd size, 0 in buf. mmap, not malloc:
	 * detach's intermediate (a copy of a threaded host) spawns too, and
	 * must not take malloc's lock. buf spares a mapping, its page fault
	 * and its unmapping on each spawn. */
	bytes += sizeof(size_t);
	if (buf && bytes <= bufsize) {
		s = buf;
		memset(s, 0, sizeof(size_t));
	} else {
		s = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (s == MAP_FAILED)
			return isol_fail(err, errno, "spawn: init argv"), NULL;
		memcpy(s, &bytes, sizeof bytes);
	}
	argv = (char **)(s + sizeof(size_t));
	s = (char *)(argv + nptr);
	nptr = 0;
	argv[nptr++] = memcpy(s, "isol-init", sizeof "isol-init");
	s += sizeof "isol-init";
	for (size_t i = 0; i < nopt; i++, s += LANDLOCK_SLOT)
		argv[nptr++] = memcpy(s, opts[i], LANDLOCK_SLOT);
	argv[nptr++] = memcpy(s, "-l-1", sizeof "-l-1");
	s += LANDLOCK_SLOT;
	argv[nptr++] = memcpy(s, "--", 3);
	s += 3;
	snprintf(s, 24, "%zu", nenv);
	argv[nptr++] = s;
	for (size_t i = 0; i < nenv; i++)
		argv[nptr++] = o->envp[i];
	argv[nptr++] = (char *)o->file;
	for (size_t i = 0; i < nargv; i++)
		argv[nptr++] = o->argv[i];
	argv[nptr] = NULL;
	return argv;
}

int isol_init_child_exec(int memfd, char **argv, const struct isol_init_opts *o, int landlock_fd,
			 isol_error *err)
{
	static char *const no_env[] = { NULL };
	const int fds[] = { o->status_fd, o->parent_pidfd, o->err_fd, o->proc_dirfd, landlock_fd };

	for (int i = 1; argv[i]; i++)
		if (strncmp(argv[i], "-l", 2) == 0) {
			snprintf(argv[i], LANDLOCK_SLOT, "-l%d", landlock_fd);
			break;
		}
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0 && fcntl(fds[i], F_SETFD, 0) < 0)
			return isol_fail(err, errno, "init: keep fd %d", fds[i]);
	syscall(SYS_execveat, memfd, "", argv, no_env, AT_EMPTY_PATH);
	return isol_fail(err, errno, "exec isol-init");
}

void isol_init_argv_free(char **argv)
{
	if (argv) {
		char *base = (char *)argv - sizeof(size_t);
		size_t bytes;

		memcpy(&bytes, base, sizeof bytes);
		if (bytes)
			munmap(base, bytes);
	}
}

int isol_init_status(int status_fd, const struct isol_wait *w, int *status, int *timeout)
{
	struct isol_init_record rec[2];
	ssize_t n;

	do
		n = read(status_fd, rec, sizeof rec);
	while (n < 0 && errno == EINTR);
	/* The init exits with ISOL_INIT_EXIT_OK only after writing its one
	 * record. Anything else (killed, a second record, a short one) is the
	 * init's own fate. */
	if (!w->exited || w->code != ISOL_INIT_EXIT_OK || n != (ssize_t)sizeof rec[0] ||
	    (rec[0].flags & ISOL_INIT_MAGIC_MASK) != ISOL_INIT_MAGIC)
		return 0;
	*status = rec[0].status;
	*timeout = (rec[0].flags & ISOL_INIT_TIMEOUT) != 0;
	return 1;
}
