/* Shared helpers of the Lua binding: failure returns, checked readers for
 * arguments and plan fields, the status table (see aux.h). */
#include "aux.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "../ns.h"
#include "../pidfd.h"
#include "../procscan.h"

#define SNAPSHOT_DEPTH 32

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

/* Copy the table at idx (memo at `memo`: source -> copy, so that shared
 * and cyclic tables are copied once, never unfolded). */
static void snapshot(lua_State *L, int idx, int memo, const char *what, int depth)
{
	int narr, nall = 0;

	if (depth > SNAPSHOT_DEPTH)
		luaL_error(L, "%s: tables nested deeper than %d levels", what, SNAPSHOT_DEPTH);
	luaL_checkstack(L, 6, what);
	lua_pushvalue(L, idx);
	if (lua_rawget(L, memo) == LUA_TTABLE)
		return;
	lua_pop(L, 1);
	/* sized up front: growing a table key by key rehashes it each time
	 * its size doubles */
	narr = (int)lua_rawlen(L, idx);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		nall++;
		lua_pop(L, 1);
	}
	lua_createtable(L, narr, nall > narr ? nall - narr : 0);
	lua_pushvalue(L, idx);
	lua_pushvalue(L, -2);
	lua_rawset(L, memo);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -1) == LUA_TTABLE) {
			int sub = lua_gettop(L);
			snapshot(L, sub, memo, what, depth + 1);
			lua_replace(L, sub);
		}
		lua_pushvalue(L, -2); /* key */
		lua_insert(L, -2);
		lua_rawset(L, -4);
	}
}

void isol_lua_snapshot(lua_State *L, int idx, const char *what)
{
	int memo;

	idx = lua_absindex(L, idx);
	luaL_checktype(L, idx, LUA_TTABLE);
	lua_createtable(L, 0, 8);
	memo = lua_gettop(L);
	snapshot(L, idx, memo, what, 0);
	lua_remove(L, memo);
}

const char *isol_lua_tostr(lua_State *L, int idx, const char *what)
{
	size_t len;
	const char *s;

	if (lua_type(L, idx) != LUA_TSTRING)
		luaL_error(L, "%s: expected string, got %s", what, luaL_typename(L, idx));
	s = lua_tolstring(L, idx, &len);
	if (strlen(s) != len)
		luaL_error(L, "%s: contains a NUL byte", what);
	return s;
}

/* The number at idx as an integer in [min, max], or why not (NULL: ok).
 * Function arguments also take numeric strings, as luaL_checkinteger does;
 * plan fields take numbers only. */
static const char *int_problem(lua_State *L, int idx, lua_Integer min, lua_Integer max, lua_Integer *out,
			       int strings)
{
	int isnum;
	lua_Integer v;

	if (lua_type(L, idx) != LUA_TNUMBER && !(strings && lua_type(L, idx) == LUA_TSTRING))
		return "expected integer";
	v = lua_tointegerx(L, idx, &isnum);
	if (!isnum)
		return "expected integer (no fraction, within 64 bits)";
	if (v < min || v > max)
		return "out of range";
	*out = v;
	return NULL;
}

/* The value at idx for an error message: a number, a quoted string (its
 * first 40 bytes), or a type name. */
static const char *shown(lua_State *L, int idx)
{
	size_t len;
	const char *s;

	if (lua_type(L, idx) == LUA_TNUMBER)
		return luaL_tolstring(L, idx, NULL);
	if (lua_type(L, idx) != LUA_TSTRING)
		return luaL_typename(L, idx);
	s = lua_tolstring(L, idx, &len);
	lua_pushlstring(L, s, len > 40 ? 40 : len);
	return lua_pushfstring(L, "\"%s\"%s", lua_tostring(L, -1), len > 40 ? "..." : "");
}

static int int_error(lua_State *L, int idx, const char *what, const char *why, lua_Integer min,
		     lua_Integer max)
{
	const char *shown_value = shown(L, idx);
	return luaL_error(L, "%s: %s [%I, %I], got %s", what, why, (LUAI_UACINT)min, (LUAI_UACINT)max,
			  shown_value);
}

lua_Integer isol_lua_toint(lua_State *L, int idx, const char *what, lua_Integer min, lua_Integer max)
{
	lua_Integer v = 0;
	const char *why;

	idx = lua_absindex(L, idx);
	why = int_problem(L, idx, min, max, &v, 0);
	if (why)
		int_error(L, idx, what, why, min, max);
	return v;
}

const char *isol_lua_tostrf(lua_State *L, int idx, const char *fmt, ...)
{
	size_t len;
	const char *s;
	va_list ap;

	if (lua_type(L, idx) == LUA_TSTRING) {
		s = lua_tolstring(L, idx, &len);
		if (strlen(s) == len)
			return s;
	}
	idx = lua_absindex(L, idx);
	va_start(ap, fmt);
	lua_pushvfstring(L, fmt, ap);
	va_end(ap);
	return isol_lua_tostr(L, idx, lua_tostring(L, -1)); /* raises */
}

lua_Integer isol_lua_tointf(lua_State *L, int idx, lua_Integer min, lua_Integer max, const char *fmt, ...)
{
	lua_Integer v = 0;
	const char *why;
	va_list ap;

	idx = lua_absindex(L, idx);
	why = int_problem(L, idx, min, max, &v, 0);
	if (!why)
		return v;
	va_start(ap, fmt);
	lua_pushvfstring(L, fmt, ap);
	va_end(ap);
	return int_error(L, idx, lua_tostring(L, -1), why, min, max);
}

