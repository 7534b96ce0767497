/* Networking of a sandbox over rtnetlink (see net.h). */
#define _GNU_SOURCE
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "execpath.h"
#include "vmclone.h"

extern char **environ;

void isol_net_state_init(struct isol_net_state *st)
{
	isol_helper_init(&st->helper);
	st->helper_exit_fd = -1;
	isol_helper_init(&st->relay);
}

/* ---- pure helpers ---- */

int isol_net_parse_addr(const char *s, struct isol_net_addr *a)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	int max;

	memset(a, 0, sizeof *a);
	if (n == 0 || n >= sizeof buf)
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, a->bytes) == 1)
		a->family = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, buf, a->bytes) == 1)
		a->family = AF_INET6, max = 128;
	else
		return -EINVAL;
	a->prefix = max;
	if (slash) {
		const char *p = slash + 1;
		int v = 0;
		if (!*p)
			return -EINVAL;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			v = v * 10 + (*p - '0');
			if (v > max)
				return -EINVAL;
		}
		a->prefix = v;
	}
	return 0;
}

static size_t addr_len(const struct isol_net_addr *a)
{
	return a->family == AF_INET6 ? 16 : 4;
}

/* ---- a netlink request on a stack buffer ---- */

struct nlreq {
	union {
		struct nlmsghdr h;
		char buf[1024];
	} u;
	struct rtattr *nest[4];
	int depth;
	int overflow;
};

static void nl_init(struct nlreq *r, int type, int flags, const void *body, size_t blen)
{
	memset(r, 0, sizeof *r);
	r->u.h.nlmsg_len = NLMSG_LENGTH(blen);
	r->u.h.nlmsg_type = (unsigned short)type;
	r->u.h.nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
	r->u.h.nlmsg_seq = 1;
	memcpy(NLMSG_DATA(&r->u.h), body, blen);
}

static void *nl_put(struct nlreq *r, int type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(r->u.h.nlmsg_len);
	struct rtattr *a = (struct rtattr *)(r->u.buf + off);

	if (off + RTA_SPACE(len) > sizeof r->u.buf) {
		r->overflow = 1;
		return NULL;
	}
	a->rta_type = (unsigned short)type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	r->u.h.nlmsg_len = (unsigned)(off + RTA_SPACE(len));
	return RTA_DATA(a);
}

static void nl_put_str(struct nlreq *r, int type, const char *s)
{
	nl_put(r, type, s, strlen(s) + 1);
}

/* Raw bytes appended to the message (a struct that opens a nested payload). */
static void nl_put_raw(struct nlreq *r, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(r->u.h.nlmsg_len);

	if (off + NLMSG_ALIGN(len) > sizeof r->u.buf) {
		r->overflow = 1;
		return;
	}
	memcpy(r->u.buf + off, data, len);
	r->u.h.nlmsg_len = (unsigned)(off + NLMSG_ALIGN(len));
}

static void nl_begin(struct nlreq *r, int type)
{
	struct rtattr *a = (struct rtattr *)(r->u.buf + NLMSG_ALIGN(r->u.h.nlmsg_len));

	if (r->depth >= 4 || !nl_put(r, type, NULL, 0)) {
		r->overflow = 1;
		return;
	}
	r->nest[r->depth++] = a;
}

static void nl_end(struct nlreq *r)
{
	if (r->overflow || r->depth == 0)
		return;
	struct rtattr *a = r->nest[--r->depth];
	a->rta_len = (unsigned short)(r->u.buf + r->u.h.nlmsg_len - (char *)a);
}

/* Send one request on a fresh socket of the calling thread's namespace and
 * wait for its ack. Returns 0 or -errno (the kernel's). Raw system calls
 * (vmclone.h): the loopback step runs in a CLONE_VM child before its
 * release, beside the parent's thread, and may not touch errno. */
