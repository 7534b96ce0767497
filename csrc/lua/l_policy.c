/* Binding of the policy concern: isol.Seccomp (a compiled filter, made once
 * per sandbox) and the plan reader for seccomp, rlimits and Landlock. */
#define _GNU_SOURCE
#include "l_policy.h"

#include <errno.h>
#include <string.h>

#include "../seccomp.h"
#include "../spawn.h"
#include "binding.h"

#define SECCOMP_MT "isol.Seccomp"
#define MAX_NAMES 512

typedef struct {
	struct isol_seccomp f;
	int closed;
} seccomp_ud;

static const char *checked_string(lua_State *L, int idx, const char *what, const char *field, int i)
{
	size_t len;
	const char *s;

	if (lua_type(L, idx) != LUA_TSTRING)
		luaL_error(L, "%s.%s[%d]: expected string, got %s", what, field, i, luaL_typename(L, idx));
	s = lua_tolstring(L, idx, &len);
	if (strlen(s) != len || len == 0)
		luaL_error(L, "%s.%s[%d]: empty or with a NUL byte", what, field, i);
	return s;
}

/* List of strings at t[field] -> names (anchored by t), count returned. */
static size_t read_names(lua_State *L, int t, const char *field, const char **names, size_t max)
{
	size_t n = 0;

	lua_getfield(L, t, field);
	if (!lua_isnil(L, -1)) {
		if (!lua_istable(L, -1))
			luaL_error(L, "seccomp.%s: expected a list of syscall names", field);
		n = lua_rawlen(L, -1);
		if (n > max)
			luaL_error(L, "seccomp.%s: at most %d names", field, (int)max);
		for (size_t i = 0; i < n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			names[i] = checked_string(L, -1, "seccomp", field, (int)i + 1);
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	return n;
}

/* Optional string field of the options at 1, one of names: its index. */
static int opt_choice(lua_State *L, const char *field, const char *const *names, int def)
{
	const char *s = isol_lua_optstring(L, 1, "seccomp", field);

	if (!s)
		return def;
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return luaL_error(L, "seccomp.%s: unknown value \"%s\"", field, s);
}

/* core.seccomp_compile{profile=, allow=, deny=, errno=, action=,
 * nested_userns=, sys_admin=} -> isol.Seccomp | nil, msg, errno */
/* The options table at index 1 -> o (names point into `allow`/`deny`,
 * whose strings stay anchored in the table). */
static void read_opts(lua_State *L, struct isol_seccomp_opts *o, const char **allow, const char **deny)
{
	static const char *const profiles[] = { "none", "default", "strict", NULL };
	static const char *const actions[] = { "errno", "kill", "log", NULL };

	luaL_checktype(L, 1, LUA_TTABLE);
	memset(o, 0, sizeof *o);
	o->profile = (enum isol_seccomp_profile)opt_choice(L, "profile", profiles, ISOL_SECCOMP_DEFAULT);
	o->action = (enum isol_seccomp_action)opt_choice(L, "action", actions, ISOL_SECCOMP_ERRNO);
	o->errnum = (int)isol_lua_optint(L, 1, "seccomp", "errno", EPERM);
	o->nested_userns = isol_lua_optbool(L, 1, "seccomp", "nested_userns", 1);
	o->sys_admin = isol_lua_optbool(L, 1, "seccomp", "sys_admin", 0);
	o->deny_tty = !isol_lua_optbool(L, 1, "seccomp", "tiocsti", 0);
	o->nallow = read_names(L, 1, "allow", allow, MAX_NAMES);
	o->ndeny = read_names(L, 1, "deny", deny, MAX_NAMES);
	o->allow = allow;
	o->deny = deny;
}

/* SCMP_ACT_* -> the OCI spelling, and the errno of an ERRNO action. */
static const char *action_name(uint32_t a, int *errnum)
{
	*errnum = -1;
	if (a == SCMP_ACT_ALLOW)
		return "SCMP_ACT_ALLOW";
	if (a == SCMP_ACT_KILL_PROCESS)
		return "SCMP_ACT_KILL_PROCESS";
	if (a == SCMP_ACT_LOG)
		return "SCMP_ACT_LOG";
	if ((a & 0xffff0000U) == SCMP_ACT_ERRNO(0)) {
		*errnum = (int)(a & 0xffffU);
		return "SCMP_ACT_ERRNO";
	}
	return "SCMP_ACT_KILL";
}

static void push_action(lua_State *L, uint32_t a)
{
	int e;
	const char *name = action_name(a, &e);

	lua_pushstring(L, name);
	lua_setfield(L, -2, "action");
	if (e >= 0) {
		lua_pushinteger(L, e);
		lua_setfield(L, -2, "errno");
	}
}

/* Sink of isol_seccomp_rules: append {name=, action=, errno=, args=} to the
 * list on top of the stack. */
static int rule_to_lua(void *ctx, const struct isol_seccomp_rule *r, isol_error *err)
{
	static const char *const ops[] = {
		[SCMP_CMP_NE] = "SCMP_CMP_NE",
		[SCMP_CMP_LT] = "SCMP_CMP_LT",
		[SCMP_CMP_LE] = "SCMP_CMP_LE",
		[SCMP_CMP_EQ] = "SCMP_CMP_EQ",
		[SCMP_CMP_GE] = "SCMP_CMP_GE",
		[SCMP_CMP_GT] = "SCMP_CMP_GT",
		[SCMP_CMP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
	};
	lua_State *L = ctx;

	(void)err;
	lua_createtable(L, 0, 4);
	lua_pushstring(L, r->name);
	lua_setfield(L, -2, "name");
	push_action(L, r->action);
	if (r->n) {
		lua_createtable(L, (int)r->n, 0);
		for (unsigned i = 0; i < r->n; i++) {
			const struct scmp_arg_cmp *c = &r->cmp[i];
			lua_createtable(L, 0, 4);
			lua_pushinteger(L, c->arg);
			lua_setfield(L, -2, "index");
			lua_pushstring(L, c->op < sizeof ops / sizeof *ops && ops[c->op] ? ops[c->op] : "?");
			lua_setfield(L, -2, "op");
			lua_pushinteger(L, (lua_Integer)c->datum_a);
			lua_setfield(L, -2, "value");
			lua_pushinteger(L, (lua_Integer)c->datum_b);
			lua_setfield(L, -2, "valueTwo");
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		lua_setfield(L, -2, "args");
	}
	lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
	return 0;
}

/* core.seccomp_rules(opts) -> { default = {action=, errno=}, rules = {...} }:
 * the rules seccomp_compile would compile, as data (OCI export). */
static int l_seccomp_rules(lua_State *L)
{
	const char *allow[MAX_NAMES], *deny[MAX_NAMES];
	struct isol_seccomp_opts o;
	isol_error err;
	uint32_t dflt = SCMP_ACT_ALLOW;

	read_opts(L, &o, allow, deny);
	lua_createtable(L, 0, 2);
	lua_createtable(L, 64, 0);
	isol_error_clear(&err);
	if (isol_seccomp_rules(&o, &dflt, rule_to_lua, L, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_setfield(L, -2, "rules");
	lua_createtable(L, 0, 2);
	push_action(L, dflt);
	lua_setfield(L, -2, "default");
	return 1;
}

static int l_seccomp_compile(lua_State *L)
{
	const char *allow[MAX_NAMES], *deny[MAX_NAMES];
	struct isol_seccomp_opts o;
	seccomp_ud *u;
	isol_error err;

	read_opts(L, &o, allow, deny);

	/* the handle exists before the resource (liolib style) */
	u = (seccomp_ud *)lua_newuserdatauv(L, sizeof *u, 0);
	u->f.prog.filter = NULL;
	u->f.prog.len = 0;
	u->closed = 1;
	luaL_setmetatable(L, SECCOMP_MT);
	isol_error_clear(&err);
	if (isol_seccomp_build(&o, &u->f, &err) < 0)
		return isol_lua_fail(L, &err);
	u->closed = 0;
	return 1;
}

static seccomp_ud *check_seccomp(lua_State *L, int idx)
{
	return (seccomp_ud *)luaL_checkudata(L, idx, SECCOMP_MT);
}

static int s_close(lua_State *L)
{
	seccomp_ud *u = check_seccomp(L, 1);

	isol_seccomp_free(&u->f);
	u->closed = 1;
	return 0;
}

/* Number of BPF instructions (0: nothing to filter). */
static int s_len(lua_State *L)
{
	seccomp_ud *u = check_seccomp(L, 1);

	lua_pushinteger(L, u->f.prog.len);
	return 1;
}

static int s_tostring(lua_State *L)
{
	seccomp_ud *u = check_seccomp(L, 1);

	if (u->closed)
		lua_pushstring(L, "isol.Seccomp (closed)");
	else
		lua_pushfstring(L, "isol.Seccomp (%d instructions)", (int)u->f.prog.len);
	return 1;
}

/* core.seccomp_known(name) -> bool */
static int l_seccomp_known(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);

	lua_pushboolean(L, strlen(s) == len && isol_seccomp_known(s));
	return 1;
}

/* core.seccomp_version() -> "2.5.4", kernel filter mode available (bool) */
static int l_seccomp_version(lua_State *L)
{
	char v[32];
	int ok = isol_seccomp_available(v, sizeof v);

	lua_pushstring(L, v);
	lua_pushboolean(L, ok);
	return 2;
}

/* core.landlock_abi() -> n | nil, msg, errno */
static int l_landlock_abi(lua_State *L)
{
	int abi = isol_landlock_abi();

	if (abi < 0)
		return isol_lua_errno(L, -abi, "landlock_create_ruleset(VERSION)");
	lua_pushinteger(L, abi);
	return 1;
}

/* core.rlimit_known(name) -> bool */
static int l_rlimit_known(lua_State *L)
{
	lua_pushboolean(L, isol_rlimit_resource(luaL_checkstring(L, 1)) >= 0);
	return 1;
}

/* ---- plan reading ---- */

static rlim_t read_rlim(lua_State *L, int t, int i, const char *name, const char *which)
{
	lua_Integer v;
	int isnum;

	lua_rawgeti(L, t, i);
	v = lua_tointegerx(L, -1, &isnum);
	if (!isnum || v < -1)
		luaL_error(L, "plan.rlimits.%s.%s: expected an integer >= 0 or -1 (unlimited), got %s", name,
			   which, luaL_tolstring(L, -1, NULL));
	lua_pop(L, 1);
	return v == -1 ? RLIM_INFINITY : (rlim_t)v;
}

static void read_rlimits(lua_State *L, int idx, struct isol_plan *plan, struct isol_rlimits *rl)
{
	lua_getfield(L, idx, "rlimits");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return;
	}
	luaL_checktype(L, -1, LUA_TTABLE);
	rl->n = 0;
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		int res = name ? isol_rlimit_resource(name) : -1;
		struct isol_rlimit *r;

		if (res < 0)
			luaL_error(L, "plan.rlimits: unknown resource %s", luaL_tolstring(L, -2, NULL));
		if (!lua_istable(L, -1))
			luaL_error(L, "plan.rlimits.%s: expected {soft, hard}", name);
		if (rl->n == ISOL_RLIMITS_MAX)
			luaL_error(L, "plan.rlimits: at most %d", ISOL_RLIMITS_MAX);
		r = &rl->v[rl->n++];
		r->resource = res;
		r->lim.rlim_cur = read_rlim(L, lua_gettop(L), 1, name, "soft");
		r->lim.rlim_max = read_rlim(L, lua_gettop(L), 2, name, "hard");
		if (r->lim.rlim_max != RLIM_INFINITY &&
		    (r->lim.rlim_cur == RLIM_INFINITY || r->lim.rlim_cur > r->lim.rlim_max))
			luaL_error(L, "plan.rlimits.%s: soft limit above the hard one", name);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	plan->rlimits = rl;
}

/* One item of plan.landlock.<group> (at -1) into b: a path or a port. */
static void read_landlock_item(lua_State *L, struct isol_lua_policy *b, const char *name, unsigned group,
			       int i)
{
	struct isol_landlock *ll = &b->landlock;
	lua_Integer port;
	int isnum;

	if (!(group & (ISOL_LL_BIND_TCP | ISOL_LL_CONNECT_TCP))) {
		if (ll->npaths == ISOL_LUA_LANDLOCK_MAX)
			luaL_error(L, "plan.landlock: at most %d paths", ISOL_LUA_LANDLOCK_MAX);
		b->paths[ll->npaths].path = checked_string(L, -1, "plan.landlock", name, i);
		b->paths[ll->npaths++].groups = group;
		return;
	}
	if (ll->nports == ISOL_LUA_LANDLOCK_MAX)
		luaL_error(L, "plan.landlock: at most %d ports", ISOL_LUA_LANDLOCK_MAX);
	port = lua_tointegerx(L, -1, &isnum);
	if (!isnum || port < 0 || port > 65535)
		luaL_error(L, "plan.landlock.%s[%d]: expected a port 0..65535", name, i);
	b->ports[ll->nports].port = (uint16_t)port;
	b->ports[ll->nports++].groups = group;
}

static void read_landlock(lua_State *L, int idx, struct isol_plan *plan, struct isol_lua_policy *b)
{
	static const struct {
		const char *name;
		unsigned group;
	} groups[] = { { "read", ISOL_LL_READ },
		       { "write", ISOL_LL_WRITE },
		       { "exec", ISOL_LL_EXEC },
		       { "bind_tcp", ISOL_LL_BIND_TCP },
		       { "connect_tcp", ISOL_LL_CONNECT_TCP } };
	struct isol_landlock *ll = &b->landlock;
	int t;

	lua_getfield(L, idx, "landlock");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return;
	}
	luaL_checktype(L, -1, LUA_TTABLE);
	t = lua_gettop(L);
	memset(ll, 0, sizeof *ll);
	ll->paths = b->paths;
	ll->ports = b->ports;
	for (size_t g = 0; g < sizeof groups / sizeof *groups; g++) {
		lua_getfield(L, t, groups[g].name);
		if (!lua_isnil(L, -1)) {
			size_t n;
			luaL_checktype(L, -1, LUA_TTABLE);
			ll->handled |= groups[g].group;
			n = lua_rawlen(L, -1);
			for (size_t i = 0; i < n; i++) {
				lua_rawgeti(L, -1, (lua_Integer)i + 1);
				read_landlock_item(L, b, groups[g].name, groups[g].group, (int)i + 1);
				lua_pop(L, 1);
			}
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	ll->abi = isol_landlock_abi();
	if (ll->abi < isol_landlock_abi_needed(ll->handled))
		luaL_error(L, "plan.landlock: needs Landlock ABI %d, this kernel has %s %d",
			   isol_landlock_abi_needed(ll->handled), ll->abi < 0 ? "none, error" : "ABI",
			   ll->abi < 0 ? -ll->abi : ll->abi);
	ll->no_new_privs = plan->no_new_privs;
	plan->landlock = ll;
}

void isol_lua_read_policy(lua_State *L, int idx, struct isol_plan *plan, struct isol_lua_policy *buf)
{
	lua_getfield(L, idx, "seccomp");
	if (!lua_isnil(L, -1)) {
		seccomp_ud *u = (seccomp_ud *)luaL_testudata(L, -1, SECCOMP_MT);
		if (!u)
			luaL_error(L, "plan.seccomp: expected an isol.Seccomp (core.seccomp_compile), got %s",
				   luaL_typename(L, -1));
		if (u->closed)
			luaL_error(L, "plan.seccomp: the filter is closed");
		plan->seccomp = &u->f; /* anchored by the plan table */
	}
	lua_pop(L, 1);
	read_rlimits(L, idx, plan, &buf->rlimits);
	read_landlock(L, idx, plan, buf);
}

void isol_lua_open_policy(lua_State *L)
{
	static const luaL_Reg methods[] = { { "close", s_close }, { "len", s_len }, { NULL, NULL } };
	static const luaL_Reg meta[] = {
		{ "__gc", s_close },
		{ "__close", s_close },
		{ "__tostring", s_tostring },
		{ NULL, NULL },
	};
	static const luaL_Reg fns[] = {
		{ "seccomp_compile", l_seccomp_compile },
		{ "seccomp_known", l_seccomp_known },
		{ "seccomp_rules", l_seccomp_rules },
		{ "seccomp_version", l_seccomp_version },
		{ "landlock_abi", l_landlock_abi },
		{ "rlimit_known", l_rlimit_known },
		{ NULL, NULL },
	};

	luaL_newmetatable(L, SECCOMP_MT);
	luaL_setfuncs(L, meta, 0);
	luaL_newlib(L, methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_setfuncs(L, fns, 0);
}
