/* Binding of the cgroup concern (registered by luaopen_isol_core). */
#include "binding.h"

void isol_lua_open_cgroup(lua_State *L)
{
	(void)L;
}
