/* core.errno: the errno constants the Lua layer names instead of numbers
 * (luaposix's posix.errno), each guarded so a libc without one still builds. */
#include "binding.h"

#include <errno.h>

/* Declared here, not in binding.h: core.c calls it with a local declaration
 * (this file is the only one that defines it). */
void isol_lua_open_errno(lua_State *L);

void isol_lua_open_errno(lua_State *L)
{
	static const struct {
		const char *name;
		int value;
	} names[] = {
#define E(x) { #x, x },
#ifdef EPERM
		E(EPERM)
#endif
#ifdef ENOENT
			E(ENOENT)
#endif
#ifdef ESRCH
				E(ESRCH)
#endif
#ifdef EINTR
					E(EINTR)
#endif
#ifdef EIO
						E(EIO)
#endif
#ifdef E2BIG
							E(E2BIG)
#endif
#ifdef EBADF
								E(EBADF)
#endif
#ifdef ECHILD
									E(ECHILD)
#endif
#ifdef EAGAIN
										E(EAGAIN)
#endif
#ifdef ENOMEM
											E(ENOMEM)
#endif
#ifdef EACCES
												E(EACCES)
#endif
#ifdef EBUSY
													E(EBUSY)
#endif
#ifdef EEXIST
														E(EEXIST)
#endif
#ifdef ENODEV
															E(ENODEV)
#endif
#ifdef ENOTDIR
																E(ENOTDIR)
#endif
#ifdef EISDIR
																	E(EISDIR)
#endif
#ifdef EINVAL
																		E(EINVAL)
#endif
#ifdef ENOSPC
																			E(ENOSPC)
#endif
#ifdef EROFS
																				E(EROFS)
#endif
#ifdef ERANGE
																					E(ERANGE)
#endif
#ifdef ENOSYS
																						E(ENOSYS)
#endif
#ifdef ENOTEMPTY
																							E(ENOTEMPTY)
#endif
#ifdef ENOTSUP
																								E(ENOTSUP)
#endif
#ifdef EOPNOTSUPP
																									E(EOPNOTSUPP)
#endif
#ifdef ETIMEDOUT
																										E(ETIMEDOUT)
#endif
#ifdef EADDRINUSE
																											E(EADDRINUSE)
#endif
#undef E
	};

	lua_createtable(L, 0, (int)(sizeof names / sizeof names[0]));
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		lua_pushinteger(L, names[i].value);
		lua_setfield(L, -2, names[i].name);
	}
	lua_setfield(L, -2, "errno");
}
