/* Binding of the policy concern (seccomp, rlimits, Landlock): the plan
 * reader's part and the isol.Seccomp userdata (l_policy.c). */
#ifndef ISOL_L_POLICY_H
#define ISOL_L_POLICY_H

#include <lua.h>

#include "../landlock.h"
#include "../rlimits.h"

#define ISOL_LUA_LANDLOCK_MAX 64

struct isol_plan;

/* Storage for the plan's policy parts, on the plan reader's stack. */
struct isol_lua_policy {
	struct isol_rlimits rlimits;
	struct isol_landlock landlock;
	struct isol_landlock_path paths[ISOL_LUA_LANDLOCK_MAX];
	struct isol_landlock_port ports[ISOL_LUA_LANDLOCK_MAX];
};

/* Read plan.seccomp (an isol.Seccomp), plan.rlimits ({name = {soft, hard}},
 * -1 = unlimited) and plan.landlock ({read=, write=, exec=, bind_tcp=,
 * connect_tcp=}) of the plan table at idx into plan, using buf. Strings stay
 * anchored by the plan table. Raises naming the field on a bad value; call
 * after plan->no_new_privs is set. */
void isol_lua_read_policy(lua_State *L, int idx, struct isol_plan *plan, struct isol_lua_policy *buf);

/* core.seccomp_compile, core.seccomp_known, core.seccomp_version,
 * core.landlock_abi, core.rlimit_names; metatable isol.Seccomp. */
void isol_lua_open_policy(lua_State *L);

#endif
