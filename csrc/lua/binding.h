/*
 * The binding's modules (csrc/lua/l_*.c), each registering its functions
 * into the module table at -1; luaopen_isol_core (core.c) calls them, and
 * is the only symbol exported from the shared object. Helpers shared by the
 * modules are in aux.h; no module calls core.c.
 */
#ifndef ISOL_BINDING_H
#define ISOL_BINDING_H

#include <lua.h>

#include "aux.h"

void isol_lua_open_ns(lua_State *L);
void isol_lua_open_process(lua_State *L);
void isol_lua_open_spawn(lua_State *L);
void isol_lua_open_mount(lua_State *L);
void isol_lua_open_image(lua_State *L);
void isol_lua_open_proc(lua_State *L);
void isol_lua_open_cgroup(lua_State *L);
/* l_errno.c: core.errno, the errno constants this system has */
void isol_lua_open_errno(lua_State *L);
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
/* l_file.c: symlink, lstat */
void isol_lua_open_file(lua_State *L);

/* Filesystem plan (l_mount.c): the table at idx (nil -> NULL) as a plan
 * that stays valid while that table is alive and unchanged (a snapshot);
 * raises naming the field on a bad value. */
struct isol_fs_plan;
const struct isol_fs_plan *isol_lua_check_fs_plan(lua_State *L, int idx);
/* The same for `plan.fs` as core.spawn takes it: nil, a table (checked as
 * above), or an isol.FsPlan from core.fs_plan (already checked; it anchors
 * its own strings). */
const struct isol_fs_plan *isol_lua_to_fs_plan(lua_State *L, int idx);
/* l_pty.c: pseudo-terminals, raw mode, window sizes, the relay pump. */
void isol_lua_open_pty(lua_State *L);
#endif
