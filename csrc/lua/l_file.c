/* Small filesystem calls for the Lua layer (OCI bundles, state files):
 * symlink and lstat, checked like every string from Lua (no NUL bytes). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binding.h"

static const char *check_path(lua_State *L, int arg)
{
	size_t len;
	const char *s = luaL_checklstring(L, arg, &len);

	if (len == 0 || strlen(s) != len)
		luaL_argerror(L, arg, len ? "path contains a NUL byte" : "empty path");
	return s;
}

/* core.symlink(target, linkpath) -> true | nil, msg, errno */
static int l_symlink(lua_State *L)
{
	const char *target = check_path(L, 1), *link = check_path(L, 2);

	if (symlink(target, link) < 0)
		return isol_lua_errno(L, errno, link);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.lstat(path) -> "file"|"dir"|"link"|"other" | nil, msg, errno */
static int l_lstat(lua_State *L)
{
	const char *path = check_path(L, 1);
	struct stat st;

	if (lstat(path, &st) < 0)
		return isol_lua_errno(L, errno, path);
	lua_pushstring(L, S_ISREG(st.st_mode)   ? "file"
			  : S_ISDIR(st.st_mode) ? "dir"
			  : S_ISLNK(st.st_mode) ? "link"
						: "other");
	return 1;
}

void isol_lua_open_file(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "symlink", l_symlink },
		{ "lstat", l_lstat },
		{ NULL, NULL },
	};
	luaL_setfuncs(L, fns, 0);
}
