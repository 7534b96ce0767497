/* Binding of ns.c: namespaces of the calling process. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../ns.h"
#include "aux.h"
#include "binding.h"

/* core.unshare({"mount", "uts", ...}) -> true | nil, msg, errno */
static int l_unshare(lua_State *L)
{
	int flags = isol_lua_ns_list(L, 1, "namespaces");
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
	pid_t pid = (pid_t)isol_lua_checkrange(L, 1, 0, ISOL_INT_MAX);
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
	int pidfd = (int)isol_lua_checkrange(L, 1, 0, ISOL_INT_MAX);
	int flags = isol_lua_ns_list(L, 2, "namespaces");
	isol_error err;

	if (isol_setns_pidfd(pidfd, flags, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.ns_inode(pid|0, "net") -> inode | nil, msg, errno */
static int l_ns_inode(lua_State *L)
{
	pid_t pid = (pid_t)isol_lua_checkrange(L, 1, 0, ISOL_INT_MAX);
	const char *name = isol_lua_checkpath(L, 2);
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
	const char *h = isol_lua_checkpath(L, 1);

	len = strlen(h);

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
		{ "unshare", l_unshare },
		{ "write_id_maps", l_write_id_maps },
		{ "setns", l_setns },
		{ "ns_inode", l_ns_inode },
		{ "ns_kinds", l_ns_kinds },
		{ "ids", l_ids },
		{ "ns_privileged", l_ns_privileged },
		{ "sethostname", l_sethostname },
		{ "gethostname", l_gethostname },
		{ NULL, NULL },
	};
	luaL_setfuncs(L, fns, 0);
}