static int nl_talk(struct nlreq *r)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr h;
		char buf[512];
	} ack;
	long fd, n;
	int e = 0;

	if (r->overflow)
		return -EMSGSIZE;
	fd = isol_vm_syscall(SYS_socket, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE, 0, 0, 0);
	if (fd < 0)
		return (int)fd;
	n = isol_vm_syscall(SYS_sendto, fd, (long)(uintptr_t)r->u.buf, r->u.h.nlmsg_len, 0,
			    (long)(uintptr_t)&sa, sizeof sa);
	if (n < 0) {
		e = (int)n;
		goto out;
	}
	for (;;) {
		n = isol_vm_syscall(SYS_recvfrom, fd, (long)(uintptr_t)ack.buf, sizeof ack.buf, 0, 0, 0);
		if (n == -EINTR)
			continue;
		if (n < 0) {
			e = (int)n;
			break;
		}
		if ((size_t)n < sizeof(struct nlmsghdr)) {
			e = -EIO;
			break;
		}
		if (ack.h.nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *m = NLMSG_DATA(&ack.h);
			e = m->error; /* 0 = ack, else -errno */
			break;
		}
	}
out:
	isol_vm_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
	return e;
}

/* if_nametoindex without libc's socket juggling guarantees. */
static int ifindex(const char *name)
{
	struct ifreq ifr;
	int fd, r;

	if (strlen(name) >= sizeof ifr.ifr_name)
		return -ENAMETOOLONG;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, name, strlen(name));
	r = ioctl(fd, SIOCGIFINDEX, &ifr) < 0 ? -errno : ifr.ifr_ifindex;
	close(fd);
	return r;
}

static int link_up_index(int index)
{
	struct ifinfomsg ifi = {
		.ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = IFF_UP, .ifi_change = IFF_UP
	};
	struct nlreq r;

	nl_init(&r, RTM_NEWLINK, 0, &ifi, sizeof ifi);
	return nl_talk(&r);
}

int isol_net_link_up(const char *name, isol_error *err)
{
	int idx = ifindex(name), r;

	if (idx < 0)
		return isol_fail(err, -idx, "find interface %s", name);
	r = link_up_index(idx);
	if (r < 0)
		return isol_fail(err, -r, "set %s up", name);
	return 0;
}

int isol_net_link_del(const char *name, isol_error *err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nlreq r;
	int e;

	nl_init(&r, RTM_DELLINK, 0, &ifi, sizeof ifi);
	nl_put_str(&r, IFLA_IFNAME, name);
	e = nl_talk(&r);
	if (e < 0)
		return isol_fail(err, -e, "delete interface %s", name);
	return 0;
}

static int addr_add(int index, const struct isol_net_addr *a)
{
	struct ifaddrmsg ifa = { .ifa_family = (unsigned char)a->family,
				 .ifa_prefixlen = (unsigned char)a->prefix,
				 .ifa_scope = RT_SCOPE_UNIVERSE,
				 .ifa_index = (unsigned)index };
	struct nlreq r;

	nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
	nl_put(&r, IFA_LOCAL, a->bytes, addr_len(a));
	nl_put(&r, IFA_ADDRESS, a->bytes, addr_len(a));
	if (a->family == AF_INET6) {
		/* no duplicate address detection: usable at once */
		uint32_t fl = 0x80; /* IFA_F_NODAD */
		nl_put(&r, IFA_FLAGS, &fl, sizeof fl);
	}
	return nl_talk(&r);
}

static int route_default(int index, const struct isol_net_addr *gw)
{
	struct rtmsg rt = { .rtm_family = (unsigned char)gw->family,
			    .rtm_table = RT_TABLE_MAIN,
			    .rtm_protocol = RTPROT_BOOT,
			    .rtm_scope = RT_SCOPE_UNIVERSE,
			    .rtm_type = RTN_UNICAST };
	struct nlreq r;
	uint32_t oif = (uint32_t)index;

	nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof rt);
	nl_put(&r, RTA_GATEWAY, gw->bytes, addr_len(gw));
	nl_put(&r, RTA_OIF, &oif, sizeof oif);
	return nl_talk(&r);
}

