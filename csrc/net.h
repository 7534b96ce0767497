/*
 * Networking of a sandbox over rtnetlink: loopback up, a veth pair between
 * the caller's network namespace and the sandbox's, addresses, a default
 * route, netem shaping (rate, delay, loss) on both ends, the port relay into
 * the veth (relay.h), and a user-mode network helper (slirp4netns or pasta)
 * for callers without privileges on the host.
 *
 * Plain netlink with stack buffers, no library: the child's half runs
 * between clone and exec, where nothing may allocate or lock (see spawn.h).
 *
 * Lifecycle, driven by isol_spawn:
 *   parent, after clone and the id maps, before releasing the child:
 *     isol_net_parent_setup(): veth pair created with its peer already in the
 *     child's network namespace (IFLA_NET_NS_PID), host end addressed, up and
 *     shaped, and the relay started for its ports; or the user-mode helper
 *     started and waited for (slirp4netns: its ready fd; pasta: its pid file,
 *     a FIFO it writes once the namespace is configured and the ports bound).
 *   child, before its release where it can (spawn.c: child_first):
 *     isol_net_child_loopback(): lo up;
 *   child, after release:
 *     isol_net_child_setup(): peer addressed, up, shaped, default route.
 *   teardown: the kernel destroys a veth pair with the namespace that holds
 *     its peer; isol_net_helper_stop ends the helper (slirp4netns: its exit
 *     fd closes; pasta: SIGTERM) and the relay. Both die with the thread that
 *     started them (PR_SET_PDEATHSIG; slirp4netns also by its exit fd).
 * Strings in the plan are the caller's; nothing here keeps a pointer.
 */
#ifndef ISOL_NET_H
#define ISOL_NET_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "relay.h"

#define ISOL_IFNAMSIZ 16

struct isol_net_addr {
	int family; /* AF_INET or AF_INET6; 0: none */
	unsigned char bytes[16];
	int prefix; /* prefix length */
};

/* netem parameters; all zero: no shaping. */
struct isol_netem {
	uint64_t rate;     /* bytes per second, 0: unlimited */
	uint64_t delay_ns; /* added latency */
	uint32_t loss;     /* drop probability, 0..UINT32_MAX */
};

enum isol_net_helper { ISOL_NET_HELPER_NONE, ISOL_NET_HELPER_SLIRP4NETNS, ISOL_NET_HELPER_PASTA };

struct isol_net_plan {
	unsigned loopback : 1; /* bring lo up (a new net namespace only) */
	/* veth: host end `veth_host` in the caller's namespace, `veth_peer`
	 * (default "eth0") in the sandbox's. veth_host[0] == 0: no veth. */
	char veth_host[ISOL_IFNAMSIZ], veth_peer[ISOL_IFNAMSIZ];
	struct isol_net_addr host_addr, addr;
	unsigned gateway : 1;    /* default route inside via host_addr */
	struct isol_netem netem; /* applied on both ends of the veth */
	/* user-mode network helper for outbound traffic without privileges */
	int helper;                 /* enum isol_net_helper */
	const char *helper_path;    /* executable; NULL: searched in PATH */
	unsigned host_loopback : 1; /* the helper's gateway reaches the caller's 127.0.0.1 */
	/* forwarded by the helper, or by the relay to `addr` with a veth */
	const struct isol_net_port *ports;
	int nports;
};

/* What the parent's setup leaves running; owned by the caller. */
struct isol_net_state {
	struct isol_helper helper; /* the user-mode helper (helper.h) */
	int helper_exit_fd;        /* closing it stops slirp4netns; -1 when none */
	struct isol_helper relay;  /* the port relay into a veth (relay.h) */
};

void isol_net_state_init(struct isol_net_state *st);

/* Parent side for the child `pid` (already in its new net namespace, not yet
 * released). On failure whatever was created is removed and err is filled. */
int isol_net_parent_setup(const struct isol_net_plan *plan, pid_t pid, struct isol_net_state *st,
			  isol_error *err);

/* Child side, inside the new net namespace, first: lo up unless the plan
 * says no (plan NULL: the defaults, i.e. loopback up). Needs no id map and
 * touches no memory but its stack (raw system calls, vmclone.h): the child
 * runs it before its release where it can, beside the parent's thread
 * (spawn.c: child_first). Returns 0 or -errno. */
int isol_net_child_loopback(const struct isol_net_plan *plan);

/* Child side, after the loopback step and the release: the veth peer
 * addressed, shaped, up, the default route. Async-signal-safe. */
int isol_net_child_setup(const struct isol_net_plan *plan, isol_error *err);

/* Stop the helper (close its exit fd, or SIGTERM, then reap) and the relay;
 * idempotent. Never blocks for more than ~1 s: a helper that has not exited
 * by then is SIGKILLed. */
void isol_net_helper_stop(struct isol_net_state *st);

/* Delete a link by name in the caller's namespace (e.g. a host veth end kept
 * alive by something else). -ENODEV when it does not exist. */
int isol_net_link_del(const char *name, isol_error *err);

/* Set interface `name` up in the calling process's namespace. */
int isol_net_link_up(const char *name, isol_error *err);

/* Pure: parse "10.88.0.2/24" or "fd00::2/64" (no prefix: /32 or /128).
 * Returns 0 or -EINVAL. */
int isol_net_parse_addr(const char *s, struct isol_net_addr *a);

#endif
