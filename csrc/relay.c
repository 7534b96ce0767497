/* The port relay into a sandbox's address (see relay.h): listening sockets
 * bound by the caller, a forked process that carries TCP connections and
 * UDP flows to the sandbox. */
#define _GNU_SOURCE
#include "relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64    /* TCP connections at once; more wait in the listen backlog */
#define MAX_FLOWS 64    /* UDP client addresses at once; the least recently used goes */
#define FLOW_IDLE_S 120 /* a UDP flow without traffic for this long is closed */
#define CHUNK 65536     /* splice length; also the UDP datagram buffer */
#define NOBODY 65534    /* the overflow id */
#define MAX_POLL (ISOL_RELAY_MAX_PORTS + 2 * MAX_CONNS + MAX_FLOWS)

union addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

static socklen_t make_addr(union addr *a, int family, const unsigned char *bytes, uint16_t port)
{
	memset(a, 0, sizeof *a);
	if (family == AF_INET6) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons(port);
		if (bytes)
			memcpy(&a->in6.sin6_addr, bytes, 16);
		return sizeof a->in6;
	}
	a->in.sin_family = AF_INET;
	a->in.sin_port = htons(port);
	if (bytes)
		memcpy(&a->in.sin_addr, bytes, 4);
	return sizeof a->in;
}

/* ---- the relay process ---- */

/* One direction of a TCP connection: from -> pipe -> to. */
struct dir {
	int from, to;
	int pipe[2];
	size_t queued;     /* bytes in the pipe */
	unsigned eof : 1;  /* `from` said EOF */
	unsigned shut : 1; /* `to` was shut down for writing */
	unsigned full : 1; /* the pipe took no more: wait until it drains */
};

struct conn {
	int fd[2]; /* client, sandbox; fd[0] == -1: a free slot */
	int connecting;
	struct dir d[2]; /* client -> sandbox, sandbox -> client */
};

struct flow {
	int fd;    /* connected to the sandbox; -1: a free slot */
	int lsock; /* the listening socket that answers the client */
	union addr peer;
	socklen_t plen;
	time_t last;
};

/* What the caller prepares; the child copies it. */
struct relay_cfg {
	int nl; /* listening sockets, at fds 3 .. 3 + nl - 1 in the child */
	int proto[ISOL_RELAY_MAX_PORTS];
	union addr to[ISOL_RELAY_MAX_PORTS];
	socklen_t tolen[ISOL_RELAY_MAX_PORTS];
};

/* The child's state (mmap'd: about 80 KiB with the datagram buffer). */
struct relay {
	struct relay_cfg c;
	struct conn conns[MAX_CONNS];
	struct flow flows[MAX_FLOWS];
	struct pollfd pfd[MAX_POLL];
	short kind[MAX_POLL], idx[MAX_POLL];
	char buf[CHUNK];
};

enum { K_LISTEN, K_CLIENT, K_SANDBOX, K_FLOW };

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void conn_close(struct conn *c)
{
	for (int i = 0; i < 2; i++) {
		close_fd(&c->fd[i]);
		close_fd(&c->d[i].pipe[0]);
		close_fd(&c->d[i].pipe[1]);
	}
}

