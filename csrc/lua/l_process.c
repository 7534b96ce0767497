/* The isol.Process userdata: wait, poll, kill, stdio pipes, close (one
 * idempotent release for :close(), __close and __gc). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../ns.h"
#include "../pidfd.h"
#include "../procscan.h"
#include "aux.h"
#include "binding.h"
#include "l_process.h"

#define PROCESS_MT "isol.Process"
/* How long a finalizer waits for a SIGKILLed tree, then for its root, to
 * end (each; the common case takes a few ms). */
#define TREE_WAIT_MS 250
#define RELEASE_WAIT_MS 1000
#define MAX_UNREAPED 64
/* The most p:read(n) takes at once. */
#define MAX_READ (64LL << 20)

typedef struct isol_lua_process process;

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

/* The status table (aux.c), or {ended=true} for a process that is not our
 * child and left no status. Resource usage is kept apart (p:rusage()) so
 * that statuses compare simply. */
static void push_status(lua_State *L, const process *p)
{
	if (p->foreign && !p->known) {
		lua_createtable(L, 0, 1);
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "ended");
	} else {
		isol_lua_push_status(L, &p->w);
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

/* Children killed by a finalizer that had not ended in time: their pidfds,
 * reaped without blocking by every later release. Full: the pidfd is closed
 * and the zombie waits for our exit. */
static int unreaped[MAX_UNREAPED];
static int nunreaped;

static int keep_unreaped(int pidfd)
{
	if (nunreaped == MAX_UNREAPED)
		return 0;
	unreaped[nunreaped++] = pidfd;
	return 1;
}

static void reap_unreaped(void)
{
	for (int i = 0; i < nunreaped;) {
		siginfo_t si;
		si.si_pid = 0;
		if (waitid((idtype_t)P_PIDFD, (id_t)unreaped[i], &si, WEXITED | WNOHANG) == 0 &&
		    si.si_pid == 0) {
			i++; /* still running */
			continue;
		}
		close(unreaped[i]); /* reaped, or not ours to reap any more */
		unreaped[i] = unreaped[--nunreaped];
	}
}

/* Idempotent close for :close(), __gc and __close. An un-waited child of
 * ours is killed with its tree and reaped, within bounded time: a
 * finalizer never blocks for seconds. In our own pid namespace, killing the
 * root alone would leave its descendants (escapees re-parented to the init
 * included) running: they get SIGKILL through isol_proc_kill, the one
 * tree-kill of the project (core.proc_kill for the Lua side), given
 * TREE_WAIT_MS. In a pid namespace of its own, killing PID 1 ends them
 * all. The root then gets SIGKILL and is reaped if it ends within
 * RELEASE_WAIT_MS; else (stuck in the kernel, or frozen) its pidfd is kept
 * and the next release reaps it without blocking. A sandbox's cgroup is
 * ended by its own close. */
static void process_release(process *p)
{
	for (int i = 0; i < 3; i++)
		close_fd(&p->io[i]);
	if (p->pidfd >= 0) {
		if (!p->reaped && !p->foreign) {
			struct pollfd pf = { .fd = p->pidfd, .events = POLLIN };
			uint64_t theirs = isol_ns_inode(p->pid, "pid", NULL);
			isol_error err;

			if (theirs && theirs == isol_ns_inode(0, "pid", NULL)) {
				struct isol_selector sel;
				memset(&sel, 0, sizeof sel);
				sel.roots = &p->pid;
				sel.nroots = 1;
				sel.keep_roots = 1;
				isol_proc_kill(&sel, SIGKILL, TREE_WAIT_MS, NULL);
			}
			syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
			while (poll(&pf, 1, RELEASE_WAIT_MS) < 0 && errno == EINTR)
				;
			if (do_wait(p, 1, &err) == 0 && keep_unreaped(p->pidfd))
				p->pidfd = -1; /* now owned by the unreaped list */
		}
		close_fd(&p->pidfd);
	}
	reap_unreaped();
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
	lua_Integer n = isol_lua_optrange(L, 2, -1, -1, MAX_READ);
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

/* p:ns_inodes() -> {procname = inode}: the namespaces the spawn made for
 * it, read before it ran (so also once it has exited) when its plan asked
 * (ns_inodes = true); else {}. */
static int p_ns_inodes(lua_State *L)
{
	process *p = check_process(L, 1);

	lua_createtable(L, 0, ISOL_NS_KINDS);
	for (int i = 0; i < ISOL_NS_KINDS; i++) {
		if (!p->ns_ino[i])
			continue;
		lua_pushinteger(L, (lua_Integer)p->ns_ino[i]);
		lua_setfield(L, -2, isol_ns_kinds[i].procname);
	}
	return 1;
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
			p->reaped       ? "ended"
			: p->pidfd >= 0 ? "running"
					: "closed",
			p->foreign ? ", detached" : "");
	return 1;
}

struct isol_lua_process *isol_lua_new_process(lua_State *L)
{
	process *p = (process *)lua_newuserdatauv(L, sizeof *p, 0);

	memset(p, 0, sizeof *p);
	isol_net_state_init(&p->net);
	p->pid = -1;
	p->pidfd = p->status_fd = -1;
	p->io[0] = p->io[1] = p->io[2] = -1;
	luaL_setmetatable(L, PROCESS_MT);
	return p;
}

void isol_lua_push_process(lua_State *L, pid_t pid, int pidfd, int status_fd)
{
	process *p = isol_lua_new_process(L);

	p->pid = pid;
	p->pidfd = pidfd;
	p->status_fd = status_fd;
	p->foreign = 1;
}

void isol_lua_open_process(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "pid", p_pid },
		{ "pidfd", p_pidfd },
		{ "wait", p_wait },
		{ "poll", p_poll },
		{ "kill", p_kill },
		{ "read", p_read },
		{ "write", p_write },
		{ "close_stdin", p_close_stdin },
		{ "communicate", p_communicate },
		{ "close", p_close },
		{ "rusage", p_rusage },
		{ "ns_inodes", p_ns_inodes },
		{ NULL, NULL },
	};
	static const luaL_Reg meta[] = {
		{ "__gc", p_gc },
		{ "__close", p_gc },
		{ "__tostring", p_tostring },
		{ NULL, NULL },
	};

	luaL_newmetatable(L, PROCESS_MT);
	luaL_setfuncs(L, meta, 0);
	luaL_newlib(L, methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
}
