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
/* l_wait.c: monotonic clock, poll, signal catcher (sweep, CLI). */
void isol_lua_open_wait(lua_State *L);

/* Filesystem plan (l_mount.c): the table at idx (nil -> NULL) as a plan
 * that stays valid while that table is alive and unchanged (a snapshot);
 * raises naming the field on a bad value. */
struct isol_fs_plan;
const struct isol_fs_plan *isol_lua_check_fs_plan(lua_State *L, int idx);
#endif
