/* The isol.Process userdata (l_process.c), as l_spawn.c and l_proc.c make it. */
#ifndef ISOL_LUA_PROCESS_H
#define ISOL_LUA_PROCESS_H

#include <sys/types.h>

#include <lua.h>

#include "../net.h"
#include "../ns.h"
#include "../pidfd.h"

struct isol_lua_process {
	pid_t pid;
	int pidfd;     /* -1 once closed */
	int status_fd; /* init's report of the command's status */
	int io[3];     /* parent ends of "pipe" stdio: stdin (write), stdout, stderr (read) */
	int reaped;
	int foreign; /* not a child of ours (detached, attached): never killed
	                   on close; waited for by polling the pidfd */
	int known;   /* foreign: the status is known (read from status_fd) */
	struct isol_wait w;
	struct isol_net_state net;      /* user-mode network helper, stopped on release */
	uint64_t ns_ino[ISOL_NS_KINDS]; /* its new namespaces, read at the spawn (0: none) */
};

/* Push a closed Process (no pid, every fd -1) and return it: the handle
 * exists before the resource; the caller fills it in. */
struct isol_lua_process *isol_lua_new_process(lua_State *L);

/* Push an "isol.Process" for a process that is not our child (isol.attach):
 * it takes ownership of pidfd and status_fd (-1: none); closing the handle
 * does not kill the process. */
void isol_lua_push_process(lua_State *L, pid_t pid, int pidfd, int status_fd);

#endif
