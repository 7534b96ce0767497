/* Binding of mount.c. Placeholder until the filesystem issue lands:
 * a plan with filesystem steps is refused clearly. */
#include "binding.h"

const struct isol_fs_plan *isol_lua_check_fs_plan(lua_State *L, int idx)
{
	if (lua_isnoneornil(L, idx))
		return NULL;
	luaL_error(L, "plan.fs: filesystem steps are not supported by this build");
	return NULL;
}

void isol_lua_open_mount(lua_State *L)
{
	(void)L;
}
