/*
 * Binding of pty.c: pseudo-terminals (metatable "isol.Pty"), the caller's
 * terminal in raw mode ("isol.TerminalMode"), window sizes and the byte
 * pump that relays between a terminal and a pty master (`isol run -t`).
 *
 * core.pty_open([{rows=, cols=}]) -> isol.Pty, or nil, msg, errno
 *     pty:master(), pty:slave() -> fd (nil once closed); pty:close_slave();
 *     pty:set_winsize(rows, cols); pty:winsize() -> rows, cols;
 *     pty:write(s) (to the master: the command's input), pty:write_some(s)
 *     -> bytes taken now (0: its input queue is full); pty:close()
 *     (idempotent: __gc, __close).
 * core.tty_raw(fd) -> isol.TerminalMode (the settings it replaced), or nil,
 *     msg, errno (ENOTTY); mode:restore() (idempotent: __gc, __close).
 * core.tty_winsize(fd) -> rows, cols, or nil, msg, errno.
 * core.fd_pump(from, to) -> bytes moved (0: end of input), false when
 *     nothing was ready, or nil, msg, errno.
 * core.fd_write(fd, s) -> true (all of s written), or nil, msg, errno.
 * core.fd_read(fd [, max]) -> string ("" at end of input), false when
 *     nothing was ready, or nil, msg, errno.
 */
#include "binding.h"

#include <errno.h>
#include <unistd.h>

#include "../pty.h"

#define PTY_MT "isol.Pty"
#define MODE_MT "isol.TerminalMode"

typedef struct {
	int fd; /* -1 once restored */
	struct termios saved;
} tmode;

static struct isol_pty *check_pty(lua_State *L)
{
	return (struct isol_pty *)luaL_checkudata(L, 1, PTY_MT);
}

static unsigned short check_dim(lua_State *L, lua_Integer v, const char *what)
{
	if (v < 0 || v > 65535)
		luaL_error(L, "%s: expected 0 to 65535, got %d", what, (int)v);
	return (unsigned short)v;
}

