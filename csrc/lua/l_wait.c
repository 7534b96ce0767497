/*
 * Waiting helpers for the Lua layer (the sweep, the CLI; the clock is core.now):
 * isatty, poll() on several fds with a timeout, and a signal catcher that
 * turns SIGINT/SIGTERM into a readable fd (signalfd), so that a Ctrl-C
 * during a long wait is seen at once and handled in Lua (kill the running
 * sandbox, keep the results so far, remove cgroups) instead of ending the
 * process with cgroups left behind.
 *
 * core.isatty(fd) -> boolean
 * core.poll({fd, ...}, timeout_s) -> {fd = true, ...} of readable fds
 *     (empty on timeout or EINTR); nil, msg, errno on failure
 * core.sigcatch({"SIGINT", ...}) -> isol.SignalCatcher (or nil, msg, errno):
 *     blocks those signals in the calling thread and reads them from a
 *     signalfd. :fd(), :read() -> name or nil (non-blocking), :close()
 *     (idempotent; drains pending ones, then restores the previous mask).
 *     Only the calling thread's mask changes: a host with other threads
 *     must block these signals there itself to have them routed here.
 */
#include "aux.h"
#include "binding.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "../pidfd.h"

#define CATCHER_MT "isol.SignalCatcher"
#define POLL_MAX 64

typedef struct {
	int fd;
	sigset_t set; /* the signals caught */
	sigset_t old; /* the mask to restore */
} catcher;

/* core.now() -> seconds (float) on CLOCK_MONOTONIC, for timing. */
static int l_now(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

static int l_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty((int)isol_lua_checkrange(L, 1, 0, ISOL_INT_MAX)));
	return 1;
}

static int l_poll(lua_State *L)
{
	struct pollfd pfd[POLL_MAX];
	lua_Integer n, i;
	lua_Number timeout;
	int ms, r;

	luaL_checktype(L, 1, LUA_TTABLE);
	timeout = luaL_optnumber(L, 2, -1);
	if (isnan(timeout) || isinf(timeout))
		return luaL_argerror(L, 2, "timeout must be a finite number of seconds");
	n = (lua_Integer)lua_rawlen(L, 1);
	if (n > POLL_MAX)
		return luaL_argerror(L, 1, "too many fds");
	for (i = 0; i < n; i++) {
		lua_rawgeti(L, 1, i + 1);
		lua_pushfstring(L, "fds[%d]", (int)i + 1);
		pfd[i].fd = (int)isol_lua_toint(L, -2, lua_tostring(L, -1), 0, ISOL_INT_MAX);
		lua_pop(L, 1);
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
		lua_pop(L, 1);
	}
	ms = timeout < 0 ? -1 : (timeout > 2e6 ? 2000000000 : (int)(timeout * 1000.0));
	r = poll(pfd, (nfds_t)n, ms);
	if (r < 0 && errno != EINTR)
		return isol_lua_errno(L, errno, "poll");
	lua_createtable(L, 0, r > 0 ? r : 0);
	for (i = 0; r > 0 && i < n; i++) {
		if (pfd[i].revents) {
			lua_pushboolean(L, 1);
			lua_rawseti(L, -2, pfd[i].fd);
		}
	}
	return 1;
}

static catcher *check_catcher(lua_State *L)
{
	return (catcher *)luaL_checkudata(L, 1, CATCHER_MT);
}

/* Idempotent: __gc, __close and :close(). Pending caught signals are read
 * first so that unblocking does not deliver them with their default action. */
static int c_close(lua_State *L)
{
	catcher *c = check_catcher(L);
	struct signalfd_siginfo si;

	if (c->fd < 0)
		return 0;
	while (read(c->fd, &si, sizeof si) == (ssize_t)sizeof si)
		;
	close(c->fd);
	c->fd = -1;
	pthread_sigmask(SIG_SETMASK, &c->old, NULL);
	return 0;
}

static int c_fd(lua_State *L)
{
	catcher *c = check_catcher(L);

	lua_pushinteger(L, c->fd);
	return 1;
}

static int c_read(lua_State *L)
{
	catcher *c = check_catcher(L);
	struct signalfd_siginfo si;
	const char *name;
	ssize_t n;

	if (c->fd < 0)
		return luaL_error(L, "signal catcher is closed");
	n = read(c->fd, &si, sizeof si);
	if (n != (ssize_t)sizeof si) {
		if (n < 0 && errno != EAGAIN)
			return isol_lua_errno(L, errno, "read signalfd");
		lua_pushnil(L);
		return 1;
	}
	name = isol_signal_name((int)si.ssi_signo);
	if (name)
		lua_pushstring(L, name);
	else
		lua_pushfstring(L, "SIG%d", (int)si.ssi_signo);
	return 1;
}

static int c_tostring(lua_State *L)
{
	catcher *c = check_catcher(L);

	lua_pushfstring(L, "isol.SignalCatcher (%s)", c->fd < 0 ? "closed" : "open");
	return 1;
}

static int l_sigcatch(lua_State *L)
{
	catcher *c;
	lua_Integer i, n;
	int fd, e;

	luaL_checktype(L, 1, LUA_TTABLE);
	/* userdata first, "closed", so an error below leaves nothing behind */
	c = (catcher *)lua_newuserdatauv(L, sizeof *c, 0);
	c->fd = -1;
	sigemptyset(&c->set);
	luaL_setmetatable(L, CATCHER_MT);
	n = (lua_Integer)lua_rawlen(L, 1);
	for (i = 1; i <= n; i++) {
		int s;

		lua_rawgeti(L, 1, i);
		s = isol_lua_checksignal(L, lua_gettop(L));
		lua_pop(L, 1);
		if (s <= 0 || s == SIGKILL || s == SIGSTOP)
			return luaL_argerror(L, 1, "signal cannot be caught");
		sigaddset(&c->set, s);
	}
	if (pthread_sigmask(SIG_BLOCK, &c->set, &c->old) != 0)
		return isol_lua_errno(L, EINVAL, "sigprocmask");
	fd = signalfd(-1, &c->set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		e = errno;
		pthread_sigmask(SIG_SETMASK, &c->old, NULL);
		return isol_lua_errno(L, e, "signalfd");
	}
	c->fd = fd;
	return 1;
}

void isol_lua_open_wait(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "now", l_now },           { "isatty", l_isatty }, { "poll", l_poll },
		{ "sigcatch", l_sigcatch }, { NULL, NULL },
	};
	static const luaL_Reg methods[] = {
		{ "fd", c_fd },
		{ "read", c_read },
		{ "close", c_close },
		{ NULL, NULL },
	};

	if (luaL_newmetatable(L, CATCHER_MT)) {
		luaL_newlib(L, methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, c_close);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, c_close);
		lua_setfield(L, -2, "__close");
		lua_pushcfunction(L, c_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
	luaL_setfuncs(L, fns, 0);
}
