/*
 * The `isol` command as a small native launcher: a lua_State with the
 * standard libraries, then isol.cli.main(arg). Same behaviour as bin/isol
 * (the Lua script), without the stand-alone interpreter's readline and
 * terminal libraries: `isol run` starts faster and its peak RSS is smaller.
 *
 * Module search: when the executable sits in a build tree of a source
 * checkout (<b>/bin/isol, with <b>/../lua/isol.lua), isol's modules come
 * from that checkout, each from its bytecode under <b>/lua (made by `make`,
 * with line information) only when that bytecode is at least as new as its
 * source, else from the source itself; core.so comes from <b>. Otherwise
 * (an installed isol) its own modules come first from the directories it was
 * installed with (ISOL_LUADIR, ISOL_LIBDIR, compiled in by `make install`),
 * then from <exe>/../share/lua/5.4 and <exe>/../lib/lua/5.4 (the layout of
 * `make install` and of a luarocks tree, wherever it was moved), then Lua's
 * usual LUA_PATH/LUA_CPATH: no environment is needed. `make install` also
 * puts the bytecode and the bundle under <lib>/isol/bytecode when luac is
 * there: the same rule then serves them (bytecode only when as new as its
 * source).
 * Built with ISOL_STATIC_CORE (see the Makefile), the core is linked in and
 * preloaded as isol.core.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void prepend_path(lua_State *L, const char *field, const char *prefix)
{
	lua_getglobal(L, "package");
	lua_getfield(L, -1, field);
	lua_pushfstring(L, "%s;%s", prefix, lua_tostring(L, -1));
	lua_setfield(L, -3, field);
	lua_pop(L, 2);
}

static int newer_or_same(const struct stat *a, const struct stat *b)
{
	if (a->st_mtim.tv_sec != b->st_mtim.tv_sec)
		return a->st_mtim.tv_sec > b->st_mtim.tv_sec;
	return a->st_mtim.tv_nsec >= b->st_mtim.tv_nsec;
}

/* A whole file in one open and one read: a malloc'd buffer (*len bytes,
 * NUL-terminated) and the file's stat, or NULL. */
static char *read_whole(const char *path, size_t *len, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t got = 0;
	ssize_t n = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, st) == 0 && st->st_size >= 0 && st->st_size <= (1 << 26))
		buf = malloc((size_t)st->st_size + 1);
	while (buf && got < (size_t)st->st_size && (n = read(fd, buf + got, (size_t)st->st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (buf && got != (size_t)st->st_size) {
		free(buf);
		buf = NULL;
	}
	if (buf) {
		buf[got] = '\0';
		*len = got;
	}
	return buf;
}

/* Load a whole file as a chunk named "@path" with one open and one read
 * (luaL_loadfilex reads through stdio and reopens a binary chunk: twice the
 * system calls, for each module of every `isol run`). */
static int load_whole(lua_State *L, const char *path, const char *mode)
{
	struct stat st;
	size_t len = 0;
	char *buf = read_whole(path, &len, &st);
	int rc;

	if (!buf) {
		lua_pushfstring(L, "cannot read %s", path);
		return LUA_ERRFILE;
	}
	lua_pushfstring(L, "@%s", path);
	rc = luaL_loadbufferx(L, buf, len, lua_tostring(L, -1), mode);
	free(buf);
	lua_remove(L, -2); /* the name, under the chunk or the message */
	return rc;
}

/* package.searchers entry (upvalues: the directory of the sources, that of
 * their bytecode, each holding isol.lua and isol/): isol's own modules,
 * from fresh bytecode or from source. */
static int search_tree(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const char *src = lua_tostring(L, lua_upvalueindex(1));
	const char *bld = lua_tostring(L, lua_upvalueindex(2));
	static const char *const forms[] = { "%s/%s.lua", "%s/%s/init.lua" };
	const char *rel;
	struct stat ss, bs;

	if (strcmp(name, "isol") != 0 && strncmp(name, "isol.", 5) != 0)
		return 0;
	rel = luaL_gsub(L, name, ".", "/");
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		const char *spath = lua_pushfstring(L, forms[i], src, rel);
		const char *bpath = lua_pushfstring(L, forms[i], bld, rel);
		const char *use;

		if (stat(spath, &ss) != 0) {
			lua_pop(L, 2);
			continue;
		}
		use = stat(bpath, &bs) == 0 && newer_or_same(&bs, &ss) ? bpath : spath;
		if (load_whole(L, use, use == bpath ? "b" : "t") != LUA_OK)
			return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, use,
					  lua_tostring(L, -1));
		lua_pushstring(L, use);
		return 2;
	}
	lua_pushfstring(L, "no file '%s/%s.lua' (isol's modules)", src, rel);
	return 1;
}

