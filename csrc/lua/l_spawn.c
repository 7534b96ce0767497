/* Binding of spawn.c: the plan table -> struct isol_plan, core.spawn. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../caps.h"
#include "../detach.h"
#include "../identity.h"
#include "../keyring.h"
#include "../ns.h"
#include "../spawn.h"
#include "aux.h"
#include "binding.h"
#include "l_policy.h"
#include "l_process.h"

#define MAX_IDMAP 32
#define MAX_KEEP 64

typedef struct isol_lua_process process;

/* How one stdio slot is to be set up; resolved after all validation. */
enum { IO_INHERIT, IO_NULL, IO_PIPE, IO_FD, IO_FILE };
struct io_spec {
	int kind;
	int fd;
	const char *path;
	int flags;
};

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* ---- plan reading ---- */

/* The plan is a snapshot (isol_lua_snapshot) at index 1 for the whole of
 * l_spawn: each value is read once, and every string stays anchored by it
 * until the spawn is over. */

/* argv/env style list of strings at field -> NULL-terminated array in a
 * userdata left on the stack (NULL and nil when absent). */
static char **check_strlist(lua_State *L, int idx, const char *field, int required)
{
	char **v;
	size_t n;

	lua_getfield(L, idx, field);
	if (lua_isnil(L, -1)) {
		if (required)
			luaL_error(L, "plan.%s: required", field);
		return NULL; /* the nil keeps the stack shape: one slot per list */
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "plan.%s: expected a list of strings, got %s", field, luaL_typename(L, -1));
	n = lua_rawlen(L, -1);
	if (required && n == 0)
		luaL_error(L, "plan.%s: must not be empty", field);
	v = (char **)lua_newuserdatauv(L, (n + 1) * sizeof *v, 0);
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, -2, (lua_Integer)i + 1);
		v[i] = (char *)isol_lua_tostrf(L, -1, "plan.%s[%d]", field, (int)i + 1);
		lua_pop(L, 1);
	}
	v[n] = NULL;
	lua_remove(L, -2);
	return v;
}

static void check_io(lua_State *L, int idx, const char *field, int slot, struct io_spec *io)
{
	memset(io, 0, sizeof *io);
	io->fd = -1;
	lua_getfield(L, idx, field);
	switch (lua_type(L, -1)) {
	case LUA_TNIL:
		io->kind = IO_INHERIT;
		break;
	case LUA_TNUMBER:
		io->fd = (int)isol_lua_tointf(L, -1, 0, ISOL_INT_MAX, "plan.%s", field);
		io->kind = IO_FD;
		break;
	case LUA_TSTRING: {
		const char *s = isol_lua_tostrf(L, -1, "plan.%s", field);
		if (strcmp(s, "inherit") == 0)
			io->kind = IO_INHERIT;
		else if (strcmp(s, "null") == 0)
			io->kind = IO_NULL;
		else if (strcmp(s, "pipe") == 0)
			io->kind = IO_PIPE;
		else
			luaL_error(L,
				   "plan.%s: expected \"inherit\", \"null\", \"pipe\", an fd or {path=}, got "
				   "\"%s\"",
				   field, s);
		break;
	}
	case LUA_TTABLE: {
		const char *mode;
		char what[32];
		snprintf(what, sizeof what, "plan.%s", field);
		io->kind = IO_FILE;
		io->path = isol_lua_optstring(L, lua_gettop(L), what, "path");
		if (!io->path)
			luaL_error(L, "plan.%s.path: required", field);
		mode = isol_lua_optstring(L, lua_gettop(L), what, "mode");
		if (!mode)
			mode = slot == 0 ? "r" : "w";
		if (strcmp(mode, "r") == 0)
			io->flags = O_RDONLY;
		else if (strcmp(mode, "w") == 0)
			io->flags = O_WRONLY | O_CREAT | O_TRUNC;
		else if (strcmp(mode, "a") == 0)
			io->flags = O_WRONLY | O_CREAT | O_APPEND;
		else
			luaL_error(L, "plan.%s.mode: expected \"r\", \"w\" or \"a\", got \"%s\"", field,
				   mode);
		break;
	}
	default:
		luaL_error(L, "plan.%s: expected string, fd or table, got %s", field, luaL_typename(L, -1));
	}
	lua_pop(L, 1);
}

/* Open what the io specs need. child[] gets the fd for the child, p->io the
 * parent ends. On failure everything opened is closed. */
