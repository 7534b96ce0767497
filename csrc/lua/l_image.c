/* Binding of the image concern (registered by luaopen_isol_core). */
#include "binding.h"

void isol_lua_open_image(lua_State *L)
{
	(void)L;
}
