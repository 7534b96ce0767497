/* luaopen_isol_core: the only exported symbol of isol/core.so. */
#include "binding.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "../proc.h"

#define ISOL_CORE_VERSION "0.1.0"

int isol_lua_fail(lua_State *L, const isol_error *err)
{
	int code = err->code; /* copy before the stack can run anything */

	lua_pushnil(L);
	lua_pushstring(L, err->msg[0] ? err->msg : strerror(code));
	lua_pushinteger(L, code);
	return 3;
}

int isol_lua_errno(lua_State *L, int errnum, const char *context)
{
	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", context, strerror(errnum));
	lua_pushinteger(L, errnum);
	return 3;
}

const char *isol_lua_optstring(lua_State *L, int idx, const char *what, const char *field)
{
	const char *s = NULL;

	lua_getfield(L, idx, field);
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "%s.%s: expected string, got %s", what, field, luaL_typename(L, -1));
		s = lua_tostring(L, -1); /* anchored by the table at idx */
	}
	lua_pop(L, 1);
	return s;
}

lua_Integer isol_lua_optint(lua_State *L, int idx, const char *what, const char *field, lua_Integer def)
{
	lua_Integer v = def;
	int isnum;

	lua_getfield(L, idx, field);
	if (!lua_isnil(L, -1)) {
		v = lua_tointegerx(L, -1, &isnum);
		if (!isnum)
			luaL_error(L, "%s.%s: expected integer, got %s", what, field, luaL_typename(L, -1));
	}
	lua_pop(L, 1);
	return v;
}

int isol_lua_optbool(lua_State *L, int idx, const char *what, const char *field, int def)
{
	int v = def;

	lua_getfield(L, idx, field);
	if (!lua_isnil(L, -1)) {
		if (!lua_isboolean(L, -1))
			luaL_error(L, "%s.%s: expected boolean, got %s", what, field, luaL_typename(L, -1));
		v = lua_toboolean(L, -1);
	}
	lua_pop(L, 1);
	return v;
}

int isol_lua_checksignal(lua_State *L, int arg)
{
	if (lua_type(L, arg) == LUA_TNUMBER) {
		lua_Integer s = luaL_checkinteger(L, arg);
		if (s < 0 || s >= 65)
			return luaL_argerror(L, arg, lua_pushfstring(L, "signal %d out of range", (int)s));
		return (int)s;
	} else {
		const char *name = luaL_checkstring(L, arg);
		int s = isol_signal_number(name);
		if (!s)
			return luaL_argerror(L, arg, lua_pushfstring(L, "unknown signal \"%s\"", name));
		return s;
	}
}

static int l_signum(lua_State *L)
{
	lua_pushinteger(L, isol_lua_checksignal(L, 1));
	return 1;
}

static int l_signame(lua_State *L)
{
	const char *n = isol_signal_name((int)luaL_checkinteger(L, 1));
	if (n)
		lua_pushstring(L, n);
	else
		lua_pushnil(L);
	return 1;
}

/* core.now() -> seconds (float) on CLOCK_MONOTONIC, for timing. */
static int l_now(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

__attribute__((visibility("default"))) int luaopen_isol_core(lua_State *L);

int luaopen_isol_core(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "signum", l_signum },
		{ "signame", l_signame },
		{ "now", l_now },
		{ NULL, NULL },
	};

	luaL_newlib(L, fns);
	lua_pushliteral(L, ISOL_CORE_VERSION);
	lua_setfield(L, -2, "_VERSION");
	isol_lua_open_ns(L);
	isol_lua_open_spawn(L);
	isol_lua_open_mount(L);
	isol_lua_open_image(L);
	isol_lua_open_proc(L);
	isol_lua_open_cgroup(L);
	isol_lua_open_wait(L);
	{ void isol_lua_open_errno(lua_State *); isol_lua_open_errno(L); } /* l_errno.c */
	isol_lua_open_caps(L);
	isol_lua_open_net(L);
	isol_lua_open_pty(L);
	return 1;
}