static int open_io(struct io_spec io[3], int child[3], int opened[3], process *p, isol_error *err)
{
	for (int i = 0; i < 3; i++) {
		int pp[2];
		child[i] = -1;
		opened[i] = 0;
		switch (io[i].kind) {
		case IO_INHERIT:
			break;
		case IO_FD:
			child[i] = io[i].fd;
			break;
		case IO_NULL:
			child[i] = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
			if (child[i] < 0)
				goto fail_errno_null;
			opened[i] = 1;
			break;
		case IO_FILE:
			child[i] = open(io[i].path, io[i].flags | O_CLOEXEC | O_NOCTTY, 0666);
			if (child[i] < 0) {
				int e = errno;
				isol_fail(err, e, "open %s for %s", io[i].path,
					  i == 0   ? "stdin"
					  : i == 1 ? "stdout"
						   : "stderr");
				goto fail;
			}
			opened[i] = 1;
			break;
		case IO_PIPE:
			if (pipe2(pp, O_CLOEXEC) < 0) {
				isol_fail(err, errno, "pipe");
				goto fail;
			}
			child[i] = i == 0 ? pp[0] : pp[1];
			p->io[i] = i == 0 ? pp[1] : pp[0];
			opened[i] = 1;
			break;
		}
	}
	return 0;
fail_errno_null:
	isol_fail(err, errno, "open /dev/null");
fail:
	for (int i = 0; i < 3; i++) {
		if (opened[i])
			close_fd(&child[i]);
		close_fd(&p->io[i]);
	}
	return -err->code;
}