static int check_fd(lua_State *L, int arg)
{
	lua_Integer fd = luaL_checkinteger(L, arg);

	if (fd < 0 || fd > 0x7fffffff)
		return luaL_argerror(L, arg, "expected a file descriptor");
	return (int)fd;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static int pty_close(lua_State *L)
{
	struct isol_pty *p = check_pty(L);

	close_fd(&p->slave);
	close_fd(&p->master);
	return 0;
}

static int pty_close_slave(lua_State *L)
{
	close_fd(&check_pty(L)->slave);
	return 0;
}

static int push_fd(lua_State *L, int fd)
{
	if (fd < 0)
		return 0;
	lua_pushinteger(L, fd);
	return 1;
}

static int pty_master(lua_State *L)
{
	return push_fd(L, check_pty(L)->master);
}

static int pty_slave(lua_State *L)
{
	return push_fd(L, check_pty(L)->slave);
}

static int pty_set_winsize(lua_State *L)
{
	struct isol_pty *p = check_pty(L);
	struct winsize ws = { 0 };
	isol_error err;

	ws.ws_row = check_dim(L, luaL_checkinteger(L, 2), "rows");
	ws.ws_col = check_dim(L, luaL_checkinteger(L, 3), "cols");
	if (p->master < 0)
		return luaL_error(L, "pty is closed");
	if (isol_tty_set_winsize(p->master, &ws, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

static int push_winsize(lua_State *L, int fd)
{
	struct winsize ws;
	isol_error err;

	if (isol_tty_get_winsize(fd, &ws, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushinteger(L, ws.ws_row);
	lua_pushinteger(L, ws.ws_col);
	return 2;
}

static int pty_winsize(lua_State *L)
{
	struct isol_pty *p = check_pty(L);

	if (p->master < 0)
		return luaL_error(L, "pty is closed");
	return push_winsize(L, p->master);
}

static int pty_write(lua_State *L)
{
	struct isol_pty *p = check_pty(L);
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	isol_error err;

	if (p->master < 0)
		return luaL_error(L, "pty is closed");
	if (isol_fd_write_all(p->master, s, len, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

/* pty:write_some(s) -> bytes the pty took now (0 when its input queue is
 * full): the relay keeps the rest instead of blocking. */
static int pty_write_some(lua_State *L)
{
	struct isol_pty *p = check_pty(L);
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	isol_error err;
	ssize_t n;

	if (p->master < 0)
		return luaL_error(L, "pty is closed");
	n = isol_fd_write_some(p->master, s, len, &err);
	if (n < 0)
		return isol_lua_fail(L, &err);
	lua_pushinteger(L, (lua_Integer)n);
	return 1;
}

static int pty_tostring(lua_State *L)
{
	struct isol_pty *p = check_pty(L);

	if (p->master < 0)
		lua_pushliteral(L, "isol.Pty (closed)");
	else
		lua_pushfstring(L, "isol.Pty (master fd %d)", p->master);
	return 1;
}

static int l_pty_open(lua_State *L)
{
	struct winsize ws = { 0 }, *wsp = NULL;
	struct isol_pty *p;
	isol_error err;

	if (!lua_isnoneornil(L, 1)) {
		luaL_checktype(L, 1, LUA_TTABLE);
		ws.ws_row = check_dim(L, isol_lua_optint(L, 1, "pty_open", "rows", 24), "pty_open.rows");
		ws.ws_col = check_dim(L, isol_lua_optint(L, 1, "pty_open", "cols", 80), "pty_open.cols");
		wsp = &ws;
	}
	/* the handle exists, closed, before the fds (liolib style) */
	p = (struct isol_pty *)lua_newuserdatauv(L, sizeof *p, 0);
	p->master = p->slave = -1;
	luaL_setmetatable(L, PTY_MT);
	if (isol_pty_open(p, wsp, &err) < 0)
		return isol_lua_fail(L, &err);
	return 1;
}

static tmode *check_mode(lua_State *L)
{
	return (tmode *)luaL_checkudata(L, 1, MODE_MT);
}

static int mode_restore(lua_State *L)
{
	tmode *m = check_mode(L);
	isol_error err;
	int fd = m->fd;

	if (fd < 0)
		return 0;
	m->fd = -1;
	if (isol_tty_restore(fd, &m->saved, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

static int mode_gc(lua_State *L)
{
	tmode *m = check_mode(L);
	isol_error err;

	if (m->fd >= 0)
		isol_tty_restore(m->fd, &m->saved, &err);
	m->fd = -1;
	return 0;
}

static int l_tty_raw(lua_State *L)
{
	int fd = check_fd(L, 1);
	isol_error err;
	tmode *m = (tmode *)lua_newuserdatauv(L, sizeof *m, 0);

	m->fd = -1;
	luaL_setmetatable(L, MODE_MT);
	if (isol_tty_make_raw(fd, &m->saved, &err) < 0)
		return isol_lua_fail(L, &err);
	m->fd = fd;
	return 1;
}

static int l_tty_winsize(lua_State *L)
{
	return push_winsize(L, check_fd(L, 1));
}

static int l_fd_pump(lua_State *L)
{
	int from = check_fd(L, 1), to = check_fd(L, 2);
	isol_error err;
	ssize_t n = isol_fd_pump(from, to, &err);

	if (n == -EAGAIN) {
		lua_pushboolean(L, 0);
		return 1;
	}
	if (n < 0)
		return isol_lua_fail(L, &err);
	lua_pushinteger(L, (lua_Integer)n);
	return 1;
}

/* core.fd_read(fd [, max]) -> string ("" at end of input), false when
 * nothing was ready, or nil, msg, errno. */
static int l_fd_read(lua_State *L)
{
	int fd = check_fd(L, 1);
	lua_Integer max = luaL_optinteger(L, 2, 65536);
	isol_error err;
	luaL_Buffer b;
	char *buf;
	ssize_t n;

	if (max < 1 || max > 1048576)
		return luaL_argerror(L, 2, "expected 1 to 1048576 bytes");
	buf = luaL_buffinitsize(L, &b, (size_t)max);
	n = isol_fd_read(fd, buf, (size_t)max, &err);
	if (n == -EAGAIN) {
		lua_pushboolean(L, 0);
		return 1;
	}
	if (n < 0)
		return isol_lua_fail(L, &err);
	luaL_pushresultsize(&b, (size_t)n);
	return 1;
}

static int l_fd_write(lua_State *L)
{
	int fd = check_fd(L, 1);
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	isol_error err;

	if (isol_fd_write_all(fd, s, len, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

/* A userdata type: methods as __index, one idempotent close for __gc and
 * __close (liolib style). */
static void new_type(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close_fn)
{
	if (luaL_newmetatable(L, name)) {
		lua_newtable(L);
		luaL_setfuncs(L, methods, 0);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, close_fn);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, close_fn);
		lua_setfield(L, -2, "__close");
	}
}

void isol_lua_open_pty(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "pty_open", l_pty_open },
		{ "tty_raw", l_tty_raw },
		{ "tty_winsize", l_tty_winsize },
		{ "fd_pump", l_fd_pump },
		{ "fd_write", l_fd_write },
		{ "fd_read", l_fd_read },
		{ NULL, NULL },
	};
	static const luaL_Reg pty_methods[] = {
		{ "master", pty_master },
		{ "slave", pty_slave },
		{ "close_slave", pty_close_slave },
		{ "set_winsize", pty_set_winsize },
		{ "winsize", pty_winsize },
		{ "write", pty_write },
		{ "write_some", pty_write_some },
		{ "close", pty_close },
		{ NULL, NULL },
	};
	static const luaL_Reg mode_methods[] = {
		{ "restore", mode_restore },
		{ NULL, NULL },
	};

	new_type(L, PTY_MT, pty_methods, pty_close);
	lua_pushcfunction(L, pty_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);
	new_type(L, MODE_MT, mode_methods, mode_gc);
	lua_pop(L, 1);
	luaL_setfuncs(L, fns, 0);
}
