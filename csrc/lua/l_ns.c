/* Binding of ns.c: namespaces of the calling process. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../ns.h"
#include "binding.h"

/* A list of namespace names at arg -> CLONE_* flags; raises on unknown names. */
static int check_ns_list(lua_State *L, int arg)
{
	int flags = 0;
	lua_Integer n;

	luaL_checktype(L, arg, LUA_TTABLE);
	n = (lua_Integer)lua_rawlen(L, arg);
	for (lua_Integer i = 1; i <= n; i++) {
		int f;
		lua_rawgeti(L, arg, i);
		if (lua_type(L, -1) != LUA_TSTRING)
			return luaL_error(L, "namespaces[%d]: expected string, got %s", (int)i, luaL_typename(L, -1));
		f = isol_ns_flag(lua_tostring(L, -1));
		if (!f)
			return luaL_error(L, "namespaces[%d]: unknown namespace \"%s\"", (int)i, lua_tostring(L, -1));
		flags |= f;
		lua_pop(L, 1);
	}
	return flags;
}

size_t isol_lua_idmap(lua_State *L, int idx, const char *what, struct isol_idmap *out, size_t max)
{
	size_t n;

	if (lua_isnoneornil(L, idx))
		return 0;
	luaL_checktype(L, idx, LUA_TTABLE);
	n = lua_rawlen(L, idx);
	if (n > max)
		luaL_error(L, "%s: at most %d ranges", what, (int)max);
	for (size_t i = 0; i < n; i++) {
		lua_Integer v[3];
		lua_rawgeti(L, idx, (lua_Integer)i + 1);
		if (!lua_istable(L, -1))
			luaL_error(L, "%s[%d]: expected {inside, outside, count}", what, (int)i + 1);
		for (int j = 0; j < 3; j++) {
			int isnum;
			lua_rawgeti(L, -1, j + 1);
			v[j] = lua_tointegerx(L, -1, &isnum);
			if (!isnum || v[j] < 0 || v[j] > 0xffffffffLL)
				luaL_error(L, "%s[%d][%d]: expected an id (0..4294967295)", what, (int)i + 1, j + 1);
			lua_pop(L, 1);
		}
		out[i].inside = (uint32_t)v[0];
		out[i].outside = (uint32_t)v[1];
		out[i].count = (uint32_t)v[2];
		lua_pop(L, 1);
	}
	return n;
}

/* core.unshare({"mount", "uts", ...}) -> true | nil, msg, errno */
static int l_unshare(lua_State *L)
{
	int flags = check_ns_list(L, 1);
	isol_error err;

	if (isol_unshare(flags, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.write_id_maps(pid, uid_map, gid_map, setgroups_deny) */
static int l_write_id_maps(lua_State *L)
{
	struct isol_idmap u[32], g[32];
	pid_t pid = (pid_t)luaL_checkinteger(L, 1);
	size_t nu = isol_lua_idmap(L, 2, "uid_map", u, 32);
	size_t ng = isol_lua_idmap(L, 3, "gid_map", g, 32);
	int deny = lua_toboolean(L, 4);
	isol_error err;

	if (isol_write_id_maps(pid, u, nu, g, ng, deny, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.setns(pidfd, {"net", ...}) */
static int l_setns(lua_State *L)
{
	int pidfd = (int)luaL_checkinteger(L, 1);
	int flags = check_ns_list(L, 2);
	isol_error err;

	if (isol_setns_pidfd(pidfd, flags, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.ns_inode(pid|0, "net") -> inode | nil, msg, errno */
static int l_ns_inode(lua_State *L)
{
	pid_t pid = (pid_t)luaL_checkinteger(L, 1);
	const char *name = luaL_checkstring(L, 2);
	const char *procname = NULL;
	isol_error err;
	uint64_t ino;

	for (const struct isol_ns_kind *k = isol_ns_kinds; k->name; k++)
		if (strcmp(k->name, name) == 0 || strcmp(k->procname, name) == 0)
			procname = k->procname;
	if (!procname)
		return luaL_argerror(L, 2, lua_pushfstring(L, "unknown namespace \"%s\"", name));
	ino = isol_ns_inode(pid, procname, &err);
	if (!ino)
		return isol_lua_fail(L, &err);
	lua_pushinteger(L, (lua_Integer)ino);
	return 1;
}

/* core.ns_kinds() -> { {name=, procname=, flag=}, ... } */
static int l_ns_kinds(lua_State *L)
{
	int i = 0;

	lua_newtable(L);
	for (const struct isol_ns_kind *k = isol_ns_kinds; k->name; k++) {
		lua_createtable(L, 0, 3);
		lua_pushstring(L, k->name);
		lua_setfield(L, -2, "name");
		lua_pushstring(L, k->procname);
		lua_setfield(L, -2, "procname");
		lua_pushinteger(L, k->flag);
		lua_setfield(L, -2, "flag");
		lua_rawseti(L, -2, ++i);
	}
	return 1;
}

/* core.ids() -> uid, gid, euid, egid, pid */
static int l_ids(lua_State *L)
{
	lua_pushinteger(L, getuid());
	lua_pushinteger(L, getgid());
	lua_pushinteger(L, geteuid());
	lua_pushinteger(L, getegid());
	lua_pushinteger(L, getpid());
	return 5;
}

/* core.ns_privileged() -> true when the caller may create namespaces other
 * than "user" itself (CAP_SYS_ADMIN in its user namespace) */
static int l_ns_privileged(lua_State *L)
{
	lua_pushboolean(L, isol_ns_privileged());
	return 1;
}

static int l_sethostname(lua_State *L)
{
	size_t len;
	const char *h = luaL_checklstring(L, 1, &len);

	if (sethostname(h, len) < 0) {
		isol_error err;
		isol_fail(&err, errno, "sethostname %s", h);
		return isol_lua_fail(L, &err);
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int l_gethostname(lua_State *L)
{
	char buf[256];

	if (gethostname(buf, sizeof buf) < 0)
		return isol_lua_errno(L, errno, "gethostname");
	buf[sizeof buf - 1] = '\0';
	lua_pushstring(L, buf);
	return 1;
}

void isol_lua_open_ns(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "unshare", l_unshare },     { "write_id_maps", l_write_id_maps },
		{ "setns", l_setns },         { "ns_inode", l_ns_inode },
		{ "ns_kinds", l_ns_kinds },   { "ids", l_ids },
		{ "ns_privileged", l_ns_privileged },
		{ "sethostname", l_sethostname }, { "gethostname", l_gethostname },
		{ NULL, NULL },
	};
	luaL_setfuncs(L, fns, 0);
}
