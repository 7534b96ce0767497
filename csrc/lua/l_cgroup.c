/* Binding of the cgroup concern: layout, the Cgroup userdata ("isol.Cgroup"),
 * device rules, libcgroup helpers. Registered by luaopen_isol_core. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cgroup.h"
#include "../cgroup_libcg.h"
#include "../devices.h"
#include "../devices_bpf.h"
#include "binding.h"

#define CGROUP_MT "isol.Cgroup"
#define MAX_DEV_RULES 256
#define MAX_LCG_VALUES 64

typedef struct {
	struct isol_cgroup cg;
	int live; /* created and not yet deleted */
	int lcg;  /* made by the libcgroup backend: attach and delete through it */
	unsigned lcg_ctrls;
	char lcg_name[ISOL_CG_PATH];
} lcgroup;

/* The libcgroup spec of a handle made by that backend (no values). */
static struct isol_lcg_spec lcg_of(const lcgroup *c)
{
	struct isol_lcg_spec s;

	memset(&s, 0, sizeof s);
	s.name = c->lcg_name;
	s.ctrls = c->lcg_ctrls;
	return s;
}

static lcgroup *check_cg(lua_State *L, int arg)
{
	return (lcgroup *)luaL_checkudata(L, arg, CGROUP_MT);
}

static lcgroup *check_live(lua_State *L, int arg)
{
	lcgroup *c = check_cg(L, arg);
	if (!c->live)
		luaL_error(L, "cgroup is deleted");
	return c;
}

static int ok_or_fail(lua_State *L, int r, const isol_error *err)
{
	if (r < 0)
		return isol_lua_fail(L, err);
	lua_pushboolean(L, 1);
	return 1;
}

/* A string argument or field value without NUL bytes; raises naming it. */
static const char *plain_string(lua_State *L, int idx, const char *what)
{
	size_t len;
	const char *s;

	if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER)
		luaL_error(L, "%s: expected a string, got %s", what, luaL_typename(L, idx));
	s = lua_tolstring(L, idx, &len); /* a number becomes a string in place: not a key */
	if (strlen(s) != len)
		luaL_error(L, "%s: contains a NUL byte", what);
	return s;
}

static void push_ctrls(lua_State *L, unsigned m, int version)
{
	int n = 0;
	lua_newtable(L);
	for (int c = 0; c < ISOL_CG_NCTRL; c++)
		if (m & (1u << c)) {
			lua_pushstring(L, isol_cg_ctrl_name(c, version));
			lua_rawseti(L, -2, ++n);
		}
}

/* core.cgroup_layout([refresh]) -> {mode=, hierarchies={{version=, mount=,
 * self=, controllers={...}}...}} */
static int l_layout(lua_State *L)
{
	const struct isol_cg_layout *lay;
	isol_error err;
	static const char *const modes[] = { "none", "v1", "v2", "hybrid" };

	if (isol_cg_layout(&lay, lua_toboolean(L, 1), &err) < 0)
		return isol_lua_fail(L, &err);
	lua_createtable(L, 0, 3);
	lua_pushstring(L, modes[lay->mode]);
	lua_setfield(L, -2, "mode");
	lua_createtable(L, lay->n, 0);
	for (int i = 0; i < lay->n; i++) {
		const struct isol_cg_hier *h = &lay->h[i];
		lua_createtable(L, 0, 4);
		lua_pushinteger(L, h->version);
		lua_setfield(L, -2, "version");
		lua_pushstring(L, h->mount);
		lua_setfield(L, -2, "mount");
		lua_pushstring(L, h->self);
		lua_setfield(L, -2, "self");
		push_ctrls(L, h->ctrls, h->version);
		lua_setfield(L, -2, "controllers");
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "hierarchies");
	return 1;
}

