/* Binding of spawn.c and the Process userdata (metatable "isol.Process"). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../caps.h"
#include "../identity.h"
#include "../keyring.h"
#include "../ns.h"
#include "../proc.h"
#include "../spawn.h"
#include "binding.h"

#define PROCESS_MT "isol.Process"
#define MAX_IDMAP 32
#define MAX_KEEP 64
#define MAX_PROCS_FILES 16

typedef struct {
	pid_t pid;
	int pidfd;      /* -1 once closed */
	int status_fd;  /* init's report of the command's status */
	int io[3];      /* parent ends of "pipe" stdio: stdin (write), stdout, stderr (read) */
	int reaped;
	int foreign;    /* not a child of ours (detached, attached): never killed
	                   on close; waited for by polling the pidfd */
	int known;      /* foreign: the status is known (read from status_fd) */
	struct isol_wait w;
	struct isol_net_state net; /* user-mode network helper, stopped on release */
} process;

/* How one stdio slot is to be set up; resolved after all validation. */
enum { IO_INHERIT, IO_NULL, IO_PIPE, IO_FD, IO_FILE };
struct io_spec {
	int kind;
	int fd;
	const char *path;
	int flags;
};

static process *check_process(lua_State *L, int arg)
{
	return (process *)luaL_checkudata(L, arg, PROCESS_MT);
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void push_rusage(lua_State *L, const struct isol_wait *w)
{
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, w->maxrss_kb);
	lua_setfield(L, -2, "maxrss_kb");
	lua_pushnumber(L, w->utime);
	lua_setfield(L, -2, "utime");
	lua_pushnumber(L, w->stime);
	lua_setfield(L, -2, "stime");
}

/* The status table: {code=} or {signal=, signo=, core=}, or {ended=true}
 * for a process that is not our child and left no status. Resource usage
 * is kept apart (p:rusage()) so that statuses compare simply. */
static void push_status(lua_State *L, const process *p)
{
	const struct isol_wait *w = &p->w;

	lua_createtable(L, 0, 3);
	if (p->foreign && !p->known) {
		/* Ended, but not our child: nobody told us how. */
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "ended");
	} else if (w->exited) {
		lua_pushinteger(L, w->code);
		lua_setfield(L, -2, "code");
	} else {
		const char *n = isol_signal_name(w->signal);
		if (n)
			lua_pushstring(L, n);
		else
			lua_pushfstring(L, "SIG%d", w->signal);
		lua_setfield(L, -2, "signal");
		lua_pushinteger(L, w->signal);
		lua_setfield(L, -2, "signo");
		if (w->core) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, "core");
		}
	}
}

/* Reap (blocking or not). Returns 1 reaped, 0 still running, <0 error. */
static int do_wait(process *p, int nohang, isol_error *err)
{
	int r;

	if (p->reaped)
		return 1;
	if (p->pidfd < 0)
		return isol_failx(err, EBADF, "process is closed");
	if (p->foreign) {
		struct pollfd pf = { .fd = p->pidfd, .events = POLLIN };
		int st;

		for (;;) {
			r = poll(&pf, 1, nohang ? 0 : -1);
			if (r >= 0 || errno != EINTR)
				break;
		}
		if (r < 0)
			return isol_fail(err, errno, "poll pidfd");
		if (r == 0)
			return 0;
		p->reaped = 1;
		if (p->status_fd >= 0 && read(p->status_fd, &st, sizeof st) == (ssize_t)sizeof st) {
			isol_decode_status(st, &p->w);
			p->known = 1;
		}
		close_fd(&p->status_fd);
		return 1;
	}
	r = isol_pidfd_wait(p->pidfd, p->status_fd, nohang, &p->w, err);
	if (r < 0)
		return r;
	if (r == 1)
		return 0;
	p->reaped = 1;
	close_fd(&p->status_fd);
	return 1;
}

/* Idempotent close for :close(), __gc and __close: an un-waited process is
 * killed (with its pid namespace, when its init is PID 1) and reaped. */