static int netem_set(int index, const struct isol_netem *ne)
{
	struct tcmsg tc = {
		.tcm_family = AF_UNSPEC, .tcm_ifindex = index, .tcm_handle = 0x10000, .tcm_parent = TC_H_ROOT
	};
	struct tc_netem_qopt q = { .limit = 1000, .loss = ne->loss };
	struct nlreq r;

	nl_init(&r, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, &tc, sizeof tc);
	nl_put_str(&r, TCA_KIND, "netem");
	nl_begin(&r, TCA_OPTIONS);
	/* netem's options are a struct followed by attributes (not nested). */
	nl_put_raw(&r, &q, sizeof q);
	if (ne->delay_ns) {
		int64_t d = (int64_t)ne->delay_ns;
		nl_put(&r, TCA_NETEM_LATENCY64, &d, sizeof d);
	}
	if (ne->rate) {
		struct tc_netem_rate rate = { .rate = ne->rate > UINT32_MAX ? UINT32_MAX
									    : (uint32_t)ne->rate };
		nl_put(&r, TCA_NETEM_RATE, &rate, sizeof rate);
		if (ne->rate > UINT32_MAX)
			nl_put(&r, TCA_NETEM_RATE64, &ne->rate, sizeof ne->rate);
	}
	nl_end(&r);
	return nl_talk(&r);
}

/* Rate only: a token bucket (tbf), which every kernel with traffic control
 * has; netem is an optional module (delay, loss). */
static int tbf_set(int index, uint64_t rate)
{
	struct tcmsg tc = {
		.tcm_family = AF_UNSPEC, .tcm_ifindex = index, .tcm_handle = 0x10000, .tcm_parent = TC_H_ROOT
	};
	struct tc_tbf_qopt q;
	struct nlreq r;
	/* burst: 10 ms of traffic, at least 64 KiB (above any MTU here);
	 * queue: 50 ms of traffic on top of it. */
	uint64_t burst = rate / 100 > 65536 ? rate / 100 : 65536;
	uint64_t limit = burst + rate / 20;
	uint32_t b32 = burst > UINT32_MAX ? UINT32_MAX : (uint32_t)burst;

	memset(&q, 0, sizeof q);
	q.rate.rate = rate > UINT32_MAX ? UINT32_MAX : (uint32_t)rate;
	q.rate.linklayer = TC_LINKLAYER_ETHERNET; /* no rate table needed */
	q.limit = limit > UINT32_MAX ? UINT32_MAX : (uint32_t)limit;
	nl_init(&r, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, &tc, sizeof tc);
	nl_put_str(&r, TCA_KIND, "tbf");
	nl_begin(&r, TCA_OPTIONS);
	nl_put(&r, TCA_TBF_PARMS, &q, sizeof q);
	nl_put(&r, TCA_TBF_BURST, &b32, sizeof b32);
	if (rate > UINT32_MAX)
		nl_put(&r, TCA_TBF_RATE64, &rate, sizeof rate);
	nl_end(&r);
	return nl_talk(&r);
}

static int shape(int index, const struct isol_netem *ne)
{
	int r;

	if (!ne->delay_ns && !ne->loss)
		return tbf_set(index, ne->rate);
	r = netem_set(index, ne);
	return r == -ENOENT ? -EOPNOTSUPP : r;
}

static int shape_fail(isol_error *err, int r, const char *dev)
{
	if (r == -EOPNOTSUPP)
		return isol_failx(err, EOPNOTSUPP,
				  "shape %s: this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM), so "
				  "delay and loss are unavailable; rate alone works",
				  dev);
	return isol_fail(err, -r, "shape %s", dev);
}

static int has_netem(const struct isol_netem *ne)
{
	return ne->rate || ne->delay_ns || ne->loss;
}

static int veth_create(const struct isol_net_plan *p, pid_t pid)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nlreq r;
	uint32_t nspid = (uint32_t)pid;

	nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
	nl_put_str(&r, IFLA_IFNAME, p->veth_host);
	nl_begin(&r, IFLA_LINKINFO);
	nl_put_str(&r, IFLA_INFO_KIND, "veth");
	nl_begin(&r, IFLA_INFO_DATA);
	nl_begin(&r, VETH_INFO_PEER);
	nl_put_raw(&r, &ifi, sizeof ifi);
	nl_put_str(&r, IFLA_IFNAME, p->veth_peer[0] ? p->veth_peer : "eth0");
	nl_put(&r, IFLA_NET_NS_PID, &nspid, sizeof nspid);
	nl_end(&r);
	nl_end(&r);
	nl_end(&r);
	return nl_talk(&r);
}

/* ---- the user-mode helpers (slirp4netns, pasta) ---- */