static void conn_open(struct relay *r, int client, int l)
{
	struct conn *c = NULL;
	int s;

	for (int i = 0; i < MAX_CONNS && !c; i++)
		if (r->conns[i].fd[0] < 0)
			c = &r->conns[i];
	if (!c) { /* (not polled for accept when full) */
		close(client);
		return;
	}
	memset(c, 0, sizeof *c);
	c->fd[0] = client;
	c->fd[1] = -1;
	for (int i = 0; i < 2; i++)
		c->d[i].pipe[0] = c->d[i].pipe[1] = -1;
	s = socket(r->c.to[l].sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->fd[1] = s;
	if (s < 0 || pipe2(c->d[0].pipe, O_NONBLOCK | O_CLOEXEC) < 0 ||
	    pipe2(c->d[1].pipe, O_NONBLOCK | O_CLOEXEC) < 0 ||
	    (connect(s, &r->c.to[l].sa, r->c.tolen[l]) < 0 && errno != EINPROGRESS)) {
		conn_close(c);
		return;
	}
	c->connecting = 1;
	c->d[0].from = c->d[1].to = client;
	c->d[0].to = c->d[1].from = s;
}

/* Move what can move without blocking. Returns 1 on progress, 0 on none,
 * -1 when the connection failed. */
static int pump(struct dir *d)
{
	int moved = 0;
	ssize_t n;

	if (!d->eof && !d->full) {
		n = splice(d->from, NULL, d->pipe[1], NULL, CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0)
			d->queued += (size_t)n, moved = 1;
		else if (n == 0)
			d->eof = 1, moved = 1;
		else if (errno != EAGAIN)
			return -1;
		else if (d->queued)
			d->full = 1; /* (or `from` was empty: either way, drain first) */
	}
	if (d->queued) {
		n = splice(d->pipe[0], NULL, d->to, NULL, d->queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0)
			d->queued -= (size_t)n, d->full = 0, moved = 1;
		else if (n < 0 && errno != EAGAIN)
			return -1;
	}
	if (d->eof && !d->queued && !d->shut) {
		shutdown(d->to, SHUT_WR);
		d->shut = 1, moved = 1;
	}
	return moved;
}

static short want_read(const struct dir *d)
{
	return !d->eof && !d->full ? POLLIN : 0;
}

static void conn_event(struct conn *c, short rev_client, short rev_sandbox)
{
	short hup = (rev_client | rev_sandbox) & (POLLHUP | POLLERR);
	int a, b;

	if (c->connecting) {
		int e = 0;
		socklen_t len = sizeof e;
		if (rev_sandbox & (POLLOUT | POLLERR | POLLHUP)) {
			if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &e, &len) < 0 || e) {
				conn_close(c);
				return;
			}
			c->connecting = 0;
		} else if (hup) {
			conn_close(c);
			return;
		} else {
			return;
		}
	}
	a = pump(&c->d[0]);
	b = pump(&c->d[1]);
	if (a < 0 || b < 0 || (c->d[0].shut && c->d[1].shut) || (hup && !a && !b))
		conn_close(c);
}

static struct flow *flow_for(struct relay *r, int l, const union addr *peer, socklen_t plen, time_t now)
{
	struct flow *f = NULL, *oldest = &r->flows[0];

	for (int i = 0; i < MAX_FLOWS; i++) {
		struct flow *x = &r->flows[i];
		if (x->fd >= 0 && x->lsock == 3 + l && x->plen == plen && memcmp(&x->peer, peer, plen) == 0)
			return x;
		if (x->fd < 0 && !f)
			f = x;
		if (x->fd >= 0 && x->last < oldest->last)
			oldest = x;
	}
	if (!f) {
		f = oldest;
		close_fd(&f->fd);
	}
	f->fd = socket(r->c.to[l].sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd < 0)
		return NULL;
	if (connect(f->fd, &r->c.to[l].sa, r->c.tolen[l]) < 0) {
		close_fd(&f->fd);
		return NULL;
	}
	f->lsock = 3 + l;
	f->peer = *peer;
	f->plen = plen;
	f->last = now;
	return f;
}

static time_t now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void add_poll(struct relay *r, int *n, int fd, short events, short kind, int idx)
{
	r->pfd[*n].fd = fd;
	r->pfd[*n].events = events;
	r->pfd[*n].revents = 0;
	r->kind[*n] = kind;
	r->idx[*n] = (short)idx;
	(*n)++;
}