const char *isol_lua_optstring(lua_State *L, int idx, const char *what, const char *field)
{
	const char *s = NULL;

	lua_getfield(L, idx, field);
	if (!lua_isnil(L, -1))
		s = isol_lua_tostrf(L, -1, "%s.%s", what, field);
	lua_pop(L, 1); /* s stays anchored by the table at idx */
	return s;
}

lua_Integer isol_lua_optint_in(lua_State *L, int idx, const char *what, const char *field, lua_Integer def,
			       lua_Integer min, lua_Integer max)
{
	lua_Integer v = def;

	lua_getfield(L, idx, field);
	if (!lua_isnil(L, -1))
		v = isol_lua_tointf(L, -1, min, max, "%s.%s", what, field);
	lua_pop(L, 1);
	return v;
}

lua_Integer isol_lua_optint(lua_State *L, int idx, const char *what, const char *field, lua_Integer def)
{
	return isol_lua_optint_in(L, idx, what, field, def, LUA_MININTEGER, LUA_MAXINTEGER);
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

const char *isol_lua_checkpath(lua_State *L, int arg)
{
	size_t len;
	const char *s = luaL_checklstring(L, arg, &len);

	if (strlen(s) != len)
		luaL_argerror(L, arg, "contains a NUL byte");
	return s;
}

const char *isol_lua_optpath(lua_State *L, int arg, const char *def)
{
	return lua_isnoneornil(L, arg) ? def : isol_lua_checkpath(L, arg);
}

lua_Integer isol_lua_checkrange(lua_State *L, int arg, lua_Integer min, lua_Integer max)
{
	lua_Integer v = 0;
	const char *why = int_problem(L, arg, min, max, &v, 1);

	if (why) {
		if (lua_type(L, arg) != LUA_TNUMBER && lua_type(L, arg) != LUA_TSTRING)
			luaL_checkinteger(L, arg); /* the standard message for a wrong type */
		luaL_argerror(L, arg,
			      lua_pushfstring(L, "%s [%I, %I], got %s", why, (LUAI_UACINT)min,
					      (LUAI_UACINT)max, shown(L, arg)));
	}
	return v;
}

lua_Integer isol_lua_optrange(lua_State *L, int arg, lua_Integer def, lua_Integer min, lua_Integer max)
{
	return lua_isnoneornil(L, arg) ? def : isol_lua_checkrange(L, arg, min, max);
}

int isol_lua_checksignal(lua_State *L, int arg)
{
	if (lua_type(L, arg) == LUA_TNUMBER)
		return (int)isol_lua_checkrange(L, arg, 0, 64);
	const char *name = isol_lua_checkpath(L, arg);
	int s = isol_signal_number(name);
	if (!s)
		return luaL_argerror(L, arg, lua_pushfstring(L, "unknown signal \"%s\"", name));
	return s;
}

int isol_lua_ns_list(lua_State *L, int idx, const char *what)
{
	int flags = 0;
	lua_Integer n;

	idx = lua_absindex(L, idx);
	if (!lua_istable(L, idx))
		luaL_error(L, "%s: expected a list of namespace names, got %s", what, luaL_typename(L, idx));
	n = (lua_Integer)lua_rawlen(L, idx);
	for (lua_Integer i = 1; i <= n; i++) {
		const char *name;
		int f;
		lua_rawgeti(L, idx, i);
		name = isol_lua_tostrf(L, -1, "%s[%I]", what, (LUAI_UACINT)i);
		f = isol_ns_flag(name);
		if (!f)
			luaL_error(L, "%s[%I]: unknown namespace \"%s\"", what, (LUAI_UACINT)i, name);
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
	idx = lua_absindex(L, idx);
	if (!lua_istable(L, idx))
		luaL_error(L, "%s: expected a list of {inside, outside, count}, got %s", what,
			   luaL_typename(L, idx));
	n = lua_rawlen(L, idx);
	if (n > max)
		luaL_error(L, "%s: at most %d ranges", what, (int)max);
	for (size_t i = 0; i < n; i++) {
		lua_Integer v[3];
		lua_rawgeti(L, idx, (lua_Integer)i + 1);
		if (!lua_istable(L, -1))
			luaL_error(L, "%s[%d]: expected {inside, outside, count}", what, (int)i + 1);
		for (int j = 0; j < 3; j++) {
			lua_rawgeti(L, -1, j + 1);
			v[j] = isol_lua_tointf(L, -1, 0, 0xffffffffLL, "%s[%d][%d]", what, (int)i + 1, j + 1);
			lua_pop(L, 1);
		}
		out[i].inside = (uint32_t)v[0];
		out[i].outside = (uint32_t)v[1];
		out[i].count = (uint32_t)v[2];
		lua_pop(L, 1);
	}
	return n;
}

void isol_lua_push_status(lua_State *L, const struct isol_wait *w)
{
	lua_createtable(L, 0, 3);
	if (w->exited) {
		lua_pushinteger(L, w->code);
		lua_setfield(L, -2, "code");
	} else {
		const char *n = isol_signal_name(w->signal);
		if (n)
			lua_pushstring(L, n);
		else
			lua_pushfstring(L, "SIG%d", w->signal);
		lua_setfield(L, -2, "signal");
		lua_pushinteger(L, w->signal);
		lua_setfield(L, -2, "signo");
		if (w->core) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, "core");
		}
	}
	if (w->timeout) /* isol's init ended the sandbox at plan.timeout_ms */
		lua_pushboolean(L, 1), lua_setfield(L, -2, "timeout");
}