/* Both open /dev/net/tun in the child's user namespace: an ordinary user
 * needs its mode to allow it (0666, as Debian's udev sets it). */
#define TUN_HINT " (the helper opens /dev/net/tun as you: `isol check` says whether it can)"

/* Is the child in a user namespace other than ours? Then the helper must
 * join it to hold CAP_NET_ADMIN over the child's network namespace. */
static int other_userns(pid_t pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
	if (stat("/proc/self/ns/user", &a) < 0 || stat(path, &b) < 0)
		return 0;
	return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

/* Exec a helper in a forked child (helper.h): fds[i] at 3 + i, stderr on
 * err_fd (-1: /dev/null), SIGKILL when the calling thread dies. A failed
 * exec comes back through a CLOEXEC pipe: "start pasta: No such file or
 * directory". */
static int helper_exec(const char *exe, char *const argv[], const int *fds, int nfds, int err_fd,
		       struct isol_helper *h, isol_error *err)
{
	int ep[2], e = 0;
	pid_t parent = getpid(), pid;
	ssize_t n;

	if (pipe2(ep, O_CLOEXEC) < 0)
		return isol_fail(err, errno, "pipe");
	pid = isol_helper_fork(h, exe, err);
	if (pid == 0) {
		char buf[4096];
		const char *tried;
		int rep = fcntl(ep[1], F_DUPFD_CLOEXEC, 3 + nfds);
		if (rep < 0 || isol_helper_child_prepare(fds, nfds, err_fd, 1) < 0 ||
		    isol_helper_die_with(parent) < 0)
			e = errno;
		else
			e = -isol_exec_path(exe, argv, environ, buf, &tried);
		if (rep >= 0 && write(rep, &e, sizeof e) < 0)
			_exit(126);
		_exit(127);
	}
	close(ep[1]);
	if (pid < 0) {
		close(ep[0]);
		return (int)pid;
	}
	do
		n = read(ep[0], &e, sizeof e);
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n == (ssize_t)sizeof e) {
		isol_helper_end(h, SIGKILL, 0);
		return isol_fail(err, e ? e : EIO, "start %s", exe);
	}
	return 0;
}

/* Forward host ports through slirp4netns's API socket (add_hostfwd). */
static int slirp_ports(const struct isol_net_plan *p, const char *api, isol_error *err)
{
	for (int i = 0; i < p->nports; i++) {
		const struct isol_net_port *pt = &p->ports[i];
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		char req[256], resp[512];
		int fd, n, got = 0;
		ssize_t k;

		if (strlen(api) >= sizeof sa.sun_path)
			return isol_failx(err, ENAMETOOLONG, "slirp4netns API socket path too long: %s", api);
		memcpy(sa.sun_path, api, strlen(api) + 1);
		n = snprintf(req, sizeof req,
			     "{\"execute\": \"add_hostfwd\", \"arguments\": {\"proto\": \"%s\", "
			     "\"host_addr\": \"0.0.0.0\", \"host_port\": %u, \"guest_port\": %u}}",
			     pt->proto == IPPROTO_UDP ? "udp" : "tcp", pt->host, pt->inside);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return isol_fail(err, errno, "socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || write(fd, req, (size_t)n) != n) {
			int e = errno;
			close(fd);
			return isol_fail(err, e, "slirp4netns API %s", api);
		}
		shutdown(fd, SHUT_WR);
		while (got < (int)sizeof resp - 1 &&
		       (k = read(fd, resp + got, sizeof resp - 1 - (size_t)got)) > 0)
			got += (int)k;
		close(fd);
		resp[got] = '\0';
		if (!strstr(resp, "\"return\""))
			return isol_failx(err, EADDRINUSE, "forward port %u to %u: slirp4netns says %s",
					  pt->host, pt->inside, got ? resp : "nothing");
	}
	return 0;
}