/* core.cgroup_create{name=, parent=, version=, controllers={...}, uid=, gid=} */
static int l_create(lua_State *L)
{
	struct isol_cg_spec spec;
	isol_error err;
	lcgroup *c;

	luaL_checktype(L, 1, LUA_TTABLE);
	memset(&spec, 0, sizeof spec);
	lua_Integer version = isol_lua_optint(L, 1, "cgroup", "version", 0);
	if (version != 0 && version != 1 && version != 2)
		return luaL_error(L, "cgroup.version: expected 1 or 2, got %I", version);
	spec.version = (int)version;
	lua_getfield(L, 1, "name");
	lua_getfield(L, 1, "parent");
	spec.name = plain_string(L, -2, "cgroup.name");
	spec.parent = lua_isnil(L, -1) ? NULL : plain_string(L, -1, "cgroup.parent");
	/* both stay on the stack (anchored) until the group is made */
	lua_getfield(L, 1, "controllers");
	if (!lua_isnil(L, -1)) {
		luaL_checktype(L, -1, LUA_TTABLE);
		for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, -1); i++) {
			lua_rawgeti(L, -1, i);
			const char *n = lua_tostring(L, -1);
			int k = n ? isol_cg_ctrl_lookup(n) : -1;
			if (k < 0)
				return luaL_error(L, "cgroup.controllers[%d]: unknown controller %s", (int)i,
						  n ? n : luaL_typename(L, -1));
			spec.ctrls |= 1u << k;
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	lua_Integer uid = isol_lua_optint(L, 1, "cgroup", "uid", -1);
	lua_Integer gid = isol_lua_optint(L, 1, "cgroup", "gid", -1);
	if (uid < -1 || uid > 0xfffffffeLL)
		return luaL_error(L, "cgroup.uid: expected 0 to 4294967294, got %I", uid);
	if (gid < -1 || gid > 0xfffffffeLL)
		return luaL_error(L, "cgroup.gid: expected 0 to 4294967294, got %I", gid);
	if (uid >= 0 || gid >= 0) {
		spec.owner = 1;
		spec.uid = (uid_t)(uid >= 0 ? uid : -1);
		spec.gid = (gid_t)(gid >= 0 ? gid : -1);
	}

	lua_getfield(L, 1, "backend");
	const char *backend = lua_isnil(L, -1) ? "direct" : plain_string(L, -1, "cgroup.backend");
	int use_lcg = strcmp(backend, "libcgroup") == 0;
	if (!use_lcg && strcmp(backend, "direct") != 0)
		return luaL_error(L, "cgroup.backend: expected \"direct\" or \"libcgroup\", got \"%s\"",
				  backend);
	struct isol_lcg_value vals[MAX_LCG_VALUES];
	struct isol_lcg_spec lspec;
	memset(&lspec, 0, sizeof lspec);
	lua_getfield(L, 1, "values");
	if (!lua_isnil(L, -1)) {
		if (!use_lcg)
			return luaL_error(
				L, "cgroup.values: only with backend = \"libcgroup\" (set files with :set)");
		luaL_checktype(L, -1, LUA_TTABLE);
		int vt = lua_gettop(L);
		lua_Integer nv = (lua_Integer)lua_rawlen(L, vt);
		if (nv > MAX_LCG_VALUES)
			return luaL_error(L, "cgroup.values: more than %d", MAX_LCG_VALUES);
		for (lua_Integer i = 1; i <= nv; i++) {
			lua_rawgeti(L, vt, i); /* stays on the stack: anchors the strings */
			if (!lua_istable(L, -1))
				return luaL_error(L, "cgroup.values[%d]: expected {file, value}", (int)i);
			int et = lua_gettop(L);
			lua_rawgeti(L, et, 1);
			lua_rawgeti(L, et, 2);
			vals[i - 1].file = plain_string(L, -2, "cgroup.values[i][1]");
			vals[i - 1].value = plain_string(L, -1, "cgroup.values[i][2]");
		}
		lspec.values = vals;
		lspec.nvalues = (size_t)nv;
	}

	c = (lcgroup *)lua_newuserdatauv(L, sizeof *c, 0);
	memset(c, 0, sizeof *c);
	isol_cg_init(&c->cg);
	luaL_setmetatable(L, CGROUP_MT);
	if (use_lcg) {
		const struct isol_cg_layout *lay;
		unsigned extra = 0;
		int v2;
		if (isol_cg_layout(&lay, 0, &err) < 0)
			return isol_lua_fail(L, &err);
		v2 = spec.version ? spec.version == 2 : lay->mode == ISOL_CG_MODE_V2;
		if (v2 && lay->mode != ISOL_CG_MODE_V2)
			return luaL_error(
				L, "cgroup.backend: libcgroup 2.0.2 handles v2 only on a pure v2 host");
		/* v1: the freezer and cpuacct directories isol opens for kill,
		 * freeze and stats are made by libcgroup too */
		for (int i = 0; !v2 && i < lay->n; i++)
			if (lay->h[i].version == 1)
				extra |=
					lay->h[i].ctrls & ((1u << ISOL_CG_FREEZER) | (1u << ISOL_CG_CPUACCT));
		if (spec.parent && *spec.parent) {
			if ((size_t)snprintf(c->lcg_name, sizeof c->lcg_name, "%s/%s", spec.parent,
					     spec.name) >= sizeof c->lcg_name)
				return luaL_error(L, "cgroup.name: too long");
		} else {
			snprintf(c->lcg_name, sizeof c->lcg_name, "%s", spec.name);
		}
		c->lcg_ctrls = spec.ctrls | extra;
		lspec.name = c->lcg_name;
		lspec.ctrls = c->lcg_ctrls;
		lspec.ignore_ownership = 1;
		if (isol_lcg_open(&c->cg, &lspec, &spec, &err) < 0)
			return isol_lua_fail(L, &err);
		c->lcg = 1;
	} else if (isol_cg_create(&c->cg, &spec, &err) < 0) {
		return isol_lua_fail(L, &err);
	}
	c->live = 1;
	return 1;
}