/* core.spawn(plan) -> Process | nil, msg, errno */
static int l_spawn(lua_State *L)
{
	struct isol_plan plan;
	struct isol_idmap uid[MAX_IDMAP], gid[MAX_IDMAP];
	struct io_spec io[3];
	const char *cgroup_dirs[ISOL_SPAWN_MAX_CGROUPS];
	int keep[MAX_KEEP], child_fd[3], opened[3], r;
	struct isol_child ch;
	struct isol_net_plan net;
	struct isol_caps caps;
	struct isol_keyring keyring;
	struct isol_identity identity;
	struct isol_lua_policy policy;
	isol_error err;
	process *p;
	int detach;

	luaL_checktype(L, 1, LUA_TTABLE);
	isol_lua_snapshot(L, 1, "plan");
	lua_replace(L, 1);
	lua_settop(L, 1);
	isol_plan_init(&plan);

	/* 1. Read and check everything; nothing is opened or created yet. */
	plan.argv = check_strlist(L, 1, "argv", 1);
	plan.envp = check_strlist(L, 1, "env", 0);
	plan.file = isol_lua_optstring(L, 1, "plan", "file");
	plan.cwd = isol_lua_optstring(L, 1, "plan", "cwd");
	check_io(L, 1, "stdin", 0, &io[0]);
	check_io(L, 1, "stdout", 1, &io[1]);
	check_io(L, 1, "stderr", 2, &io[2]);

	lua_getfield(L, 1, "keep_fds");
	if (!lua_isnil(L, -1)) {
		if (!lua_istable(L, -1))
			return luaL_error(L, "plan.keep_fds: expected a list of fds, got %s",
					  luaL_typename(L, -1));
		plan.nkeep = lua_rawlen(L, -1);
		if (plan.nkeep > MAX_KEEP)
			return luaL_error(L, "plan.keep_fds: at most %d fds", MAX_KEEP);
		for (size_t i = 0; i < plan.nkeep; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			keep[i] =
				(int)isol_lua_tointf(L, -1, 0, ISOL_INT_MAX, "plan.keep_fds[%d]", (int)i + 1);
			lua_pop(L, 1);
		}
		plan.keep_fds = keep;
	}
	lua_pop(L, 1);

	lua_getfield(L, 1, "namespaces");
	if (!lua_isnil(L, -1))
		plan.ns_flags = isol_lua_ns_list(L, -1, "plan.namespaces");
	lua_pop(L, 1);

	lua_getfield(L, 1, "uid_map");
	plan.nuid = isol_lua_idmap(L, lua_gettop(L), "plan.uid_map", uid, MAX_IDMAP);
	lua_pop(L, 1);
	lua_getfield(L, 1, "gid_map");
	plan.ngid = isol_lua_idmap(L, lua_gettop(L), "plan.gid_map", gid, MAX_IDMAP);
	lua_pop(L, 1);
	plan.uid_map = uid;
	plan.gid_map = gid;
	plan.setgroups_deny = isol_lua_optbool(L, 1, "plan", "setgroups_deny", 0);
	plan.idmap_helper = isol_lua_optbool(L, 1, "plan", "idmap_helper", 0);
	plan.ns_inodes = isol_lua_optbool(L, 1, "plan", "ns_inodes", 0);

	plan.hostname = isol_lua_optstring(L, 1, "plan", "hostname");
	plan.domainname = isol_lua_optstring(L, 1, "plan", "domainname");
	lua_getfield(L, 1, "time");
	if (!lua_isnil(L, -1)) {
		if (!lua_istable(L, -1))
			return luaL_error(L, "plan.time: expected a table, got %s", luaL_typename(L, -1));
		plan.time_offsets = 1;
		plan.time_monotonic = isol_lua_optint(L, lua_gettop(L), "plan.time", "monotonic", 0);
		plan.time_boottime = isol_lua_optint(L, lua_gettop(L), "plan.time", "boottime", 0);
	}
	lua_pop(L, 1);

	plan.new_session = (unsigned)isol_lua_optbool(L, 1, "plan", "new_session", 1);
	plan.die_with_parent = (unsigned)isol_lua_optbool(L, 1, "plan", "die_with_parent", 1);
	plan.no_new_privs = (unsigned)isol_lua_optbool(L, 1, "plan", "no_new_privs", 1);
	plan.init = (unsigned)isol_lua_optbool(L, 1, "plan", "init", 1);
	plan.cgroup_fd = (int)isol_lua_optint_in(L, 1, "plan", "cgroup_fd", -1, -1, ISOL_INT_MAX);
	plan.supervise = (unsigned)isol_lua_optbool(L, 1, "plan", "supervise", 0);
	plan.status_fd = (int)isol_lua_optint_in(L, 1, "plan", "status_fd", -1, -1, ISOL_INT_MAX);
	plan.timeout_ms = (int)isol_lua_optint_in(L, 1, "plan", "timeout_ms", 0, 0, ISOL_INT_MAX);
	plan.ctty = (unsigned)isol_lua_optbool(L, 1, "plan", "ctty", 0);
	detach = isol_lua_optbool(L, 1, "plan", "detach", 0);
	plan.join_pidfd = (int)isol_lua_optint_in(L, 1, "plan", "join_pidfd", -1, -1, ISOL_INT_MAX);
	lua_getfield(L, 1, "join_namespaces");
	if (!lua_isnil(L, -1))
		plan.join_flags = isol_lua_ns_list(L, -1, "plan.join_namespaces");
	lua_pop(L, 1);
	if (plan.join_pidfd >= 0 && !plan.join_flags)
		return luaL_error(L, "plan.join_namespaces: required with join_pidfd");

	lua_getfield(L, 1, "cgroup_dirs");
	if (!lua_isnil(L, -1)) {
		if (!lua_istable(L, -1))
			return luaL_error(L, "plan.cgroup_dirs: expected a list of directories, got %s",
					  luaL_typename(L, -1));
		size_t n = lua_rawlen(L, -1);
		if (n > ISOL_SPAWN_MAX_CGROUPS)
			return luaL_error(L, "plan.cgroup_dirs: at most %d directories, got %d",
					  ISOL_SPAWN_MAX_CGROUPS, (int)n);
		for (size_t i = 0; i < n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			cgroup_dirs[i] = isol_lua_tostrf(L, -1, "plan.cgroup_dirs[%d]", (int)i + 1);
			lua_pop(L, 1);
		}
		plan.cgroup_dirs = cgroup_dirs;
		plan.ncgroup_dirs = (int)n;
	}
	lua_pop(L, 1);

	plan.identity = isol_lua_read_identity(L, 1, &identity);
	plan.keyring = isol_lua_read_keyring(L, 1, &keyring);
	plan.caps = isol_lua_read_caps(L, 1, &caps);
	if (isol_lua_read_net(L, 1, &net))
		plan.net = &net;                    /* its anchor stays on the stack */
	isol_lua_read_policy(L, 1, &plan, &policy); /* seccomp, rlimits, landlock */

	lua_getfield(L, 1, "fs");
	plan.fs = isol_lua_to_fs_plan(L, lua_gettop(L));
	/* the fs plan (a userdata) stays on the stack until we return */

	/* 2. The handle exists before the resource (liolib style). */
	p = isol_lua_new_process(L);

	/* 3. Open stdio, spawn, close the child's ends. No Lua errors from here. */
	if (open_io(io, child_fd, opened, p, &err) < 0)
		return isol_lua_fail(L, &err);
	for (int i = 0; i < 3; i++)
		plan.stdio[i] = child_fd[i];
	isol_net_state_init(&ch.net);
	memset(ch.ns_ino, 0, sizeof ch.ns_ino);
	r = detach ? isol_spawn_detached(&plan, &ch, &err) : isol_spawn(&plan, &ch, &err);
	for (int i = 0; i < 3; i++)
		if (opened[i])
			close(child_fd[i]);
	if (r < 0) {
		for (int i = 0; i < 3; i++)
			close_fd(&p->io[i]);
		return isol_lua_fail(L, &err);
	}
	p->pid = ch.pid;
	p->pidfd = ch.pidfd;
	p->status_fd = ch.status_fd;
	p->net = ch.net;
	memcpy(p->ns_ino, ch.ns_ino, sizeof p->ns_ino);
	p->foreign = detach;
	if (detach && p->status_fd < 0 && plan.status_fd >= 0) {
		/* The init reports into a file: read it through a description of
		 * our own (offset 0), so that :wait() knows the status. */
		char path[48];
		snprintf(path, sizeof path, "/proc/self/fd/%d", plan.status_fd);
		p->status_fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	return 1;
}

extern char **environ;

/* core.environ() -> {"K=V", ...}: the caller's environment, in order. */
static int l_environ(lua_State *L)
{
	int n = 0;

	lua_newtable(L);
	for (char **e = environ; e && *e; e++) {
		lua_pushstring(L, *e);
		lua_rawseti(L, -2, ++n);
	}
	return 1;
}

void isol_lua_open_spawn(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "spawn", l_spawn },
		{ "environ", l_environ },
		{ NULL, NULL },
	};

	luaL_setfuncs(L, fns, 0);
}