static int slirp_start(const struct isol_net_plan *p, pid_t pid, struct isol_net_state *st, isol_error *err)
{
	int ready[2] = { -1, -1 }, ex[2] = { -1, -1 }, r = 0;
	char a_pid[32], a_userns[64], a_api[128];
	char dir[] = "/tmp/isol-slirp-XXXXXX";
	int have_dir = 0;
	char *argv[16];
	int i = 0;
	const char *exe = p->helper_path ? p->helper_path : "slirp4netns";

	/* ready: the helper writes "1" when the tap device is configured.
	 * exit: the helper exits when it reads EOF (we, or our death, close it). */
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(ex, O_CLOEXEC) < 0) {
		r = isol_fail(err, errno, "pipe");
		goto out;
	}
	snprintf(a_pid, sizeof a_pid, "%d", (int)pid);
	snprintf(a_userns, sizeof a_userns, "--userns-path=/proc/%d/ns/user", (int)pid);
	argv[i++] = (char *)exe;
	argv[i++] = (char *)"--configure";
	argv[i++] = (char *)"--mtu=65520";
	argv[i++] = (char *)"--disable-dns";
	argv[i++] = (char *)"--ready-fd=3";
	argv[i++] = (char *)"--exit-fd=4";
	if (!p->host_loopback)
		argv[i++] = (char *)"--disable-host-loopback";
	if (other_userns(pid))
		argv[i++] = a_userns;
	if (p->nports) {
		if (!mkdtemp(dir)) {
			r = isol_fail(err, errno, "mkdtemp %s", dir);
			goto out;
		}
		have_dir = 1;
		snprintf(a_api, sizeof a_api, "--api-socket=%s/api.sock", dir);
		argv[i++] = a_api;
	}
	argv[i++] = a_pid;
	argv[i++] = (char *)"tap0";
	argv[i] = NULL;

	{
		int fds[2] = { ready[1], ex[0] };
		r = helper_exec(exe, argv, fds, 2, -1, &st->helper, err);
	}
	if (r < 0)
		goto out;
	close(ready[1]), ready[1] = -1;
	close(ex[0]), ex[0] = -1;
	st->helper_exit_fd = ex[1], ex[1] = -1;
	{
		struct pollfd pf = { .fd = ready[0], .events = POLLIN };
		char c = 0;
		int n = poll(&pf, 1, 5000);
		if (n <= 0 || read(ready[0], &c, 1) != 1 || c != '1') {
			r = isol_failx(err, n == 0 ? ETIMEDOUT : EIO,
				       "%s did not configure the sandbox's network (pid %d)%s", exe, (int)pid,
				       TUN_HINT);
			isol_net_helper_stop(st);
		} else if (p->nports && (r = slirp_ports(p, a_api + strlen("--api-socket="), err)) < 0) {
			isol_net_helper_stop(st);
		}
	}
out:
	if (have_dir) {
		char sock[128];
		snprintf(sock, sizeof sock, "%s/api.sock", dir);
		unlink(sock);
		rmdir(dir);
	}
	for (int k = 0; k < 2; k++) {
		if (ready[k] >= 0)
			close(ready[k]);
		if (ex[k] >= 0)
			close(ex[k]);
	}
	return r;
}

/* pasta's -t / -u list for one protocol: "8080:80,5353:53", or "none"
 * (pasta's default, "auto", would forward whatever the sandbox listens on). */
static void pasta_port_list(const struct isol_net_plan *p, int proto, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < p->nports && n < size; i++)
		if (p->ports[i].proto == proto)
			n += (size_t)snprintf(out + n, size - n, "%s%u:%u", n ? "," : "", p->ports[i].host,
					      p->ports[i].inside);
	if (!n)
		snprintf(out, size, "none");
}

/* Why a helper failed: the last line it wrote to stderr (fd, non-blocking),
 * its complaints about the system logger left out; "" when it said nothing. */
static void helper_why(int fd, char *out, size_t size)
{
	char buf[2048], *save = NULL;
	ssize_t n = read(fd, buf, sizeof buf - 1);

	out[0] = '\0';
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (*line && !strstr(line, "to syslog"))
			snprintf(out, size, ": %s", line);
}

/* pasta (Debian passt) against the child's namespaces: --config-net copies
 * the addresses and routes of the caller's interface with the default route
 * into a tap device of the same name; no port forwarded but `ports` (in
 * either direction); the gateway reaches the caller's loopback only with
 * host_loopback. Ready when it writes its pid file, a FIFO here: it does
 * once the namespace is configured and the ports are bound. */