static int cg_set(lua_State *L)
{
	lcgroup *c = check_live(L, 1);
	const char *file = luaL_checkstring(L, 2);
	const char *val = luaL_checkstring(L, 3);
	isol_error err;

	if (isol_cg_set(&c->cg, file, val, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

static int cg_get(lua_State *L)
{
	lcgroup *c = check_live(L, 1);
	const char *file = luaL_checkstring(L, 2);
	char buf[16384];
	isol_error err;
	ssize_t n = isol_cg_get(&c->cg, file, buf, sizeof buf, &err);

	if (n < 0)
		return isol_lua_fail(L, &err);
	lua_pushlstring(L, buf, (size_t)n);
	return 1;
}

/* A pid argument: an integer from 1 to the largest pid the kernel can
 * hand out (PID_MAX_LIMIT, 2^22); never truncated. */
static pid_t check_pid(lua_State *L, int arg, const char *name)
{
	int isnum;
	lua_Integer v = lua_tointegerx(L, arg, &isnum);

	if (!isnum || v < 1 || v > 4194304) {
		const char *shown = lua_type(L, arg) == LUA_TNUMBER
					    ? lua_pushfstring(L, "%s", luaL_tolstring(L, arg, NULL))
					    : luaL_typename(L, arg);
		return (pid_t)luaL_argerror(
			L, arg,
			lua_pushfstring(L, "%s: expected an integer from 1 to 4194304, got %s", name, shown));
	}
	return (pid_t)v;
}

/* cg:attach(pid) | cg:attach(pid, {self = true}) | cg:attach{self = true}
 * Moving the calling process into a sandbox group puts it under that
 * group's limits, freeze and kill: only when the call says so. */
static int cg_attach(lua_State *L)
{
	lcgroup *c = check_live(L, 1);
	int self = 0, opts = lua_istable(L, 2) ? 2 : lua_istable(L, 3) ? 3 : 0;
	pid_t pid, me = getpid();
	isol_error err;

	if (opts) {
		lua_getfield(L, opts, "self");
		if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
			return luaL_error(L, "attach: self: expected boolean, got %s", luaL_typename(L, -1));
		self = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	if (opts == 2 || lua_isnoneornil(L, 2)) {
		if (!self)
			return luaL_argerror(L, 2,
					     "pid: expected an integer (or {self = true} to attach "
					     "the calling process)");
		pid = me;
	} else {
		pid = check_pid(L, 2, "pid");
	}
	if (pid == me && !self)
		return luaL_argerror(L, 2,
				     lua_pushfstring(L,
						     "pid %d is the calling process; pass "
						     "{self = true} to move it into the group",
						     (int)me));
	if (c->lcg) {
		struct isol_lcg_spec ls = lcg_of(c);
		return ok_or_fail(L, isol_lcg_attach(&ls, pid, &err), &err);
	}
	if (isol_cg_attach(&c->cg, pid, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

static int do_freeze(lua_State *L, int on)
{
	lcgroup *c = check_live(L, 1);
	isol_error err;

	if (isol_cg_freeze(&c->cg, on, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}
static int cg_freeze(lua_State *L)
{
	return do_freeze(L, 1);
}
static int cg_thaw(lua_State *L)
{
	return do_freeze(L, 0);
}

static int cg_kill(lua_State *L)
{
	lcgroup *c = check_live(L, 1);
	int sig = lua_isnoneornil(L, 2) ? SIGKILL : isol_lua_checksignal(L, 2);
	isol_error err;
	int r = isol_cg_kill(&c->cg, sig, &err);

	if (r < 0)
		return isol_lua_fail(L, &err);
	lua_pushinteger(L, r);
	return 1;
}

static int cg_nprocs(lua_State *L)
{
	lcgroup *c = check_live(L, 1);
	isol_error err;
	int r = isol_cg_nprocs(&c->cg, &err);

	if (r < 0)
		return isol_lua_fail(L, &err);
	lua_pushinteger(L, r);
	return 1;
}

static void set_num(lua_State *L, const char *k, int64_t v)
{
	if (v < 0)
		return;
	if (v == INT64_MAX)
		lua_pushstring(L, "max");
	else
		lua_pushinteger(L, (lua_Integer)v);
	lua_setfield(L, -2, k);
}

/* cg:stats() -> {cpu={usage_us,user_us,system_us,nr_periods,nr_throttled,
 * throttled_us}, memory={current,peak,max,oom_kills,oom_events,failcnt},
 * pids={current,peak,max}, io={read_bytes,write_bytes}}; absent values are nil. */
static int cg_stats(lua_State *L)
{
	lcgroup *c = check_live(L, 1);
	struct isol_cg_stats st;
	isol_error err;

	if (isol_cg_stats(&c->cg, &st, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_createtable(L, 0, 4);
	lua_createtable(L, 0, 6);
	set_num(L, "usage_us", st.cpu_usage_us);
	set_num(L, "user_us", st.cpu_user_us);
	set_num(L, "system_us", st.cpu_system_us);
	set_num(L, "nr_periods", st.cpu_nr_periods);
	set_num(L, "nr_throttled", st.cpu_nr_throttled);
	set_num(L, "throttled_us", st.cpu_throttled_us);
	lua_setfield(L, -2, "cpu");
	lua_createtable(L, 0, 6);
	set_num(L, "current", st.mem_current);
	set_num(L, "peak", st.mem_peak);
	set_num(L, "max", st.mem_max);
	set_num(L, "oom_kills", st.mem_oom_kills);
	set_num(L, "oom_events", st.mem_oom_events);
	set_num(L, "failcnt", st.mem_failcnt);
	lua_setfield(L, -2, "memory");
	lua_createtable(L, 0, 3);
	set_num(L, "current", st.pids_current);
	set_num(L, "peak", st.pids_peak);
	set_num(L, "max", st.pids_max);
	lua_setfield(L, -2, "pids");
	lua_createtable(L, 0, 2);
	set_num(L, "read_bytes", st.io_read_bytes);
	set_num(L, "write_bytes", st.io_write_bytes);
	lua_setfield(L, -2, "io");
	return 1;
}

static int cg_oom_kills(lua_State *L)
{
	lcgroup *c = check_cg(L, 1);
	int64_t n = c->live ? isol_cg_oom_kills(&c->cg) : -1;
	if (n < 0)
		return 0;
	lua_pushinteger(L, (lua_Integer)n);
	return 1;
}

static int cg_fd(lua_State *L)
{
	lcgroup *c = check_live(L, 1);
	if (c->cg.fd < 0)
		return 0;
	lua_pushinteger(L, c->cg.fd);
	return 1;
}

/* cg:backend() -> "direct" | "libcgroup" */
static int cg_backend(lua_State *L)
{
	lua_pushstring(L, check_cg(L, 1)->lcg ? "libcgroup" : "direct");
	return 1;
}

static int cg_version(lua_State *L)
{
	lua_pushinteger(L, check_cg(L, 1)->cg.version);
	return 1;
}

/* cg:dirs() -> { path, ... } (what a spawn's plan.cgroup_dirs takes) */
static int cg_dirs(lua_State *L)
{
	lcgroup *c = check_cg(L, 1);
	lua_createtable(L, c->cg.ndirs, 0);
	for (int i = 0; i < c->cg.ndirs; i++) {
		lua_pushstring(L, c->cg.dirs[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/* cg:path([controller]) -> directory of that controller (or the first) */
static int cg_path(lua_State *L)
{
	lcgroup *c = check_cg(L, 1);
	const char *ctrl = luaL_optstring(L, 2, NULL);
	if (c->cg.ndirs == 0)
		return 0;
	if (!ctrl || c->cg.version == 2) {
		lua_pushstring(L, c->cg.dirs[0]);
		return 1;
	}
	int k = isol_cg_ctrl_lookup(ctrl);
	for (int i = 0; k >= 0 && i < c->cg.ndirs; i++)
		if (c->cg.ctrls[i] & (1u << k)) {
			lua_pushstring(L, c->cg.dirs[i]);
			return 1;
		}
	return 0;
}

/* rules table at idx: { {rule="c 1:5 rwm", allow=bool}, ... } or strings
 * like "allow c 1:5 rwm" / "deny ..." -> out */
static size_t read_rules(lua_State *L, int idx, struct isol_dev_rule *out, size_t max)
{
	size_t n = 0;
	luaL_checktype(L, idx, LUA_TTABLE);
	for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, idx); i++) {
		isol_error err;
		const char *s;
		int allow = 0;
		lua_rawgeti(L, idx, i);
		s = luaL_checkstring(L, -1);
		if (strncmp(s, "allow ", 6) == 0)
			allow = 1, s += 6;
		else if (strncmp(s, "deny ", 5) == 0)
			allow = 0, s += 5;
		else
			luaL_error(L, "devices rule %d: expected \"allow RULE\" or \"deny RULE\", got \"%s\"",
				   (int)i, s);
		if (n >= max)
			luaL_error(L, "devices: more than %d rules", (int)max);
		if (isol_dev_parse_rule(s, &out[n], &err) < 0)
			luaL_error(L, "devices rule %d: %s", (int)i, err.msg);
		out[n++].allow = allow;
		lua_pop(L, 1);
	}
	return n;
}

/* cg:devices(default_allow, {"deny c 195:* rwm", "allow c 1:3 rwm", ...}) */
static int cg_devices(lua_State *L)
{
	lcgroup *c = check_live(L, 1);
	int def = lua_toboolean(L, 2);
	struct isol_dev_rule *rules =
		(struct isol_dev_rule *)lua_newuserdatauv(L, MAX_DEV_RULES * sizeof *rules, 0);
	size_t n = read_rules(L, 3, rules, MAX_DEV_RULES);
	isol_error err;
	int r;

	if (c->cg.version == 2) {
		r = isol_dev_apply_v2(c->cg.fd, def, rules, n, &err);
	} else {
		const char *dir = isol_cg_dir_for(&c->cg, "devices.allow", &err);
		r = dir ? isol_dev_apply_v1(dir, def, rules, n, &err) : -err.code;
	}
	if (r < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.cgroup_devices_resolve({ {what, access, allow}, ... }) ->
 * {"deny c 195:* rwm", ...} | nil, msg, errno */
static int l_dev_resolve(lua_State *L)
{
	struct isol_dev_rule *rules;
	size_t n = 0;
	isol_error err;
	char buf[64];

	luaL_checktype(L, 1, LUA_TTABLE);
	rules = (struct isol_dev_rule *)lua_newuserdatauv(L, MAX_DEV_RULES * sizeof *rules, 0);
	for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, 1); i++) {
		lua_rawgeti(L, 1, i);
		luaL_checktype(L, -1, LUA_TTABLE);
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		lua_rawgeti(L, -3, 3);
		const char *what = luaL_checkstring(L, -3);
		const char *acc = luaL_optstring(L, -2, "rwm");
		int allow = lua_toboolean(L, -1);
		unsigned a = 0;
		for (const char *p = acc; *p; p++)
			a |= *p == 'r' ? ISOL_DEV_R : *p == 'w' ? ISOL_DEV_W : *p == 'm' ? ISOL_DEV_M : 0;
		if (isol_dev_resolve(what, a ? a : ISOL_DEV_ALL, allow, rules, &n, MAX_DEV_RULES, &err) < 0)
			return isol_lua_fail(L, &err);
		lua_pop(L, 4);
	}
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		isol_dev_format(&rules[i], buf, sizeof buf);
		lua_pushfstring(L, "%s %s", rules[i].allow ? "allow" : "deny", buf);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

static int check_timeout(lua_State *L, int arg, int def)
{
	lua_Integer t = luaL_optinteger(L, arg, def);
	luaL_argcheck(L, t >= 0 && t <= 600000, arg, "timeout_ms: expected 0 to 600000");
	return (int)t;
}

static int delete_group(lcgroup *c, int timeout_ms, isol_error *err)
{
	if (c->lcg) {
		struct isol_lcg_spec ls = lcg_of(c);
		return isol_lcg_close(&c->cg, &ls, timeout_ms, err);
	}
	return isol_cg_delete(&c->cg, timeout_ms, err);
}

/* cg:delete([timeout_ms]) -> true | nil, msg, errno. Removes an empty
 * group (EBUSY, the handle stays open, when processes remain). Idempotent. */
static int cg_delete(lua_State *L)
{
	lcgroup *c = check_cg(L, 1);
	int timeout = check_timeout(L, 2, 2000);
	isol_error err;

	if (c->live) {
		if (delete_group(c, timeout, &err) < 0)
			return isol_lua_fail(L, &err);
		c->live = 0;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* The one close path (liolib rule) of :close(), __close and __gc: kill
 * what still runs in the group (never when the group holds the caller:
 * that is reported), then delete. On failure the handle stays open, so a
 * later close() or the finalizer retries. */
static int close_group(lcgroup *c, int timeout_ms, isol_error *err)
{
	int r;

	if (!c->live)
		return 0;
	/* (libcgroup deletes its groups itself: the long way) */
	if (!c->lcg && (r = isol_cg_delete_if_empty(&c->cg, timeout_ms, err)) != 0) {
		if (r < 0)
			return r;
		c->live = 0;
		return 0;
	}
	if (isol_cg_populated(&c->cg) && (r = isol_cg_kill(&c->cg, SIGKILL, err)) < 0)
		return r;
	if ((r = delete_group(c, timeout_ms, err)) < 0)
		return r;
	c->live = 0;
	return 0;
}

/* cg:close([timeout_ms]) -> true | nil, msg, errno. Idempotent. */
static int cg_close(lua_State *L)
{
	lcgroup *c = check_cg(L, 1);
	isol_error err;

	return ok_or_fail(L, close_group(c, check_timeout(L, 2, 2000), &err), &err);
}

/* g:release(): give the cgroup up without deleting it (a detached sandbox
 * keeps running in it); the handle only frees its memory. `isol cgroup gc`
 * removes the group once it is empty and its creator is gone. */
static int cg_release(lua_State *L)
{
	lcgroup *c = check_cg(L, 1);
	if (c->live) {
		isol_cg_free(&c->cg);
		c->live = 0;
	}
	return 0;
}

/* __close: the close path; an error is raised (a `<close>` variable has
 * no other way to report it). __gc: the close path with a short wait (a
 * finalizer must not block); a group that still cannot go keeps its
 * isol-<pid>-<seq> name, so `isol cgroup gc` removes it once this process
 * has exited. Its memory is freed either way. */
static int cg_close_meta(lua_State *L)
{
	lcgroup *c = check_cg(L, 1);
	isol_error err;

	if (close_group(c, 2000, &err) < 0)
		return luaL_error(L, "cgroup close: %s", err.msg);
	return 0;
}

static int cg_gc(lua_State *L)
{
	lcgroup *c = check_cg(L, 1);
	isol_error err;

	if (c->live && close_group(c, 100, &err) < 0) {
		isol_cg_free(&c->cg);
		c->live = 0;
	}
	return 0;
}

static int cg_tostring(lua_State *L)
{
	lcgroup *c = check_cg(L, 1);
	if (c->live)
		lua_pushfstring(L, "isol.Cgroup (v%d, %s)", c->cg.version, c->cg.dirs[0]);
	else
		lua_pushstring(L, "isol.Cgroup (deleted)");
	return 1;
}

/* core.cgroup_rmdir_tree(dir [, timeout_ms]) -> true | nil, msg, errno (gc) */
static int l_rmdir_tree(lua_State *L)
{
	const char *dir = luaL_checkstring(L, 1);
	isol_error err;
	if (isol_cg_rmdir_tree(dir, (int)luaL_optinteger(L, 2, 1000), &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

struct find_ctx {
	lua_State *L;
	const char *prefix;
	int n;
};

static int found_one(const char *dir, void *ud)
{
	struct find_ctx *f = ud;
	lua_State *L = f->L;
	const char *base = strrchr(dir, '/') + 1;
	int pid = 0, seq = 0, used = 0;

	lua_createtable(L, 0, 4);
	lua_pushstring(L, dir);
	lua_setfield(L, -2, "dir");
	/* isol's names are <prefix><creator pid>-<seq> */
	if (sscanf(base + strlen(f->prefix), "%d-%d%n", &pid, &seq, &used) == 2 &&
	    base[strlen(f->prefix) + (size_t)used] == '\0' && pid > 0) {
		lua_pushinteger(L, pid);
		lua_setfield(L, -2, "creator");
		lua_pushboolean(L, kill(pid, 0) == 0 || errno == EPERM);
		lua_setfield(L, -2, "creator_alive");
	}
	lua_rawseti(L, -2, ++f->n);
	return 0;
}

/* core.cgroup_find(prefix [, maxdepth]) -> { {dir=, creator=, creator_alive=}, ... } */
static int l_find(lua_State *L)
{
	struct find_ctx f = { L, plain_string(L, 1, "prefix"), 0 };
	lua_Integer depth = luaL_optinteger(L, 2, 8);
	isol_error err;

	luaL_argcheck(L, depth >= 1 && depth <= 32, 2, "maxdepth: expected 1 to 32");
	lua_newtable(L);
	if (isol_cg_find(f.prefix, (int)depth, found_one, &f, &err) < 0)
		return isol_lua_fail(L, &err);
	return 1;
}

/* core.cgroup_remove(dir [, {kill = bool, timeout_ms = n}]) -> true | nil, msg, errno */
static int l_remove(lua_State *L)
{
	const char *dir = plain_string(L, 1, "dir");
	int kill_procs = 0, timeout = 2000;
	isol_error err;

	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		kill_procs = isol_lua_optbool(L, 2, "cgroup_remove", "kill", 0);
		lua_Integer t = isol_lua_optint(L, 2, "cgroup_remove", "timeout_ms", 2000);
		if (t < 0 || t > 600000)
			return luaL_error(L, "cgroup_remove.timeout_ms: expected 0 to 600000, got %I", t);
		timeout = (int)t;
	}
	return ok_or_fail(L, isol_cg_remove_dir(dir, kill_procs, timeout, &err), &err);
}

/* core.cgroup_libcgroup_init() -> seconds it took (0 when already done) |
 * nil, msg, errno. Lazy: only callers that use libcgroup pay for it. */
static int l_lcg_init(lua_State *L)
{
	struct timespec a, b;
	isol_error err;
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (isol_cg_libcgroup_init(&err) < 0)
		return isol_lua_fail(L, &err);
	clock_gettime(CLOCK_MONOTONIC, &b);
	lua_pushnumber(L, (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return 1;
}

/* core.cgroup_libcgroup_mount(controller) -> mount point (libcgroup's view) */
static int l_lcg_mount(lua_State *L)
{
	const char *ctrl = luaL_checkstring(L, 1);
	char *mp;
	isol_error err;

	if (isol_lcg_mount(ctrl, &mp, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushstring(L, mp);
	free(mp);
	return 1;
}

/* core.cgroup_ecg_errno(code) -> errno for a libcgroup ECG* code */
static int l_ecg_errno(lua_State *L)
{
	lua_Integer c = luaL_checkinteger(L, 1);
	luaL_argcheck(L, c >= 0 && c <= INT_MAX, 1, "expected a libcgroup ECG* code");
	lua_pushinteger(L, isol_cg_ecg_errno((int)c));
	return 1;
}

/* Read (name, {controllers}, {["ctrl.file"] = value}) at idx..idx+2 into
 * spec. Strings stay anchored: values are copied into a table left on the
 * stack (the caller's table could change under a metamethod). */
static void read_lcg_spec(lua_State *L, int idx, struct isol_lcg_spec *spec, struct isol_lcg_value *vals)
{
	memset(spec, 0, sizeof *spec);
	spec->name = plain_string(L, idx, "libcgroup name");
	luaL_checktype(L, idx + 1, LUA_TTABLE);
	lua_Integer n = (lua_Integer)lua_rawlen(L, idx + 1);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, idx + 1, i);
		int c = lua_type(L, -1) == LUA_TSTRING ? isol_cg_ctrl_lookup(lua_tostring(L, -1)) : -1;
		if (c < 0)
			luaL_error(L, "libcgroup controllers[%d]: unknown controller %s", (int)i,
				   lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
								  : luaL_typename(L, -1));
		spec->ctrls |= 1u << c;
		lua_pop(L, 1);
	}
	lua_newtable(L); /* anchor: copies of the file names and values */
	int anchor = lua_gettop(L);
	if (lua_isnoneornil(L, idx + 2))
		return;
	luaL_checktype(L, idx + 2, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, idx + 2)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "libcgroup values: keys must be \"controller.file\" strings, got %s",
				   luaL_typename(L, -2));
		if (spec->nvalues >= MAX_LCG_VALUES)
			luaL_error(L, "libcgroup values: more than %d", MAX_LCG_VALUES);
		const char *k = plain_string(L, -2, "libcgroup values key");
		lua_pushvalue(L, -1); /* convert a copy, never the traversed value */
		const char *v = plain_string(L, -1, k);
		lua_rawseti(L, anchor, (lua_Integer)(2 * spec->nvalues + 2));
		lua_pushvalue(L, -2);
		lua_rawseti(L, anchor, (lua_Integer)(2 * spec->nvalues + 1));
		vals[spec->nvalues].file = k;
		vals[spec->nvalues].value = v;
		spec->nvalues++;
		lua_pop(L, 1);
	}
	spec->values = vals;
}

/* core.cgroup_libcgroup_create(name, {controllers}, {values}, ignore_ownership)
 * core.cgroup_libcgroup_delete(name, {controllers})
 * core.cgroup_libcgroup_attach(name, {controllers}, pid)
 * libcgroup's own create/delete/attach (cgroup_libcg.c). */
static int l_lcg_create(lua_State *L)
{
	struct isol_lcg_spec spec;
	struct isol_lcg_value vals[MAX_LCG_VALUES];
	isol_error err;

	read_lcg_spec(L, 1, &spec, vals);
	spec.ignore_ownership = lua_toboolean(L, 4);
	return ok_or_fail(L, isol_lcg_create(&spec, &err), &err);
}

static int l_lcg_delete(lua_State *L)
{
	struct isol_lcg_spec spec;
	isol_error err;

	lua_settop(L, 2);
	read_lcg_spec(L, 1, &spec, NULL);
	return ok_or_fail(L, isol_lcg_delete(&spec, &err), &err);
}

static int l_lcg_attach(lua_State *L)
{
	struct isol_lcg_spec spec;
	isol_error err;
	pid_t pid = check_pid(L, 3, "pid");

	lua_settop(L, 2);
	read_lcg_spec(L, 1, &spec, NULL);
	return ok_or_fail(L, isol_lcg_attach(&spec, pid, &err), &err);
}

void isol_lua_open_cgroup(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "set", cg_set },
		{ "get", cg_get },
		{ "attach", cg_attach },
		{ "freeze", cg_freeze },
		{ "thaw", cg_thaw },
		{ "kill", cg_kill },
		{ "nprocs", cg_nprocs },
		{ "stats", cg_stats },
		{ "oom_kills", cg_oom_kills },
		{ "fd", cg_fd },
		{ "version", cg_version },
		{ "dirs", cg_dirs },
		{ "backend", cg_backend },
		{ "path", cg_path },
		{ "devices", cg_devices },
		{ "delete", cg_delete },
		{ "close", cg_close },
		{ "release", cg_release },
		{ NULL, NULL },
	};
	static const luaL_Reg meta[] = {
		{ "__gc", cg_gc },
		{ "__close", cg_close_meta },
		{ "__tostring", cg_tostring },
		{ NULL, NULL },
	};
	static const luaL_Reg fns[] = {
		{ "cgroup_layout", l_layout },
		{ "cgroup_create", l_create },
		{ "cgroup_devices_resolve", l_dev_resolve },
		{ "cgroup_rmdir_tree", l_rmdir_tree },
		{ "cgroup_find", l_find },
		{ "cgroup_remove", l_remove },
		{ "cgroup_libcgroup_init", l_lcg_init },
		{ "cgroup_libcgroup_mount", l_lcg_mount },
		{ "cgroup_ecg_errno", l_ecg_errno },
		{ "cgroup_libcgroup_create", l_lcg_create },
		{ "cgroup_libcgroup_delete", l_lcg_delete },
		{ "cgroup_libcgroup_attach", l_lcg_attach },
		{ NULL, NULL },
	};

	luaL_newmetatable(L, CGROUP_MT);
	luaL_setfuncs(L, meta, 0);
	luaL_newlib(L, methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_setfuncs(L, fns, 0);
}
