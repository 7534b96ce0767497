/* Binding of caps.c, keyring.c and identity.c: capability names and the
 * plan's `caps`, `session_keyring` and `identity` fields.
 *
 *   plan.caps = nil | { bounding = MASK, permitted = MASK, effective = MASK,
 *                       inheritable = MASK, ambient = MASK }   -- integers, bit n = cap n
 *   plan.session_keyring = "new" (default) | "inherit"
 *   plan.identity = nil | { uid = N, gid = N, clear_groups = bool }  -- ids inside
 *   core.cap_from_name("net_raw") -> 13 | nil
 *   core.cap_name(13) -> "cap_net_raw";  core.cap_last() -> 40
 */
#define _GNU_SOURCE
#include <string.h>

#include "../caps.h"
#include "../identity.h"
#include "../keyring.h"
#include "binding.h"

/* An integer field of the plan sub-table `what` at idx, within [min, max]. */
static lua_Integer read_int(lua_State *L, int idx, const char *what, const char *field, lua_Integer min,
			    lua_Integer max, const char *expected)
{
	lua_Integer v;
	int isnum;

	lua_getfield(L, idx, field);
	v = lua_tointegerx(L, -1, &isnum);
	if (!isnum || v < min || v > max)
		luaL_error(L, "plan.%s.%s: expected %s, got %s", what, field, expected,
			   luaL_tolstring(L, -1, NULL));
	lua_pop(L, 1);
	return v;
}

#define read_mask(L, idx, field)                                                                             \
	((uint64_t)read_int(L, idx, "caps", field, LUA_MININTEGER, LUA_MAXINTEGER, "an integer bit mask"))
#define read_id(L, idx, field)                                                                               \
	((uint32_t)read_int(L, idx, "identity", field, 0, 0xfffffffeLL, "an id from 0 to 4294967294"))

const struct isol_caps *isol_lua_read_caps(lua_State *L, int idx, struct isol_caps *buf)
{
	isol_error err;

	lua_getfield(L, idx, "caps");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return NULL;
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "plan.caps: expected a table, got %s", luaL_typename(L, -1));
	idx = lua_gettop(L);
	buf->bounding = read_mask(L, idx, "bounding");
	buf->permitted = read_mask(L, idx, "permitted");
	buf->effective = read_mask(L, idx, "effective");
	buf->inheritable = read_mask(L, idx, "inheritable");
	buf->ambient = read_mask(L, idx, "ambient");
	lua_pop(L, 1);
	if (isol_caps_check(buf, &err) < 0)
		luaL_error(L, "plan.%s", err.msg);
	return buf;
}

const struct isol_keyring *isol_lua_read_keyring(lua_State *L, int idx, struct isol_keyring *buf)
{
	const char *v = isol_lua_optstring(L, idx, "plan", "session_keyring");

	memset(buf, 0, sizeof *buf);
	if (!v || strcmp(v, "new") == 0) {
		buf->join = 1;
		return buf;
	}
	if (strcmp(v, "inherit") == 0)
		return NULL;
	return (luaL_error(L, "plan.session_keyring: expected \"new\" or \"inherit\", got \"%s\"", v), NULL);
}

const struct isol_identity *isol_lua_read_identity(lua_State *L, int idx, struct isol_identity *buf)
{
	lua_getfield(L, idx, "identity");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return NULL;
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "plan.identity: expected a table, got %s", luaL_typename(L, -1));
	idx = lua_gettop(L);
	memset(buf, 0, sizeof *buf);
	buf->uid = read_id(L, idx, "uid");
	buf->gid = read_id(L, idx, "gid");
	buf->clear_groups = (unsigned)isol_lua_optbool(L, idx, "plan.identity", "clear_groups", 0);
	lua_pop(L, 1);
	return buf;
}

/* core.cap_from_name(name) -> number | nil */
static int l_cap_from_name(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	int c = strlen(s) == len ? isol_cap_from_name(s) : -1;

	if (c < 0)
		lua_pushnil(L);
	else
		lua_pushinteger(L, c);
	return 1;
}

/* core.cap_name(n) -> "cap_chown" */
static int l_cap_name(lua_State *L)
{
	char buf[64];
	lua_Integer n = luaL_checkinteger(L, 1);

	luaL_argcheck(L, n >= 0 && n <= 63, 1, "capability number out of range");
	lua_pushstring(L, isol_cap_name((int)n, buf, sizeof buf));
	return 1;
}

/* core.cap_last() -> highest capability number of this kernel */
static int l_cap_last(lua_State *L)
{
	lua_pushinteger(L, isol_cap_last());
	return 1;
}

void isol_lua_open_caps(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "cap_from_name", l_cap_from_name },
		{ "cap_name", l_cap_name },
		{ "cap_last", l_cap_last },
		{ NULL, NULL },
	};
	luaL_setfuncs(L, fns, 0);
}
