/* Binding of the proc concern (registered by luaopen_isol_core):
 * /proc scans and kills by session, pid namespace or process tree, process
 * stat (start times against pid reuse) and attaching to a running process. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../pidfd.h"
#include "../procscan.h"
#include "aux.h"
#include "binding.h"
#include "l_process.h"

#define MAX_ROOTS 256

/* Selector table at idx -> sel (strings anchored by the table). Raises
 * naming the field on a bad value. */
static void check_selector(lua_State *L, int idx, struct isol_selector *sel, pid_t *roots)
{
	luaL_checktype(L, idx, LUA_TTABLE);
	isol_lua_snapshot(L, idx, "selector");
	lua_replace(L, idx);
	memset(sel, 0, sizeof *sel);
	sel->sid = (pid_t)isol_lua_optint_in(L, idx, "selector", "sid", 0, 0, ISOL_INT_MAX);
	sel->pidns = (uint64_t)isol_lua_optint_in(L, idx, "selector", "pidns", 0, 0, LUA_MAXINTEGER);
	sel->keep_roots = isol_lua_optbool(L, idx, "selector", "keep_roots", 0);

	lua_getfield(L, idx, "roots");
	if (!lua_isnil(L, -1)) {
		size_t n;
		if (!lua_istable(L, -1))
			luaL_error(L, "selector.roots: expected a list of pids, got %s",
				   luaL_typename(L, -1));
		n = lua_rawlen(L, -1);
		if (n > MAX_ROOTS)
			luaL_error(L, "selector.roots: at most %d pids", MAX_ROOTS);
		for (size_t i = 0; i < n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			lua_pushfstring(L, "selector.roots[%d]", (int)i + 1);
			roots[i] = (pid_t)isol_lua_toint(L, -2, lua_tostring(L, -1), 1, ISOL_INT_MAX);
			lua_pop(L, 2);
		}
		sel->roots = roots;
		sel->nroots = n;
	}
	lua_pop(L, 1);

	lua_getfield(L, idx, "namespaces");
	if (!lua_isnil(L, -1)) {
		if (!lua_istable(L, -1))
			luaL_error(L, "selector.namespaces: expected {procname = inode}, got %s",
				   luaL_typename(L, -1));
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			const char *name;
			if (lua_type(L, -2) != LUA_TSTRING)
				luaL_error(L, "selector.namespaces: expected {procname = inode}");
			if (sel->nns == 8)
				luaL_error(L, "selector.namespaces: at most 8");
			name = isol_lua_tostr(L, -2, "selector.namespaces");
			lua_pushfstring(L, "selector.namespaces.%s", name);
			sel->ns_ino[sel->nns] =
				(uint64_t)isol_lua_toint(L, -2, lua_tostring(L, -1), 1, LUA_MAXINTEGER);
			sel->ns_name[sel->nns++] = name; /* anchored by the snapshot */
			lua_pop(L, 2);
		}
	}
	lua_pop(L, 1);
}

