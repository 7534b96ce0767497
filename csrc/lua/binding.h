/*
 * Internal interface of the Lua binding (csrc/lua/). Only
 * luaopen_isol_core is exported from the shared object.
 */
#ifndef ISOL_BINDING_H
#define ISOL_BINDING_H

#include <sys/types.h>

#include <lauxlib.h>
#include <lua.h>

#include "../error.h"

/* Push nil, err->msg, err->code and return 3 (luaposix style). */
int isol_lua_fail(lua_State *L, const isol_error *err);
/* Same for a plain errno with context. */
int isol_lua_errno(lua_State *L, int errnum, const char *context);

/* Field readers for plan tables at index idx; raise naming the field on a
 * wrong type. `what` is the table's name in messages ("plan"). */
const char *isol_lua_optstring(lua_State *L, int idx, const char *what, const char *field);
lua_Integer isol_lua_optint(lua_State *L, int idx, const char *what, const char *field, lua_Integer def);
int isol_lua_optbool(lua_State *L, int idx, const char *what, const char *field, int def);

/* Signal argument: a name ("SIGTERM", "term") or a number; raises if bad. */
int isol_lua_checksignal(lua_State *L, int arg);

struct isol_idmap;
/* {{inside, outside, count}, ...} at idx -> out (at most max); raises naming `what`. */
size_t isol_lua_idmap(lua_State *L, int idx, const char *what, struct isol_idmap *out, size_t max);

/* Each concern registers its functions into the module table at -1. */
void isol_lua_open_spawn(lua_State *L);
/* Push an "isol.Process" for a process that is not our child (isol.attach):
 * it takes ownership of pidfd and status_fd (-1: none); closing the handle
 * does not kill the process. */
void isol_lua_push_process(lua_State *L, pid_t pid, int pidfd, int status_fd);
void isol_lua_open_ns(lua_State *L);



/* Filesystem plan (l_mount.c): the value at idx (nil -> NULL) as a plan that
 * stays valid while the value is on the stack; raises on a bad value. */
struct isol_fs_plan;
const struct isol_fs_plan *isol_lua_check_fs_plan(lua_State *L, int idx);
void isol_lua_open_mount(lua_State *L);
void isol_lua_open_image(lua_State *L);
void isol_lua_open_proc(lua_State *L);
void isol_lua_open_cgroup(lua_State *L);
/* l_caps.c: the plan's `caps` (NULL when absent: unchanged) and
 * `session_keyring` (NULL for "inherit") into buf; raise on a bad value. */
struct isol_caps;
struct isol_keyring;
struct isol_identity;
const struct isol_identity *isol_lua_read_identity(lua_State *L, int idx, struct isol_identity *buf);
const struct isol_caps *isol_lua_read_caps(lua_State *L, int idx, struct isol_caps *buf);
const struct isol_keyring *isol_lua_read_keyring(lua_State *L, int idx, struct isol_keyring *buf);
void isol_lua_open_caps(lua_State *L);
/* l_wait.c: monotonic clock, poll, signal catcher (sweep, CLI). */
void isol_lua_open_wait(lua_State *L);
/* l_net.c: the plan's `net` table at idx -> *p (returns 0 when absent);
 * leaves one anchor value on the stack when present. */
struct isol_net_plan;
int isol_lua_read_net(lua_State *L, int idx, struct isol_net_plan *p);
void isol_lua_open_net(lua_State *L);
/* l_pty.c: pseudo-terminals, raw mode, window sizes, the relay pump. */
void isol_lua_open_pty(lua_State *L);
#endif
