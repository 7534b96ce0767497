/*
 * Port forwards into a sandbox without nftables or iptables: a relay
 * process in the caller's network namespace that listens on the host ports
 * and carries each TCP connection (splice through a pipe, both ways, with
 * half-close) and each UDP flow (one connected socket per client address)
 * to the sandbox's address. Used with a veth (net.h); the user-mode helpers
 * forward ports themselves.
 *
 * Lifecycle:
 *   isol_relay_start(): the listening sockets are bound in the caller, so a
 *     port in use is an error at spawn time, naming the port; then a forked
 *     process (helper.h) takes them and relays until it is killed.
 *   The relay runs no Lua and calls only system calls (safe after fork in a
 *     host with threads); it holds the listening sockets and nothing else of
 *     the caller's (every other fd closed), runs as nobody when the caller is
 *     root (else with no capabilities), is not dumpable, and dies with the
 *     thread that started it (PR_SET_PDEATHSIG).
 *   The caller ends it with isol_helper_end(h, SIGKILL, 0).
 */
#ifndef ISOL_RELAY_H
#define ISOL_RELAY_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "helper.h"

/* A forwarded port (also the plan's `ports`, net.h). */
struct isol_net_port {
	int proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t host, inside;
};

#define ISOL_RELAY_MAX_PORTS 64

/* Listen on every ports[i].host (the wildcard address of `family`, AF_INET
 * or AF_INET6) and relay to addr:ports[i].inside, addr being 4 or 16 bytes.
 * Ports must be 1..65535, at most ISOL_RELAY_MAX_PORTS. On success the
 * caller owns *out (isol_relay_stop). On failure nothing is left and err
 * names the port: "ports[2] 8080:80/tcp: bind 0.0.0.0:8080: Address already
 * in use". */
int isol_relay_start(const struct isol_net_port *ports, int nports, int family, const unsigned char *addr,
		     struct isol_helper *out, isol_error *err);

#endif