/* core.proc_select(selector) -> {pid, ...} | nil, msg, errno */
static int l_proc_select(lua_State *L)
{
	struct isol_selector sel;
	pid_t roots[MAX_ROOTS], *pids;
	size_t n;
	isol_error err;

	check_selector(L, 1, &sel, roots);
	if (isol_proc_select(&sel, &pids, &n, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushinteger(L, pids[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	free(pids);
	return 1;
}

/* core.proc_kill(selector [, sig [, timeout_ms]]) -> count | nil, msg, errno */
static int l_proc_kill(lua_State *L)
{
	struct isol_selector sel;
	pid_t roots[MAX_ROOTS];
	isol_error err;
	long r;

	check_selector(L, 1, &sel, roots);
	int sig = lua_isnoneornil(L, 2) ? SIGKILL : isol_lua_checksignal(L, 2);
	int timeout = (int)isol_lua_optrange(L, 3, 10000, 0, ISOL_INT_MAX);
	r = isol_proc_kill(&sel, sig, timeout, &err);
	if (r < 0)
		return isol_lua_fail(L, &err);
	lua_pushinteger(L, r);
	return 1;
}

/* core.proc_stat(pid) -> {pid=, ppid=, pgrp=, sid=, state=, start=} | nil, msg, errno */
static int l_proc_stat(lua_State *L)
{
	struct isol_procstat st;
	isol_error err;
	lua_Integer pid = isol_lua_checkrange(L, 1, 1, ISOL_INT_MAX);
	char state[2];

	if (isol_proc_stat((pid_t)pid, &st, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_createtable(L, 0, 6);
	lua_pushinteger(L, st.pid);
	lua_setfield(L, -2, "pid");
	lua_pushinteger(L, st.ppid);
	lua_setfield(L, -2, "ppid");
	lua_pushinteger(L, st.pgrp);
	lua_setfield(L, -2, "pgrp");
	lua_pushinteger(L, st.sid);
	lua_setfield(L, -2, "sid");
	state[0] = st.state;
	state[1] = '\0';
	lua_pushstring(L, state);
	lua_setfield(L, -2, "state");
	lua_pushinteger(L, (lua_Integer)st.start);
	lua_setfield(L, -2, "start");
	return 1;
}

/* core.attach(pid [, start [, status_path]]) -> Process | nil, msg, errno.
 * start: the start time recorded when it was spawned; a mismatch means the
 * pid now names another process. */
static int l_attach(lua_State *L)
{
	lua_Integer pid = isol_lua_checkrange(L, 1, 1, ISOL_INT_MAX);
	lua_Integer start = isol_lua_optrange(L, 2, -1, -1, LUA_MAXINTEGER);
	const char *status_path = isol_lua_optpath(L, 3, NULL);
	struct isol_procstat st;
	isol_error err;
	int fd, sfd = -1;

	fd = isol_pidfd_open((pid_t)pid, &err);
	if (fd < 0)
		return isol_lua_fail(L, &err);
	/* The pidfd pins the process; now check that it is the one we want. */
	memset(&st, 0, sizeof st);
	if (isol_proc_stat((pid_t)pid, &st, &err) < 0 || st.state == 'Z') {
		close(fd);
		if (st.state == 'Z')
			isol_failx(&err, ESRCH, "attach %d: the process has ended", (int)pid);
		return isol_lua_fail(L, &err);
	}
	if (start >= 0 && (lua_Integer)st.start != start) {
		close(fd);
		isol_failx(&err, ESRCH, "attach %d: the process has ended (the pid was reused)", (int)pid);
		return isol_lua_fail(L, &err);
	}
	if (status_path)
		sfd = open(status_path, O_RDONLY | O_CLOEXEC); /* absent: status unknown */
	isol_lua_push_process(L, (pid_t)pid, fd, sfd);
	return 1;
}

/* core.read_status(path) -> status table | nil (not written yet): the wait
 * status an init wrote into a detached sandbox's status file. */
static int l_read_status(lua_State *L)
{
	const char *path = isol_lua_checkpath(L, 1);
	struct isol_wait w;
	int fd = open(path, O_RDONLY | O_CLOEXEC), st;
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, &st, sizeof st);
	close(fd);
	if (n != (ssize_t)sizeof st)
		return 0;
	isol_decode_status(st, &w);
	isol_lua_push_status(L, &w);
	return 1;
}

static int l_signum(lua_State *L)
{
	lua_pushinteger(L, isol_lua_checksignal(L, 1));
	return 1;
}

static int l_signame(lua_State *L)
{
	const char *n = isol_signal_name((int)isol_lua_checkrange(L, 1, 0, 64));
	if (n)
		lua_pushstring(L, n);
	else
		lua_pushnil(L);
	return 1;
}

static int l_getpid(lua_State *L)
{
	lua_pushinteger(L, getpid());
	return 1;
}

/* core.pidfd_alive(pid, start) -> true if that very process still runs */
static int l_alive(lua_State *L)
{
	lua_Integer pid = luaL_checkinteger(L, 1);
	lua_Integer start = isol_lua_optrange(L, 2, -1, -1, LUA_MAXINTEGER);
	struct isol_procstat st;

	lua_pushboolean(L, pid > 0 && pid <= 0x7fffffff && isol_proc_stat((pid_t)pid, &st, NULL) == 0 &&
				   st.state != 'Z' && (start < 0 || (lua_Integer)st.start == start));
	return 1;
}

/* core.mkdir(path [, mode]) -> true | nil, msg, errno (EEXIST when it exists:
 * the atomic claim of a detached sandbox's name) */
static int l_mkdir(lua_State *L)
{
	const char *path = isol_lua_checkpath(L, 1);
	lua_Integer mode = isol_lua_optrange(L, 2, 0755, 0, 07777);

	if (mkdir(path, (mode_t)mode) < 0) {
		int e = errno;
		return isol_lua_errno(L, e, lua_pushfstring(L, "mkdir %s", path));
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* core.listdir(path) -> {name, ...} (no . and ..) | nil, msg, errno */
static int l_listdir(lua_State *L)
{
	const char *path = isol_lua_checkpath(L, 1);
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d) {
		int e = errno;
		return isol_lua_errno(L, e, lua_pushfstring(L, "opendir %s", path));
	}
	lua_newtable(L);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		lua_pushstring(L, de->d_name);
		lua_rawseti(L, -2, ++n);
	}
	closedir(d);
	return 1;
}

/* core.open_status_file(path) -> fd (write-only, created, truncated, CLOEXEC):
 * handed to a detached sandbox's init as plan.status_fd. */
static int l_open_status_file(lua_State *L)
{
	const char *path = isol_lua_checkpath(L, 1);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		int e = errno;
		return isol_lua_errno(L, e, lua_pushfstring(L, "open %s", path));
	}
	lua_pushinteger(L, fd);
	return 1;
}

static int l_close_fd(lua_State *L)
{
	close((int)isol_lua_checkrange(L, 1, 0, ISOL_INT_MAX));
	return 0;
}

void isol_lua_open_proc(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "proc_select", l_proc_select }, { "proc_kill", l_proc_kill },
		{ "proc_stat", l_proc_stat },     { "attach", l_attach },
		{ "read_status", l_read_status }, { "getpid", l_getpid },
		{ "proc_alive", l_alive },        { "mkdir", l_mkdir },
		{ "listdir", l_listdir },         { "open_status_file", l_open_status_file },
		{ "close_fd", l_close_fd },       { "signum", l_signum },
		{ "signame", l_signame },         { NULL, NULL },
	};
	luaL_setfuncs(L, fns, 0);
}