static void process_release(process *p)
{
	for (int i = 0; i < 3; i++)
		close_fd(&p->io[i]);
	if (p->pidfd >= 0) {
		if (!p->reaped && !p->foreign) {
			isol_error err;
			/* In our own pid namespace, killing the root alone would leave
			 * its descendants (escapees re-parented to the init included)
			 * running: kill its tree first, until empty. In a pid namespace
			 * of its own, killing PID 1 ends them all. */
			uint64_t theirs = isol_ns_inode(p->pid, "pid", NULL);
			if (theirs && theirs == isol_ns_inode(0, "pid", NULL)) {
				struct isol_selector sel;
				memset(&sel, 0, sizeof sel);
				sel.roots = &p->pid;
				sel.nroots = 1;
				sel.keep_roots = 1;
				isol_proc_kill(&sel, SIGKILL, 5000, NULL);
			}
			syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
			do_wait(p, 0, &err);
		}
		close_fd(&p->pidfd);
	}
	close_fd(&p->status_fd);
	isol_net_helper_stop(&p->net);
}

static int p_gc(lua_State *L)
{
	process_release(check_process(L, 1));
	return 0;
}

static int p_close(lua_State *L)
{
	process *p = check_process(L, 1);
	process_release(p);
	if (p->reaped) {
		push_status(L, p);
		return 1;
	}
	return 0;
}

static int p_pid(lua_State *L)
{
	lua_pushinteger(L, check_process(L, 1)->pid);
	return 1;
}

static int p_pidfd(lua_State *L)
{
	process *p = check_process(L, 1);
	if (p->pidfd < 0)
		return 0;
	lua_pushinteger(L, p->pidfd);
	return 1;
}

/* p:wait() -> {code=} | {signal=, signo=} ; nil, msg, errno */
static int p_wait(lua_State *L)
{
	process *p = check_process(L, 1);
	isol_error err;

	if (do_wait(p, 0, &err) < 0)
		return isol_lua_fail(L, &err);
	/* A reaped child leaves nothing to read from; pipes stay for :read(). */
	push_status(L, p);
	return 1;
}

/* p:poll() -> status table if it has ended, false if still running */
static int p_poll(lua_State *L)
{
	process *p = check_process(L, 1);
	isol_error err;
	int r = do_wait(p, 1, &err);

	if (r < 0)
		return isol_lua_fail(L, &err);
	if (r == 0) {
		lua_pushboolean(L, 0);
		return 1;
	}
	push_status(L, p);
	return 1;
}