static int pasta_start(const struct isol_net_plan *p, pid_t pid, struct isol_net_state *st, isol_error *err)
{
	char dir[] = "/tmp/isol-pasta-XXXXXX", fifo[64], a_netns[64], a_userns[64], tcp[1024], udp[1024];
	char why[256];
	char *argv[32];
	int i = 0, rfd = -1, ep[2] = { -1, -1 }, nsfd = -1, r;
	const char *exe = p->helper_path ? p->helper_path : "pasta";

	if (!mkdtemp(dir))
		return isol_fail(err, errno, "mkdtemp %s", dir);
	snprintf(fifo, sizeof fifo, "%s/ready", dir);
	if (mkfifo(fifo, 0600) < 0) {
		r = isol_fail(err, errno, "mkfifo %s", fifo);
		goto out;
	}
	/* opened first (non-blocking): pasta's open for writing then succeeds */
	if ((rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
		r = isol_fail(err, errno, "open %s", fifo);
		goto out;
	}
	fcntl(ep[0], F_SETFL, O_NONBLOCK);
	pasta_port_list(p, IPPROTO_TCP, tcp, sizeof tcp);
	pasta_port_list(p, IPPROTO_UDP, udp, sizeof udp);
	snprintf(a_netns, sizeof a_netns, "/proc/%d/ns/net", (int)pid);
	snprintf(a_userns, sizeof a_userns, "/proc/%d/ns/user", (int)pid);
	argv[i++] = (char *)exe;
	argv[i++] = (char *)"--foreground";
	argv[i++] = (char *)"--quiet";
	argv[i++] = (char *)"--config-net";
	argv[i++] = (char *)"--pid";
	argv[i++] = fifo;
	argv[i++] = (char *)"--tcp-ports";
	argv[i++] = tcp;
	argv[i++] = (char *)"--udp-ports";
	argv[i++] = udp;
	/* nothing from the sandbox's own ports to the caller's */
	argv[i++] = (char *)"--tcp-ns";
	argv[i++] = (char *)"none";
	argv[i++] = (char *)"--udp-ns";
	argv[i++] = (char *)"none";
	if (!p->host_loopback)
		argv[i++] = (char *)"--no-map-gw";
	/* root: pasta would switch to nobody, who may not open the child's
	 * namespaces; it drops its capabilities itself */
	if (geteuid() == 0) {
		argv[i++] = (char *)"--runas";
		argv[i++] = (char *)"0:0";
	}
	/* In the child's user namespace pasta holds every capability (its
	 * owner's); in ours it opens the namespace as an inherited fd: pasta
	 * drops CAP_SYS_PTRACE before it opens a path, and /proc/PID/ns/net of
	 * a child with more capabilities than pasta kept needs it. */
	if (other_userns(pid)) {
		argv[i++] = (char *)"--netns";
		argv[i++] = a_netns;
		argv[i++] = (char *)"--userns";
		argv[i++] = a_userns;
	} else {
		if ((nsfd = open(a_netns, O_RDONLY | O_CLOEXEC)) < 0) {
			r = isol_fail(err, errno, "open %s", a_netns);
			goto out;
		}
		argv[i++] = (char *)"--netns";
		argv[i++] = (char *)"/proc/self/fd/3";
	}
	argv[i] = NULL;

	r = helper_exec(exe, argv, nsfd >= 0 ? &nsfd : NULL, nsfd >= 0, ep[1], &st->helper, err);
	close(ep[1]), ep[1] = -1;
	if (r < 0)
		goto out;
	{
		struct pollfd pf[2] = { { .fd = rfd, .events = POLLIN },
					{ .fd = st->helper.pidfd, .events = POLLIN } };
		char buf[32];
		ssize_t n = -1;
		int k;
		do
			k = poll(pf, 2, 5000);
		while (k < 0 && errno == EINTR);
		if (k > 0 && (pf[0].revents & (POLLIN | POLLHUP)))
			n = read(rfd, buf, sizeof buf);
		if (n <= 0) {
			if (k > 0) /* it exited: what it said is all in the pipe */
				isol_helper_end(&st->helper, SIGKILL, 0);
			helper_why(ep[0], why, sizeof why);
			r = isol_failx(err, k == 0 ? ETIMEDOUT : EIO,
				       "%s did not configure the sandbox's network (pid %d)%s%s", exe,
				       (int)pid, why, strstr(why, " tun ") ? TUN_HINT : "");
			isol_net_helper_stop(st);
		}
	}
out:
	if (nsfd >= 0)
		close(nsfd);
	if (rfd >= 0)
		close(rfd);
	if (ep[0] >= 0)
		close(ep[0]);
	if (ep[1] >= 0)
		close(ep[1]);
	unlink(fifo);
	rmdir(dir);
	return r;
}

void isol_net_helper_stop(struct isol_net_state *st)
{
	int had_exit_fd = st->helper_exit_fd >= 0;

	if (had_exit_fd)
		close(st->helper_exit_fd), st->helper_exit_fd = -1;
	isol_helper_end(&st->helper, had_exit_fd ? 0 : SIGTERM, 1000);
	isol_helper_end(&st->relay, SIGKILL, 0);
}

/* ---- the two halves ---- */

int isol_net_parent_setup(const struct isol_net_plan *p, pid_t pid, struct isol_net_state *st,
			  isol_error *err)
{
	int r, idx;

	if (p->veth_host[0]) {
		r = veth_create(p, pid);
		if (r < 0)
			return isol_fail(err, -r, "create veth %s", p->veth_host);
		idx = ifindex(p->veth_host);
		if (idx < 0) {
			r = isol_fail(err, -idx, "find interface %s", p->veth_host);
			goto undo;
		}
		if (p->host_addr.family && (r = addr_add(idx, &p->host_addr)) < 0) {
			r = isol_fail(err, -r, "address on %s", p->veth_host);
			goto undo;
		}
		if (has_netem(&p->netem) && (r = shape(idx, &p->netem)) < 0) {
			r = shape_fail(err, r, p->veth_host);
			goto undo;
		}
		if ((r = link_up_index(idx)) < 0) {
			r = isol_fail(err, -r, "set %s up", p->veth_host);
			goto undo;
		}
	}
	if (p->nports && p->helper == ISOL_NET_HELPER_NONE) {
		if (!p->veth_host[0])
			return isol_failx(err, EINVAL, "ports: need a veth or net.outbound");
		if (!p->addr.family) {
			r = isol_failx(err, EINVAL,
				       "ports: a forward into the veth needs its address (net.veth.address)");
			goto undo;
		}
		r = isol_relay_start(p->ports, p->nports, p->addr.family, p->addr.bytes, &st->relay, err);
		if (r < 0)
			goto undo;
	}
	if (p->helper == ISOL_NET_HELPER_SLIRP4NETNS || p->helper == ISOL_NET_HELPER_PASTA) {
		r = p->helper == ISOL_NET_HELPER_PASTA ? pasta_start(p, pid, st, err)
						       : slirp_start(p, pid, st, err);
		if (r < 0)
			goto undo;
	}
	return 0;
undo:
	isol_helper_end(&st->relay, SIGKILL, 0);
	if (p->veth_host[0])
		isol_net_link_del(p->veth_host, NULL);
	return r;
}

int isol_net_child_loopback(const struct isol_net_plan *p)
{
	/* lo is always ifindex 1 in a new namespace */
	return !p || p->loopback ? link_up_index(1) : 0;
}

int isol_net_child_setup(const struct isol_net_plan *p, isol_error *err)
{
	int r, idx;
	const char *peer;

	if (!p)
		return 0;
	peer = p->veth_peer[0] ? p->veth_peer : "eth0";
	if (!p->veth_host[0])
		return 0;
	idx = ifindex(peer);
	if (idx < 0)
		return isol_fail(err, -idx, "find interface %s", peer);
	if (p->addr.family && (r = addr_add(idx, &p->addr)) < 0)
		return isol_fail(err, -r, "address on %s", peer);
	if (has_netem(&p->netem) && (r = shape(idx, &p->netem)) < 0)
		return shape_fail(err, r, peer);
	if ((r = link_up_index(idx)) < 0)
		return isol_fail(err, -r, "set %s up", peer);
	if (p->gateway && p->host_addr.family && (r = route_default(idx, &p->host_addr)) < 0)
		return isol_fail(err, -r, "default route via the host end on %s", peer);
	return 0;
}