static void relay_loop(struct relay *r) __attribute__((noreturn));
static void relay_loop(struct relay *r)
{
	for (;;) {
		int n = 0, free_conn = 0, timeout = -1;
		time_t now = now_s();

		for (int i = 0; i < MAX_CONNS; i++)
			free_conn |= r->conns[i].fd[0] < 0;
		for (int i = 0; i < MAX_FLOWS; i++) {
			struct flow *f = &r->flows[i];
			if (f->fd < 0)
				continue;
			if (now - f->last >= FLOW_IDLE_S) {
				close_fd(&f->fd);
				continue;
			}
			int left = (int)(FLOW_IDLE_S - (now - f->last)) * 1000;
			if (timeout < 0 || left < timeout)
				timeout = left;
			add_poll(r, &n, f->fd, POLLIN, K_FLOW, i);
		}
		for (int l = 0; l < r->c.nl; l++)
			if (r->c.proto[l] == IPPROTO_UDP || free_conn)
				add_poll(r, &n, 3 + l, POLLIN, K_LISTEN, l);
		for (int i = 0; i < MAX_CONNS; i++) {
			struct conn *c = &r->conns[i];
			if (c->fd[0] < 0)
				continue;
			short ea = c->connecting ? 0 : want_read(&c->d[0]);
			short eb = c->connecting ? POLLOUT : want_read(&c->d[1]);
			ea |= c->d[1].queued ? POLLOUT : 0;
			eb |= c->d[0].queued ? POLLOUT : 0;
			add_poll(r, &n, c->fd[0], ea, K_CLIENT, i);
			add_poll(r, &n, c->fd[1], eb, K_SANDBOX, i);
		}
		if (poll(r->pfd, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		now = now_s();
		for (int k = 0; k < n; k++) {
			short rev = r->pfd[k].revents;
			int i = r->idx[k];
			if (!rev)
				continue;
			if (r->kind[k] == K_LISTEN && r->c.proto[i] == IPPROTO_TCP) {
				int s = accept4(3 + i, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (s >= 0)
					conn_open(r, s, i);
			} else if (r->kind[k] == K_LISTEN) {
				union addr peer;
				socklen_t plen = sizeof peer;
				ssize_t got =
					recvfrom(3 + i, r->buf, sizeof r->buf, MSG_DONTWAIT, &peer.sa, &plen);
				struct flow *f = got >= 0 ? flow_for(r, i, &peer, plen, now) : NULL;
				if (f) {
					send(f->fd, r->buf, (size_t)got, MSG_DONTWAIT);
					f->last = now;
				}
			} else if (r->kind[k] == K_FLOW) {
				struct flow *f = &r->flows[i];
				ssize_t got =
					f->fd >= 0 ? recv(f->fd, r->buf, sizeof r->buf, MSG_DONTWAIT) : -1;
				if (got >= 0) {
					sendto(f->lsock, r->buf, (size_t)got, MSG_DONTWAIT, &f->peer.sa,
					       f->plen);
					f->last = now;
				}
			} else if (r->kind[k] == K_CLIENT) {
				/* the sandbox side's entry follows the client's */
				short rb =
					k + 1 < n && r->kind[k + 1] == K_SANDBOX ? r->pfd[k + 1].revents : 0;
				if (r->conns[i].fd[0] >= 0)
					conn_event(&r->conns[i], rev, rb);
				k++;
			} else if (r->conns[i].fd[0] >= 0) { /* K_SANDBOX alone */
				conn_event(&r->conns[i], 0, rev);
			}
		}
	}
}

/* Root becomes nobody; anyone else (or root where nobody is not mapped, in
 * a user namespace) keeps its ids without capabilities. Raw system calls:
 * glibc's set*id wrappers coordinate threads this copy does not have. */
static void child_drop_privileges(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (geteuid() == 0 && syscall(SYS_setgroups, 0, NULL) == 0 &&
	    syscall(SYS_setresgid, NOBODY, NOBODY, NOBODY) == 0 &&
	    syscall(SYS_setresuid, NOBODY, NOBODY, NOBODY) == 0)
		return;
	memset(d, 0, sizeof d);
	if (syscall(SYS_capset, &h, d) < 0)
		_exit(1);
}

static void relay_child(const struct relay_cfg *cfg, const int *lfd, pid_t parent) __attribute__((noreturn));
static void relay_child(const struct relay_cfg *cfg, const int *lfd, pid_t parent)
{
	struct relay *r;
	struct sigaction sa;

	if (isol_helper_child_prepare(lfd, cfg->nl, -1, 0) < 0)
		_exit(1);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL); /* a vanished peer is an EPIPE, not a death */
	child_drop_privileges();
	/* after the id change (it clears these): not dumpable (it holds a copy
	 * of the caller's memory), no gains by exec, dead with the caller */
	if (prctl(PR_SET_NAME, "isol-relay") < 0 || prctl(PR_SET_DUMPABLE, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || isol_helper_die_with(parent) < 0)
		_exit(1);
	r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		_exit(1);
	r->c = *cfg;
	for (int i = 0; i < MAX_CONNS; i++)
		r->conns[i].fd[0] = r->conns[i].fd[1] = -1;
	for (int i = 0; i < MAX_FLOWS; i++)
		r->flows[i].fd = -1;
	relay_loop(r);
}

/* ---- the caller's side ---- */

static const char *proto_name(int proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

static int bind_port(const struct isol_net_port *p, int i, int family, isol_error *err)
{
	union addr any;
	socklen_t len = make_addr(&any, family, NULL, p->host);
	int udp = p->proto == IPPROTO_UDP, one = 1;
	int fd = socket(family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	const char *wild = family == AF_INET6 ? "[::]" : "0.0.0.0";

	if (fd < 0)
		return isol_fail(err, errno, "ports[%d] %u:%u/%s: socket", i + 1, p->host, p->inside,
				 proto_name(p->proto));
	if ((!udp && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) ||
	    bind(fd, &any.sa, len) < 0 || (!udp && listen(fd, 128) < 0)) {
		int e = errno;
		close(fd);
		return isol_fail(err, e, "ports[%d] %u:%u/%s: bind %s:%u", i + 1, p->host, p->inside,
				 proto_name(p->proto), wild, p->host);
	}
	return fd;
}

int isol_relay_start(const struct isol_net_port *ports, int nports, int family, const unsigned char *addr,
		     struct isol_helper *out, isol_error *err)
{
	struct relay_cfg cfg;
	int lfd[ISOL_RELAY_MAX_PORTS], r = 0;
	pid_t parent = getpid(), pid;

	isol_helper_init(out);
	if (nports < 1 || nports > ISOL_RELAY_MAX_PORTS)
		return isol_failx(err, EINVAL, "ports: expected 1..%d forwards, got %d", ISOL_RELAY_MAX_PORTS,
				  nports);
	if (family != AF_INET && family != AF_INET6)
		return isol_failx(err, EINVAL, "ports: the sandbox has no address to forward to");
	memset(&cfg, 0, sizeof cfg);
	for (int i = 0; i < nports; i++) {
		const struct isol_net_port *p = &ports[i];
		if (!p->host || !p->inside || (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)) {
			r = isol_failx(err, EINVAL,
				       "ports[%d]: expected ports in 1..65535 and tcp or udp, got %u:%u",
				       i + 1, p->host, p->inside);
			goto fail;
		}
		if ((r = bind_port(p, i, family, err)) < 0)
			goto fail;
		lfd[cfg.nl++] = r;
		cfg.proto[i] = p->proto;
		cfg.tolen[i] = make_addr(&cfg.to[i], family, addr, p->inside);
	}
	pid = isol_helper_fork(out, "ports: start the relay", err);
	if (pid == 0)
		relay_child(&cfg, lfd, parent);
	r = pid < 0 ? (int)pid : 0;
fail:
	for (int i = 0; i < cfg.nl; i++)
		close(lfd[i]);
	return r;
}