static int p_kill(lua_State *L)
{
	process *p = check_process(L, 1);
	int sig = lua_isnoneornil(L, 2) ? SIGTERM : isol_lua_checksignal(L, 2);
	isol_error err;

	if (p->reaped || p->pidfd < 0)
		return isol_lua_errno(L, ESRCH, "kill: process has already ended");
	if (isol_pidfd_send_signal(p->pidfd, sig, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

static int stream_index(lua_State *L, int arg, int def)
{
	static const char *const names[] = { "stdin", "stdout", "stderr", NULL };
	return luaL_checkoption(L, arg, names[def], names);
}

/* p:read([n [, "stdout"|"stderr"]]): n bytes at most (one read), or all
 * until EOF when n is nil. Returns "" at EOF. */
static int p_read(lua_State *L)
{
	process *p = check_process(L, 1);
	lua_Integer n = luaL_optinteger(L, 2, -1);
	int s = stream_index(L, 3, 1), fd;
	luaL_Buffer b;

	if (s == 0)
		return luaL_argerror(L, 3, "stdin is not readable");
	fd = p->io[s];
	if (fd < 0)
		return luaL_error(L, "%s is not a pipe (spawn with %s = \"pipe\")",
				  s == 1 ? "stdout" : "stderr", s == 1 ? "stdout" : "stderr");
	luaL_buffinit(L, &b);
	for (;;) {
		size_t want = n >= 0 ? (size_t)n : LUAL_BUFFERSIZE;
		char *dst = luaL_prepbuffsize(&b, want ? want : 1);
		ssize_t r = read(fd, dst, want);
		if (r < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			return isol_lua_errno(L, e, "read");
		}
		luaL_addsize(&b, (size_t)r);
		if (r == 0 || n >= 0)
			break;
	}
	luaL_pushresult(&b);
	return 1;
}

/* Write without dying of SIGPIPE when the sandbox closed its stdin. */
static ssize_t write_nosigpipe(int fd, const char *s, size_t len)
{
	sigset_t pipe_set, old, pending;
	ssize_t w;
	int was_pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	do
		w = write(fd, s, len);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno == EPIPE && !was_pending) {
		int e = errno;
		struct timespec zero = { 0, 0 };
		sigtimedwait(&pipe_set, NULL, &zero);
		errno = e;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return w;
}

static int p_write(lua_State *L)
{
	process *p = check_process(L, 1);
	size_t len, off = 0;
	const char *s = luaL_checklstring(L, 2, &len);

	if (p->io[0] < 0)
		return luaL_error(L, "stdin is not a pipe (spawn with stdin = \"pipe\")");
	while (off < len) {
		ssize_t w = write_nosigpipe(p->io[0], s + off, len - off);
		if (w < 0)
			return isol_lua_errno(L, errno, "write stdin");
		off += (size_t)w;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int p_close_stdin(lua_State *L)
{
	close_fd(&check_process(L, 1)->io[0]);
	return 0;
}

struct growbuf {
	char *data;
	size_t len, cap;
};

static int grow_read(struct growbuf *g, int fd)
{
	if (g->cap - g->len < 16384) {
		size_t cap = g->cap ? g->cap * 2 : 65536;
		char *d = realloc(g->data, cap);
		if (!d)
			return -ENOMEM;
		g->data = d;
		g->cap = cap;
	}
	ssize_t r = read(fd, g->data + g->len, g->cap - g->len);
	if (r < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	g->len += (size_t)r;
	return r > 0;
}

/* p:communicate([input]) -> stdout, stderr (strings; nil for non-pipes).
 * Feeds input to stdin (then closes it) and drains both outputs together,
 * so that neither side can block on a full pipe. */
static int p_communicate(lua_State *L)
{
	process *p = check_process(L, 1);
	size_t inlen = 0, inoff = 0;
	const char *in = luaL_optlstring(L, 2, NULL, &inlen);
	struct growbuf out[3];
	int e = 0;

	memset(out, 0, sizeof out);
	if (!in)
		close_fd(&p->io[0]);
	/* Non-blocking input: a blocking write of a chunk larger than the pipe's
	 * free space would wait for the sandbox to read, while the sandbox waits
	 * for us to read its full stdout pipe (a deadlock). */
	if (p->io[0] >= 0)
		fcntl(p->io[0], F_SETFL, fcntl(p->io[0], F_GETFL) | O_NONBLOCK);
	for (;;) {
		struct pollfd pfd[3];
		int map[3], n = 0;

		if (p->io[0] >= 0) {
			if (inoff >= inlen) {
				close_fd(&p->io[0]);
			} else {
				pfd[n] = (struct pollfd){ .fd = p->io[0], .events = POLLOUT };
				map[n++] = 0;
			}
		}
		for (int i = 1; i < 3; i++)
			if (p->io[i] >= 0) {
				pfd[n] = (struct pollfd){ .fd = p->io[i], .events = POLLIN };
				map[n++] = i;
			}
		if (n == 0)
			break;
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			break;
		}
		for (int k = 0; k < n; k++) {
			int i = map[k];
			if (!pfd[k].revents)
				continue;
			if (i == 0) {
				size_t chunk = inlen - inoff > 65536 ? 65536 : inlen - inoff;
				ssize_t w = write_nosigpipe(p->io[0], in + inoff, chunk);
				if (w < 0 && errno == EAGAIN)
					continue; /* pipe full: drain the outputs first */
				if (w < 0)
					close_fd(&p->io[0]); /* EPIPE: the sandbox stopped reading */
				else
					inoff += (size_t)w;
			} else {
				int r = grow_read(&out[i], p->io[i]);
				if (r < 0) {
					e = -r;
					break;
				}
				if (r == 0)
					close_fd(&p->io[i]);
			}
		}
		if (e)
			break;
	}
	for (int i = 1; i < 3; i++) {
		if (out[i].data || p->io[i] >= 0 || !e)
			lua_pushlstring(L, out[i].data ? out[i].data : "", out[i].len);
		free(out[i].data);
	}
	if (e)
		return isol_lua_errno(L, e, "communicate");
	return 2;
}

/* p:rusage() -> {maxrss_kb=, utime=, stime=} once reaped, else nil */
static int p_rusage(lua_State *L)
{
	process *p = check_process(L, 1);
	if (!p->reaped)
		return 0;
	push_rusage(L, &p->w);
	return 1;
}

static int p_tostring(lua_State *L)
{
	process *p = check_process(L, 1);
	lua_pushfstring(L, "isol.Process (pid %d, %s%s)", (int)p->pid,
			p->reaped ? "ended" : p->pidfd >= 0 ? "running" : "closed",
			p->foreign ? ", detached" : "");
	return 1;
}

/* ---- plan reading ---- */

/* argv/env style list of strings at field -> NULL-terminated array in a
 * userdata left on the stack (strings anchored by the plan table). */
static char **check_strlist(lua_State *L, int idx, const char *field, int required)
{
	char **v;
	size_t n;

	lua_getfield(L, idx, field);
	if (lua_isnil(L, -1)) {
		if (required)
			luaL_error(L, "plan.%s: required", field);
		lua_pop(L, 1);
		lua_pushnil(L); /* keep the stack shape: one slot per list */
		return NULL;
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "plan.%s: expected a list of strings, got %s", field, luaL_typename(L, -1));
	n = lua_rawlen(L, -1);
	if (required && n == 0)
		luaL_error(L, "plan.%s: must not be empty", field);
	v = (char **)lua_newuserdatauv(L, (n + 1) * sizeof *v, 0);
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, -2, (lua_Integer)i + 1);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "plan.%s[%d]: expected string, got %s", field, (int)i + 1, luaL_typename(L, -1));
		v[i] = (char *)lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	v[n] = NULL;
	lua_remove(L, -2); /* the list stays anchored in the plan table */
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
	case LUA_TNUMBER: {
		int isnum;
		lua_Integer fd = lua_tointegerx(L, -1, &isnum);
		if (!isnum || fd < 0)
			luaL_error(L, "plan.%s: expected a file descriptor, got %s", field, lua_tostring(L, -1));
		io->kind = IO_FD;
		io->fd = (int)fd;
		break;
	}
	case LUA_TSTRING: {
		const char *s = lua_tostring(L, -1);
		if (strcmp(s, "inherit") == 0)
			io->kind = IO_INHERIT;
		else if (strcmp(s, "null") == 0)
			io->kind = IO_NULL;
		else if (strcmp(s, "pipe") == 0)
			io->kind = IO_PIPE;
		else
			luaL_error(L, "plan.%s: expected \"inherit\", \"null\", \"pipe\", an fd or {path=}, got \"%s\"",
				   field, s);
		break;
	}
	case LUA_TTABLE: {
		const char *mode;
		io->kind = IO_FILE;
		io->path = isol_lua_optstring(L, lua_gettop(L), field, "path");
		if (!io->path)
			luaL_error(L, "plan.%s.path: required", field);
		lua_getfield(L, -1, "path");
		lua_insert(L, -2); /* anchor the path string below the table */
		mode = isol_lua_optstring(L, lua_gettop(L), field, "mode");
		if (!mode)
			mode = slot == 0 ? "r" : "w";
		if (strcmp(mode, "r") == 0)
			io->flags = O_RDONLY;
		else if (strcmp(mode, "w") == 0)
			io->flags = O_WRONLY | O_CREAT | O_TRUNC;
		else if (strcmp(mode, "a") == 0)
			io->flags = O_WRONLY | O_CREAT | O_APPEND;
		else
			luaL_error(L, "plan.%s.mode: expected \"r\", \"w\" or \"a\", got \"%s\"", field, mode);
		lua_pop(L, 1);
		return; /* leaves the path string on the stack as its anchor */
	}
	default:
		luaL_error(L, "plan.%s: expected string, fd or table, got %s", field, luaL_typename(L, -1));
	}
	lua_pop(L, 1);
}

struct v1_attach {
	const char *files[MAX_PROCS_FILES];
	size_t n;
};

/* Write the child's pid into each v1 cgroup's cgroup.procs before it runs. */
static int attach_procs(void *ctx, pid_t pid, isol_error *err)
{
	struct v1_attach *a = ctx;
	char buf[24];
	int len = snprintf(buf, sizeof buf, "%d", (int)pid);

	for (size_t i = 0; i < a->n; i++) {
		int r = isol_write_file(a->files[i], buf, (size_t)len, err);
		if (r < 0)
			return r;
	}
	return 0;
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
					  i == 0 ? "stdin" : i == 1 ? "stdout" : "stderr");
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
	struct v1_attach attach;
	struct isol_net_plan net;
	int keep[MAX_KEEP], child_fd[3], opened[3], r;
	struct isol_child ch;
	struct isol_caps caps;
	struct isol_keyring keyring;
	struct isol_identity identity;
	isol_error err;
	process *p;
	int detach;

	luaL_checktype(L, 1, LUA_TTABLE);
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
		luaL_checktype(L, -1, LUA_TTABLE);
		plan.nkeep = lua_rawlen(L, -1);
		if (plan.nkeep > MAX_KEEP)
			return luaL_error(L, "plan.keep_fds: at most %d fds", MAX_KEEP);
		for (size_t i = 0; i < plan.nkeep; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			keep[i] = (int)luaL_checkinteger(L, -1);
			lua_pop(L, 1);
		}
		plan.keep_fds = keep;
	}
	lua_pop(L, 1);

	lua_getfield(L, 1, "namespaces");
	if (!lua_isnil(L, -1)) {
		lua_Integer n;
		luaL_checktype(L, -1, LUA_TTABLE);
		n = (lua_Integer)lua_rawlen(L, -1);
		for (lua_Integer i = 1; i <= n; i++) {
			int f;
			lua_rawgeti(L, -1, i);
			if (lua_type(L, -1) != LUA_TSTRING)
				return luaL_error(L, "namespaces[%d]: expected string", (int)i);
			f = isol_ns_flag(lua_tostring(L, -1));
			if (!f)
				return luaL_error(L, "namespaces[%d]: unknown namespace \"%s\"", (int)i,
						  lua_tostring(L, -1));
			plan.ns_flags |= f;
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);

	lua_getfield(L, 1, "uid_map");
	plan.nuid = isol_lua_idmap(L, lua_gettop(L), "uid_map", uid, MAX_IDMAP);
	lua_pop(L, 1);
	lua_getfield(L, 1, "gid_map");
	plan.ngid = isol_lua_idmap(L, lua_gettop(L), "gid_map", gid, MAX_IDMAP);
	lua_pop(L, 1);
	plan.uid_map = uid;
	plan.gid_map = gid;
	plan.setgroups_deny = isol_lua_optbool(L, 1, "plan", "setgroups_deny", 0);

	plan.hostname = isol_lua_optstring(L, 1, "plan", "hostname");
	plan.domainname = isol_lua_optstring(L, 1, "plan", "domainname");
	lua_getfield(L, 1, "time");
	if (!lua_isnil(L, -1)) {
		luaL_checktype(L, -1, LUA_TTABLE);
		plan.time_offsets = 1;
		plan.time_monotonic = isol_lua_optint(L, lua_gettop(L), "time", "monotonic", 0);
		plan.time_boottime = isol_lua_optint(L, lua_gettop(L), "time", "boottime", 0);
	}
	lua_pop(L, 1);

	plan.new_session = (unsigned)isol_lua_optbool(L, 1, "plan", "new_session", 1);
	plan.die_with_parent = (unsigned)isol_lua_optbool(L, 1, "plan", "die_with_parent", 1);
	plan.no_new_privs = (unsigned)isol_lua_optbool(L, 1, "plan", "no_new_privs", 1);
	plan.init = (unsigned)isol_lua_optbool(L, 1, "plan", "init", 1);
	plan.cgroup_fd = (int)isol_lua_optint(L, 1, "plan", "cgroup_fd", -1);
	plan.supervise = (unsigned)isol_lua_optbool(L, 1, "plan", "supervise", 0);
	plan.ctty = (unsigned)isol_lua_optbool(L, 1, "plan", "ctty", 0);
	plan.status_fd = (int)isol_lua_optint(L, 1, "plan", "status_fd", -1);
	detach = isol_lua_optbool(L, 1, "plan", "detach", 0);
	plan.join_pidfd = (int)isol_lua_optint(L, 1, "plan", "join_pidfd", -1);
	lua_getfield(L, 1, "join_namespaces");
	if (!lua_isnil(L, -1)) {
		lua_Integer n;
		luaL_checktype(L, -1, LUA_TTABLE);
		n = (lua_Integer)lua_rawlen(L, -1);
		for (lua_Integer i = 1; i <= n; i++) {
			int f;
			lua_rawgeti(L, -1, i);
			f = lua_type(L, -1) == LUA_TSTRING ? isol_ns_flag(lua_tostring(L, -1)) : 0;
			if (!f)
				return luaL_error(L, "plan.join_namespaces[%d]: unknown namespace %s", (int)i,
						  luaL_tolstring(L, -1, NULL));
			plan.join_flags |= f;
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	if (plan.join_pidfd >= 0 && !plan.join_flags)
		return luaL_error(L, "plan.join_namespaces: required with join_pidfd");

	attach.n = 0;
	lua_getfield(L, 1, "cgroup_procs");
	if (!lua_isnil(L, -1)) {
		luaL_checktype(L, -1, LUA_TTABLE);
		attach.n = lua_rawlen(L, -1);
		if (attach.n > MAX_PROCS_FILES)
			return luaL_error(L, "plan.cgroup_procs: at most %d files", MAX_PROCS_FILES);
		for (size_t i = 0; i < attach.n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			if (lua_type(L, -1) != LUA_TSTRING)
				return luaL_error(L, "plan.cgroup_procs[%d]: expected string", (int)i + 1);
			attach.files[i] = lua_tostring(L, -1);
			lua_pop(L, 1);
		}
	}
	/* the list stays on the stack: it anchors the strings */
	if (attach.n) {
		plan.before_release = attach_procs;
		plan.hook_ctx = &attach;
	}

	plan.identity = isol_lua_read_identity(L, 1, &identity);
	plan.keyring = isol_lua_read_keyring(L, 1, &keyring);
	plan.caps = isol_lua_read_caps(L, 1, &caps);
	if (isol_lua_read_net(L, 1, &net))
		plan.net = &net; /* its anchor stays on the stack */

	lua_getfield(L, 1, "fs");
	plan.fs = isol_lua_check_fs_plan(L, lua_gettop(L));
	/* the fs value stays on the stack as the plan's anchor */

	/* 2. The handle exists before the resource (liolib style). */
	p = (process *)lua_newuserdatauv(L, sizeof *p, 0);
	p->pid = -1;
	p->pidfd = p->status_fd = -1;
	p->io[0] = p->io[1] = p->io[2] = -1;
	p->reaped = p->foreign = p->known = 0;
	isol_net_state_init(&p->net);
	luaL_setmetatable(L, PROCESS_MT);

	/* 3. Open stdio, spawn, close the child's ends. No Lua errors from here. */
	if (open_io(io, child_fd, opened, p, &err) < 0)
		return isol_lua_fail(L, &err);
	for (int i = 0; i < 3; i++)
		plan.stdio[i] = child_fd[i];
	isol_net_state_init(&ch.net);
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

void isol_lua_push_process(lua_State *L, pid_t pid, int pidfd, int status_fd)
{
	process *p = (process *)lua_newuserdatauv(L, sizeof *p, 0);

	memset(p, 0, sizeof *p);
	isol_net_state_init(&p->net);
	p->pid = pid;
	p->pidfd = pidfd;
	p->status_fd = status_fd;
	p->io[0] = p->io[1] = p->io[2] = -1;
	p->foreign = 1;
	luaL_setmetatable(L, PROCESS_MT);
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
	static const luaL_Reg methods[] = {
		{ "pid", p_pid },       { "pidfd", p_pidfd },   { "wait", p_wait },
		{ "poll", p_poll },     { "kill", p_kill },     { "read", p_read },
		{ "write", p_write },   { "close_stdin", p_close_stdin },
		{ "communicate", p_communicate }, { "close", p_close },
		{ "rusage", p_rusage },
		{ NULL, NULL },
	};
	static const luaL_Reg meta[] = {
		{ "__gc", p_gc }, { "__close", p_gc }, { "__tostring", p_tostring }, { NULL, NULL },
	};
	static const luaL_Reg fns[] = {
		{ "spawn", l_spawn },
		{ "environ", l_environ },
		{ NULL, NULL },
	};

	luaL_newmetatable(L, PROCESS_MT);
	luaL_setfuncs(L, meta, 0);
	luaL_newlib(L, methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_setfuncs(L, fns, 0);
}
