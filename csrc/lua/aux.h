/*
 * Shared helpers of the Lua binding (csrc/lua/): failure returns, checked
 * readers for arguments and plan fields, and the wait-status table. Every
 * l_*.c file uses these; this file calls none of them back.
 *
 * Readers raise (luaL_error) naming the field and the value for a wrong
 * type, a NUL byte in a string, or an integer out of range: nothing is ever
 * truncated. Strings returned by the opt* readers point into the table at
 * idx: read from a snapshot (isol_lua_snapshot), which anchors them.
 */
#ifndef ISOL_LUA_AUX_H
#define ISOL_LUA_AUX_H

#include <lauxlib.h>
#include <lua.h>

#include "../error.h"

struct isol_wait;
struct isol_idmap;

/* Push nil, err->msg, err->code and return 3 (luaposix style). */
int isol_lua_fail(lua_State *L, const isol_error *err);
/* Same for a plain errno with context. */
int isol_lua_errno(lua_State *L, int errnum, const char *context);

/* A plain copy of the table at idx, pushed on the stack: read raw (no
 * __index, __len or __pairs runs), each field once, nested tables copied
 * too (deeper than 32 levels raises naming `what`). Readers then see values
 * that cannot change under them, and the copy anchors every string until
 * it is popped. */
void isol_lua_snapshot(lua_State *L, int idx, const char *what);

/* Field readers for the table at idx; raise naming `what`.`field`.
 * optstring: NUL bytes rejected. optint_in: an integer in [min, max] (floats
 * with a fraction, 2^63 and beyond rejected). */
const char *isol_lua_optstring(lua_State *L, int idx, const char *what, const char *field);
lua_Integer isol_lua_optint_in(lua_State *L, int idx, const char *what, const char *field, lua_Integer def,
			       lua_Integer min, lua_Integer max);
/* Any 64-bit integer (callers that check the range themselves). */
lua_Integer isol_lua_optint(lua_State *L, int idx, const char *what, const char *field, lua_Integer def);
int isol_lua_optbool(lua_State *L, int idx, const char *what, const char *field, int def);

/* The value at idx (stack or argument) as a string without NUL bytes /
 * an integer in [min, max]; `what` names it in the error. */
const char *isol_lua_tostr(lua_State *L, int idx, const char *what);
lua_Integer isol_lua_toint(lua_State *L, int idx, const char *what, lua_Integer min, lua_Integer max);
/* The same with `what` as a lua_pushfstring format, made only for the
 * error: plan readers check every field and list element of every spawn. */
const char *isol_lua_tostrf(lua_State *L, int idx, const char *fmt, ...);
lua_Integer isol_lua_tointf(lua_State *L, int idx, lua_Integer min, lua_Integer max, const char *fmt, ...);
/* Function arguments: luaL_check* plus the checks above (argerror). */
const char *isol_lua_checkpath(lua_State *L, int arg);
const char *isol_lua_optpath(lua_State *L, int arg, const char *def);
lua_Integer isol_lua_checkrange(lua_State *L, int arg, lua_Integer min, lua_Integer max);
lua_Integer isol_lua_optrange(lua_State *L, int arg, lua_Integer def, lua_Integer min, lua_Integer max);
#define ISOL_INT_MAX 0x7fffffffLL

/* Signal argument: a name ("SIGTERM", "term") or a number; raises if bad. */
int isol_lua_checksignal(lua_State *L, int arg);

/* A list of namespace names at idx -> CLONE_* flags; raises naming
 * what[i] for a non-string or unknown name. */
int isol_lua_ns_list(lua_State *L, int idx, const char *what);

/* {{inside, outside, count}, ...} at idx -> out (at most max); raises naming `what`. */
size_t isol_lua_idmap(lua_State *L, int idx, const char *what, struct isol_idmap *out, size_t max);

/* The status table of a reaped process: {code=} or {signal=, signo=, core=}. */
void isol_lua_push_status(lua_State *L, const struct isol_wait *w);

#endif
