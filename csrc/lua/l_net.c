/* Binding of net.c: the plan's `net` table and isol.core.net_* helpers. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <string.h>

#include "../net.h"
#include "binding.h"

static void check_ifname(lua_State *L, const char *s, size_t len, const char *field, char out[ISOL_IFNAMSIZ])
{
	if (len == 0 || len >= ISOL_IFNAMSIZ || strlen(s) != len || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0 || strpbrk(s, "/: \t\n"))
		luaL_error(L,
			   "plan.net.%s: expected an interface name (1-15 characters, no '/', ':' "
			   "or spaces), got \"%s\"",
			   field, s);
	memcpy(out, s, len + 1);
}

static void opt_addr(lua_State *L, int t, const char *field, struct isol_net_addr *a)
{
	const char *s;
	size_t len;

	memset(a, 0, sizeof *a);
	if (lua_getfield(L, t, field) == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "plan.net.%s: expected an address like \"10.88.0.2/24\"", field);
	s = lua_tolstring(L, -1, &len);
	if (strlen(s) != len || isol_net_parse_addr(s, a) < 0)
		luaL_error(L, "plan.net.%s: expected an address like \"10.88.0.2/24\", got \"%s\"", field, s);
	lua_pop(L, 1);
}

static uint64_t opt_u64(lua_State *L, int t, const char *field, uint64_t max)
{
	lua_Integer v;
	int isint;

	if (lua_getfield(L, t, field) == LUA_TNIL) {
		lua_pop(L, 1);
		return 0;
	}
	v = lua_tointegerx(L, -1, &isint);
	if (!isint || v < 0 || (uint64_t)v > max)
		luaL_error(L, "plan.net.%s: expected an integer in 0..%llu", field, (unsigned long long)max);
	lua_pop(L, 1);
	return (uint64_t)v;
}

/* plan.net.ports[i] = { proto = "tcp"|"udp", host =, inside = } */
static void read_port(lua_State *L, int t, int i, struct isol_net_port *pt)
{
	const char *proto = isol_lua_optstring(L, t, "plan.net.ports[]", "proto");
	lua_Integer v[2];
	const char *names[2] = { "host", "inside" };

	if (proto && strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
		luaL_error(L, "plan.net.ports[%d].proto: expected \"tcp\" or \"udp\", got \"%s\"", i, proto);
	pt->proto = proto && strcmp(proto, "udp") == 0 ? IPPROTO_UDP : IPPROTO_TCP;
	for (int k = 0; k < 2; k++) {
		lua_getfield(L, t, names[k]);
		v[k] = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
		if (v[k] < 1 || v[k] > 65535)
			luaL_error(L, "plan.net.ports[%d].%s: expected a port in 1..65535", i, names[k]);
		lua_pop(L, 1);
	}
	pt->host = (uint16_t)v[0];
	pt->inside = (uint16_t)v[1];
}

/* plan.net = { loopback =, veth_host =, veth_peer =, address =, host_address =,
 *   gateway =, rate = bytes/s, delay_ns =, loss = 0..1,
 *   outbound = "slirp4netns" | "pasta", host_loopback =, helper_path =,
 *   ports = { {proto = "tcp"|"udp", host = 1..65535, inside = 1..65535}, ... } }
 * The ports array lives in a userdata left on the stack (the caller's anchor). */
int isol_lua_read_net(lua_State *L, int idx, struct isol_net_plan *p)
{
	int t;

	memset(p, 0, sizeof *p);
	p->loopback = 1;
	if (lua_getfield(L, idx, "net") == LUA_TNIL) {
		lua_pop(L, 1);
		return 0;
	}
	luaL_checktype(L, -1, LUA_TTABLE);
	t = lua_gettop(L);
	p->loopback = (unsigned)isol_lua_optbool(L, t, "plan.net", "loopback", 1);
	if (lua_getfield(L, t, "veth_host") != LUA_TNIL) {
		size_t len;
		const char *s = luaL_checklstring(L, -1, &len);
		check_ifname(L, s, len, "veth_host", p->veth_host);
	}
	lua_pop(L, 1);
	if (lua_getfield(L, t, "veth_peer") != LUA_TNIL) {
		size_t len;
		const char *s = luaL_checklstring(L, -1, &len);
		check_ifname(L, s, len, "veth_peer", p->veth_peer);
	}
	lua_pop(L, 1);
	opt_addr(L, t, "address", &p->addr);
	opt_addr(L, t, "host_address", &p->host_addr);
	p->gateway = (unsigned)isol_lua_optbool(L, t, "plan.net", "gateway", 0);
	if (p->gateway && !p->host_addr.family)
		luaL_error(L, "plan.net.gateway: needs host_address");
	p->netem.rate = opt_u64(L, t, "rate", UINT64_MAX >> 1);
	p->netem.delay_ns = opt_u64(L, t, "delay_ns", (uint64_t)3600 * 1000000000ULL);
	if (lua_getfield(L, t, "loss") != LUA_TNIL) {
		lua_Number x = lua_tonumber(L, -1);
		if (lua_type(L, -1) != LUA_TNUMBER || !(x >= 0 && x <= 1))
			luaL_error(L, "plan.net.loss: expected a probability in 0..1");
		p->netem.loss = (uint32_t)llround(x * (double)UINT32_MAX);
	}
	lua_pop(L, 1);
	if (lua_getfield(L, t, "outbound") != LUA_TNIL) {
		const char *s = luaL_checkstring(L, -1);
		if (strcmp(s, "slirp4netns") == 0)
			p->helper = ISOL_NET_HELPER_SLIRP4NETNS;
		else if (strcmp(s, "pasta") == 0)
			p->helper = ISOL_NET_HELPER_PASTA;
		else
			luaL_error(L, "plan.net.outbound: expected \"slirp4netns\" or \"pasta\", got \"%s\"",
				   s);
	}
	lua_pop(L, 1);
	p->host_loopback = (unsigned)isol_lua_optbool(L, t, "plan.net", "host_loopback", 0);
	p->helper_path = isol_lua_optstring(L, t, "plan.net", "helper_path");
	if (lua_getfield(L, t, "ports") != LUA_TNIL) {
		int pt = lua_gettop(L);
		lua_Integer n;
		struct isol_net_port *ports;
		luaL_checktype(L, pt, LUA_TTABLE);
		n = (lua_Integer)lua_rawlen(L, pt);
		if (n > ISOL_RELAY_MAX_PORTS)
			luaL_error(L, "plan.net.ports: at most %d", ISOL_RELAY_MAX_PORTS);
		ports = lua_newuserdatauv(L, sizeof *ports * (size_t)(n ? n : 1), 0);
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, pt, i);
			if (!lua_istable(L, -1))
				luaL_error(L, "plan.net.ports[%d]: expected a table", (int)i);
			read_port(L, lua_gettop(L), (int)i, &ports[i - 1]);
			lua_pop(L, 1);
		}
		p->ports = ports;
		p->nports = (int)n;
		/* the userdata stays on the stack: it anchors the array */
		lua_replace(L, pt);
	} else {
		lua_pop(L, 1);
	}
	/* the net table stays on the stack: it anchors helper_path */
	return 1;
}

static int l_link_del(lua_State *L)
{
	isol_error err;
	const char *name = luaL_checkstring(L, 1);

	if (isol_net_link_del(name, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_link_up(lua_State *L)
{
	isol_error err;
	const char *name = luaL_checkstring(L, 1);

	if (isol_net_link_up(name, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

void isol_lua_open_net(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "net_link_del", l_link_del },
		{ "net_link_up", l_link_up },
		{ NULL, NULL },
	};
	luaL_setfuncs(L, fns, 0);
}