/* The bundle BLD/run.bundle (the Makefile's RUN_MODS): the modules
 * every `isol run` loads, as bytecode without debug information, in one
 * file read at once; each becomes the package.preload loader of its
 * module. Format: a line "isol-bundle 1", then per module a line
 * "NAME SIZE" and SIZE bytes of bytecode. Used only when the bundle is at
 * least as new as every source it holds (else each module comes from
 * search_tree), and not under ISOL_DEBUG (tracebacks then name file:line,
 * from the per-module bytecode that keeps line information). Saves about
 * 0.25 ms of `isol run`: thirteen searches (two stat, an open, a read and
 * a close each) and a quarter of the undump. */
static void preload_bundle(lua_State *L, const char *src, const char *bld)
{
	static const char magic[] = "isol-bundle 1\n";
	int top = lua_gettop(L);
	struct stat bs, ss;
	char path[4300];
	size_t len;
	const char *buf, *p, *end;
	int fd;

	if (getenv("ISOL_DEBUG") || snprintf(path, sizeof path, "%s/run.bundle", bld) >= (int)sizeof path)
		return;
	/* mapped, not read: the undump reads the page cache's own pages */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	buf = fstat(fd, &bs) == 0 && bs.st_size > 0
		      ? mmap(NULL, (size_t)bs.st_size, PROT_READ, MAP_PRIVATE, fd, 0)
		      : MAP_FAILED;
	close(fd);
	if (buf == MAP_FAILED)
		return;
	len = (size_t)bs.st_size;
	p = buf;
	end = buf + len;
	if (len < sizeof magic - 1 || memcmp(p, magic, sizeof magic - 1) != 0)
		goto out;
	p += sizeof magic - 1;
	lua_newtable(L); /* name -> loader, installed once all are good */
	while (p < end) {
		char line[128], name[128], chunk[130], spath[4400];
		unsigned long size;
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl || nl - p >= (long)sizeof line)
			goto out;
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		if (sscanf(line, "%127s %lu", name, &size) != 2 || size > (unsigned long)(end - nl - 1))
			goto out;
		p = nl + 1;
		snprintf(spath, sizeof spath, "%s/%s.lua", src, name);
		for (char *c = spath + strlen(src) + 1; *c; c++)
			if (*c == '.' && strcmp(c, ".lua") != 0)
				*c = '/';
		if (stat(spath, &ss) != 0 || !newer_or_same(&bs, &ss))
			goto out; /* a source changed since `make` */
		snprintf(chunk, sizeof chunk, "=%s", name);
		if (luaL_loadbufferx(L, p, size, chunk, "b") != LUA_OK)
			goto out;
		lua_setfield(L, top + 1, name);
		p += size;
	}
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_pushnil(L);
	while (lua_next(L, top + 1)) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_settable(L, top + 2);
	}
out:
	lua_settop(L, top);
	munmap((void *)buf, len);
}

/* isol's modules from the sources in SRC and their bytecode in BC (each
 * holding isol.lua and isol/): search_tree becomes package.searchers[2]
 * (after preload, before package.path), and the bundle in BC, if any,
 * preloads the modules of `isol run`. */
static void use_modules(lua_State *L, const char *src, const char *bc)
{
	lua_getglobal(L, "table");
	lua_getfield(L, -1, "insert");
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "searchers");
	lua_remove(L, -2);
	lua_pushinteger(L, 2);
	lua_pushstring(L, src);
	lua_pushstring(L, bc);
	lua_pushcclosure(L, search_tree, 2);
	lua_call(L, 3, 0);
	lua_pop(L, 1);
	preload_bundle(L, src, bc);
}

