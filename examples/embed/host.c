/*
 * An application that embeds Lua and lets its scripts use isol: its own
 * lua_State, isol opened with luaL_requiref, a recipe file run, the result
 * reported in the host's own words.
 *
 *   build/examples/embed/host RECIPE.lua [--threads N] [--spawns M]
 *
 * RECIPE.lua returns a recipe with a `command` (see recipe.lua next to this
 * file). With --threads, N extra host threads hammer malloc/free and a
 * mutex while the recipe is spawned M times: isol's child does no
 * allocation and takes no lock between clone and exec (csrc/spawn.h), so no
 * spawn can deadlock on a lock another thread held at clone time.
 *
 * The tree's paths are compiled in (ISOL_ROOT) and may be overridden with the
 * ISOL_ROOT environment variable: lua/ for the Lua modules, build/ for
 * isol/core.so.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#ifndef ISOL_ROOT
#define ISOL_ROOT "."
#endif

static atomic_int stop_threads;
static atomic_long thread_rounds;
static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile char sink; /* keeps the compiler from eliding malloc/free */

/* A host thread doing what host threads do: allocate, free, take locks. */
static void *busy(void *arg)
{
	unsigned seed = (unsigned)(size_t)arg;

	while (!atomic_load(&stop_threads)) {
		size_t n = 16 + (rand_r(&seed) % 65536);
		char *p = malloc(n);

		pthread_mutex_lock(&busy_lock);
		if (p) {
			memset(p, 1, n);
			sink = p[n - 1];
		}
		pthread_mutex_unlock(&busy_lock);
		free(p);
		atomic_fetch_add(&thread_rounds, 1);
	}
	return NULL;
}

static const char *root(void)
{
	const char *r = getenv("ISOL_ROOT");

	return r && *r ? r : ISOL_ROOT;
}

/* luaL_requiref's open function for "isol": point package.path/cpath at the
 * tree, then load lua/isol.lua (which requires isol.core from build/). */
static int open_isol(lua_State *L)
{
	const char *r = root();

	lua_getglobal(L, "package");
	lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;", r, r);
	lua_getfield(L, -2, "path");
	lua_concat(L, 2);
	lua_setfield(L, -2, "path");
	lua_pushfstring(L, "%s/build/?.so;", r);
	lua_getfield(L, -2, "cpath");
	lua_concat(L, 2);
	lua_setfield(L, -2, "cpath");
	lua_pop(L, 1);

	lua_pushfstring(L, "%s/lua/isol.lua", r);
	if (luaL_loadfile(L, lua_tostring(L, -1)) != LUA_OK)
		return lua_error(L);
	lua_pushstring(L, "isol");
	lua_call(L, 1, 1);
	return 1;
}

/* The host's Lua side: load the recipe, spawn it `spawns` times, collect. */
static const char *runner =
	"local isol, file, spawns = ...\n"
	"local r = assert(loadfile(file))()\n"
	"if type(r) == 'function' then r = r() end\n"
	"local box <close> = isol.sandbox(r)\n"
	"local last, out\n"
	"for i = 1, spawns do\n"
	"  local st, o, e = box:run(nil, { capture = true })\n"
	"  if not st then error(string.format('spawn %d: %s', i, o), 0) end\n"
	"  if st.code ~= 0 then return st.code or 128, o, e end\n"
	"  last, out = st, o\n"
	"end\n"
	"return last.code, out\n";

int main(int argc, char **argv)
{
	const char *file = NULL;
	long nthreads = 0, spawns = 1;
	pthread_t th[16];
	lua_State *L;
	int i, code = 1;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nthreads = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--spawns") && i + 1 < argc)
			spawns = strtol(argv[++i], NULL, 10);
		else if (!file && argv[i][0] != '-')
			file = argv[i];
		else
			file = NULL, i = argc;
	}
	if (!file || nthreads < 0 || nthreads > 16 || spawns < 1) {
		fprintf(stderr, "usage: %s RECIPE.lua [--threads N (0-16)] [--spawns M]\n", argv[0]);
		return 2;
	}

	L = luaL_newstate();
	if (!L) {
		fprintf(stderr, "host: cannot create a Lua state\n");
		return 1;
	}
	luaL_openlibs(L);
	luaL_requiref(L, "isol", open_isol, 0); /* package.loaded.isol, not a global */

	for (i = 0; i < nthreads; i++) {
		int e = pthread_create(&th[i], NULL, busy, (void *)(size_t)(i + 1));

		if (e) {
			fprintf(stderr, "host: pthread_create: %s\n", strerror(e));
			nthreads = i;
			break;
		}
	}

	/* stack: isol */
	if (luaL_loadstring(L, runner) != LUA_OK) {
		fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
		goto out;
	}
	lua_pushvalue(L, -2);
	lua_pushstring(L, file);
	lua_pushinteger(L, spawns);
	if (lua_pcall(L, 3, 2, 0) != LUA_OK) {
		fprintf(stderr, "host: recipe %s failed: %s\n", file, lua_tostring(L, -1));
		goto out;
	}
	code = (int)lua_tointeger(L, -2);
	printf("host: recipe %s ran %ld time(s) with %ld busy host thread(s); exit code %d\n", file, spawns,
	       nthreads, code);
	if (lua_isstring(L, -1))
		printf("host: its output: %s", lua_tostring(L, -1));
out:
	atomic_store(&stop_threads, 1);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	if (nthreads)
		printf("host: busy threads did %ld rounds of malloc/lock/free meanwhile\n",
		       (long)atomic_load(&thread_rounds));
	lua_close(L);
	return code;
}
