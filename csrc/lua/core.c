/* luaopen_isol_core, the only exported symbol of isol/core.so: registers
 * each module of the binding (binding.h) and the version. */
#include <lauxlib.h>

#include "binding.h"
#include "l_policy.h"

#define ISOL_CORE_VERSION "0.1.0"

__attribute__((visibility("default"))) int luaopen_isol_core(lua_State *L);

int luaopen_isol_core(lua_State *L)
{
	lua_newtable(L);
	lua_pushliteral(L, ISOL_CORE_VERSION);
	lua_setfield(L, -2, "_VERSION");
	isol_lua_open_ns(L);
	isol_lua_open_process(L);
	isol_lua_open_spawn(L);
	isol_lua_open_mount(L);
	isol_lua_open_image(L);
	isol_lua_open_proc(L);
	isol_lua_open_cgroup(L);
	isol_lua_open_wait(L);
	isol_lua_open_errno(L);
	isol_lua_open_caps(L);
	isol_lua_open_net(L);
	isol_lua_open_policy(L);
	isol_lua_open_file(L);
	isol_lua_open_pty(L);
	return 1;
}