/* 1 when the executable sits in a build tree (and its searcher is set). */
static int use_build_tree(lua_State *L)
{
	char exe[4096], probe[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	char *slash;

	if (n <= 0)
		return 0;
	exe[n] = '\0';
	if (!(slash = strrchr(exe, '/')))
		return 0;
	*slash = '\0'; /* <b>/bin */
	if (!(slash = strrchr(exe, '/')))
		return 0;
	*slash = '\0'; /* <b> */
	snprintf(probe, sizeof probe, "%s/../lua/isol.lua", exe);
	if (access(probe, R_OK) != 0)
		return 0;
	lua_pushfstring(L, "%s/../lua", exe);
	lua_pushfstring(L, "%s/lua", exe);
	use_modules(L, lua_tostring(L, -2), lua_tostring(L, -1));
	lua_pop(L, 2);
	const char *cpath = getenv("ISOL_CPATH");
	if (cpath) {
		prepend_path(L, "cpath", cpath);
	} else {
		lua_pushfstring(L, "%s/?.so", exe);
		prepend_path(L, "cpath", lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	return 1;
}

/* Prepend lib/?.so and share/?.lua, share/?/init.lua when share/isol.lua
 * exists; 1 when it does. */
static int use_dirs(lua_State *L, const char *share, const char *lib)
{
	char probe[4400];
	int w = snprintf(probe, sizeof probe, "%s/isol.lua", share);

	if (w < 0 || (size_t)w >= sizeof probe || access(probe, R_OK) != 0)
		return 0;
	lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", share, share);
	prepend_path(L, "path", lua_tostring(L, -1));
	lua_pushfstring(L, "%s/?.so", lib);
	prepend_path(L, "cpath", lua_tostring(L, -1));
	lua_pop(L, 2);
	w = snprintf(probe, sizeof probe, "%s/isol/bytecode/isol.lua", lib);
	if (w > 0 && (size_t)w < sizeof probe && access(probe, R_OK) == 0) {
		probe[w - sizeof "/isol.lua" + 1] = '\0'; /* <lib>/isol/bytecode */
		use_modules(L, share, probe);
	}
	return 1;
}

/* An installed isol: the directories compiled in, else next to bin/. */
static void use_install_dirs(lua_State *L)
{
	char exe[4096], share[4200], lib[4200];
	ssize_t n;
	char *slash;

#if defined(ISOL_LUADIR) && defined(ISOL_LIBDIR)
	if (use_dirs(L, ISOL_LUADIR, ISOL_LIBDIR))
		return;
#endif
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	if (!(slash = strrchr(exe, '/')))
		return;
	*slash = '\0'; /* <prefix>/bin */
	if (!(slash = strrchr(exe, '/')))
		return;
	*slash = '\0'; /* <prefix> */
	snprintf(share, sizeof share, "%s/share/lua/%s.%s", exe, LUA_VERSION_MAJOR, LUA_VERSION_MINOR);
	snprintf(lib, sizeof lib, "%s/lib/lua/%s.%s", exe, LUA_VERSION_MAJOR, LUA_VERSION_MINOR);
	use_dirs(L, share, lib);
}

#ifdef ISOL_STATIC_CORE
/* The core linked into this executable (Makefile: CLI_LINK). */
int luaopen_isol_core(lua_State *L);
#endif

static int run(lua_State *L)
{
	int argc = (int)lua_tointeger(L, 1);
	char **argv = (char **)lua_touserdata(L, 2);

	luaL_openlibs(L);
	if (!use_build_tree(L))
		use_install_dirs(L);
#ifdef ISOL_STATIC_CORE
	/* require "isol.core" finds it without a dlopen, unless ISOL_CPATH
	 * names another build of it (e.g. the ASan one) */
	if (!getenv("ISOL_CPATH")) {
		luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
		lua_pushcfunction(L, luaopen_isol_core);
		lua_setfield(L, -2, "isol.core");
		lua_pop(L, 1);
	}
#endif
	/* arg, as the stand-alone interpreter builds it for a script */
	lua_createtable(L, argc, 1);
	for (int i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i);
	}
	lua_pushvalue(L, -1);
	lua_setglobal(L, "arg");
	lua_getglobal(L, "require");
	lua_pushliteral(L, "isol.cli");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "main");
	lua_pushvalue(L, -3);
	lua_call(L, 1, 1);
	return 1;
}

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
	return 1;
}

/* The exit status, once the command has run; the finalizer of a value
 * made before any other (so finalized after every other: lua_close calls
 * finalizers newest first) exits with it. lua_close has then closed every
 * handle and run every finalizer (a sandbox left open by a recipe script
 * still ends its processes and removes its cgroups), and the process does
 * not walk its heap to free it object by object (~0.15 ms of `isol run`). */
static int exit_code = 1;

static int exit_now(lua_State *L)
{
	(void)L;
	exit(exit_code); /* flushes stdio */
}

static int panic(lua_State *L)
{
	const char *msg = lua_tostring(L, -1);
	fprintf(stderr, "isol: PANIC: unprotected error in call to Lua API (%s)\n", msg ? msg : "?");
	return 0;
}

int main(int argc, char **argv)
{
	lua_State *L = luaL_newstate();
	int code;

	if (!L) {
		fputs("isol: cannot create a Lua state (out of memory)\n", stderr);
		return 1;
	}
	lua_atpanic(L, panic);
	/* The collector's first cycle waits until 1 MiB has been allocated (a
	 * step of -1024 is a credit: "as if -1024 KiB had been allocated").
	 * isol's own modules (about 0.3 MiB, alive as long as the process) and
	 * a plain recipe then never pay for a cycle that would free next to
	 * nothing (~0.1 ms of `isol run`), and a recipe script that allocates
	 * more is collected as usual: the collector is never stopped. */
	lua_gc(L, LUA_GCSTEP, -1024);
	lua_newuserdatauv(L, 0, 0);
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, exit_now);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, -2);
	lua_setfield(L, LUA_REGISTRYINDEX, "isol.launcher.exit");
	lua_pushcfunction(L, traceback);
	lua_pushcfunction(L, run);
	lua_pushinteger(L, argc);
	lua_pushlightuserdata(L, argv);
	if (lua_pcall(L, 2, 1, 1) != LUA_OK) {
		fprintf(stderr, "isol: %s\n", lua_tostring(L, -1));
		lua_close(L); /* exits 1 (exit_now) */
		return 1;
	}
	code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : lua_toboolean(L, -1) ? 0 : 1;
	exit_code = code;
	lua_close(L); /* exits (exit_now) */
	return code;
}
