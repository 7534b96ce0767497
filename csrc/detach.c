/*
 * Detached spawn through an intermediate process (see detach.h).
 */
#define _GNU_SOURCE
#include "detach.h"

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct detach_msg {
	int r;
	pid_t pid;
	int nfds;
	isol_error err;
};

int isol_spawn_detached(const struct isol_plan *plan, struct isol_child *out, isol_error *err)
{
	int sv[2], ipfd = -1;
	struct clone_args args;
	struct detach_msg m;
	pid_t mid;

	out->pid = -1;
	out->pidfd = out->status_fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return isol_fail(err, errno, "detach: socketpair");
	memset(&args, 0, sizeof args);
	args.flags = CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&ipfd;
	args.exit_signal = SIGCHLD;
	mid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	if (mid < 0) {
		int e = errno;
		close(sv[0]), close(sv[1]);
		return isol_fail(err, e, "detach: fork");
	}
	if (mid == 0) {
		/* The intermediate: a copy of a host that may have threads, so
		 * syscalls only, like the spawn child. */
		struct isol_plan p = *plan;
		struct isol_child ch;
		struct msghdr mh;
		struct iovec iov;
		union {
			char buf[CMSG_SPACE(2 * sizeof(int))];
			struct cmsghdr align;
		} u;

		isol_error_defer_strerror(); /* a copy of the host: see error.h */
		close(sv[0]);
		setsid();
		p.die_with_parent = 0;
		memset(&m, 0, sizeof m);
		m.r = isol_spawn(&p, &ch, &m.err);
		m.pid = ch.pid;
		memset(&mh, 0, sizeof mh);
		iov.iov_base = &m;
		iov.iov_len = sizeof m;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (m.r == 0) {
			int fds[2] = { ch.pidfd, ch.status_fd };
			struct cmsghdr *c;

			m.nfds = ch.status_fd >= 0 ? 2 : 1;
			memset(&u, 0, sizeof u);
			mh.msg_control = u.buf;
			mh.msg_controllen = CMSG_SPACE((size_t)m.nfds * sizeof(int));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN((size_t)m.nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fds, (size_t)m.nfds * sizeof(int));
		}
		if (sendmsg(sv[1], &mh, MSG_NOSIGNAL) < 0 && m.r == 0)
			kill(ch.pid, SIGKILL); /* nobody will know about it */
		_exit(0);
	}

	close(sv[1]);
	{
		struct msghdr mh;
		struct iovec iov;
		union {
			char buf[CMSG_SPACE(2 * sizeof(int))];
			struct cmsghdr align;
		} u;
		ssize_t n;
		siginfo_t si;

		memset(&mh, 0, sizeof mh);
		memset(&m, 0, sizeof m);
		iov.iov_base = &m;
		iov.iov_len = sizeof m;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof u.buf;
		do
			n = recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC);
		while (n < 0 && errno == EINTR);
		close(sv[0]);
		while (waitid((idtype_t)P_PIDFD, (id_t)ipfd, &si, WEXITED) < 0 && errno == EINTR)
			;
		close(ipfd);
		if (n != (ssize_t)sizeof m)
			return isol_failx(err, EIO, "detach: the intermediate process died");
		if (m.r < 0) {
			m.err.msg[sizeof m.err.msg - 1] = '\0';
			isol_error_finish(&m.err);
			if (err)
				*err = m.err;
			return m.r;
		}
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		if (!c || c->cmsg_type != SCM_RIGHTS || m.nfds < 1 || m.nfds > 2 ||
		    c->cmsg_len != CMSG_LEN((size_t)m.nfds * sizeof(int)))
			return isol_failx(err, EIO, "detach: no pidfd received");
		int fds[2] = { -1, -1 };
		memcpy(fds, CMSG_DATA(c), (size_t)m.nfds * sizeof(int));
		out->pid = m.pid;
		out->pidfd = fds[0];
		out->status_fd = fds[1];
	}
	return 0;
}
