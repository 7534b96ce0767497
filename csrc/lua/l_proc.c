/* Binding of the proc concern (registered by luaopen_isol_core). */
#include "binding.h"

void isol_lua_open_proc(lua_State *L)
{
	(void)L;
}
