/* Binding of mount.c: the Lua filesystem plan -> struct isol_fs_plan.
 *
 * Lua shape (built and validated by lua/isol/fs.lua; checked again here):
 *   fs = { propagation = "private"|"slave"|"shared"|"unchanged",
 *          root = nil | { mode = "pivot"|"chroot", readonly = bool, mount = OP },
 *          ops = { OP, ... } }
 *   OP = { type = "tmpfs"|"bind"|"proc"|"dev"|"mqueue"|"overlay"|"fs"|"remount"|"dir"|"symlink"|"sysfs",
 *          target = "/abs", source = "...", fstype = "ext4",
 *          options = { key = "value" | true, ... },   -- fsconfig
 *          readonly =, nosuid =, nodev =, noexec =, recursive =, optional =, mode = int,
 *          unmasked = bool (proc: no hardening), nofollow = bool (bind: no symlink in source) }
 * The C plan lives in one userdata (metatable isol.FsPlan) pushed on the
 * stack; its strings point into the fs table, which the userdata anchors
 * as its uservalue. core.fs_plan(fs) makes one from a snapshot of the
 * table: a sandbox compiles its plan once and passes the userdata as
 * `plan.fs` on every spawn (nothing is read or copied again).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "../mount.h"
#include "aux.h"
#include "binding.h"

#define FS_PLAN_MT "isol.FsPlan"

static const char *const type_names[] = { "tmpfs", "bind",    "proc", "dev",     "mqueue", "overlay",
					  "fs",    "remount", "dir",  "symlink", "sysfs",  NULL };
static const int type_values[] = { ISOL_MNT_TMPFS,  ISOL_MNT_BIND,    ISOL_MNT_PROC, ISOL_MNT_DEV,
				   ISOL_MNT_MQUEUE, ISOL_MNT_OVERLAY, ISOL_MNT_FS,   ISOL_MNT_REMOUNT,
				   ISOL_MNT_DIR,    ISOL_MNT_SYMLINK, ISOL_MNT_SYSFS };

/* Read the op table at idx into *op; kv points at ISOL_FS_MAX_OPTS free
 * option slots. need_target: an op of the list (the root's mount has none). */
static void read_op(lua_State *L, int idx, const char *what, struct isol_mount_op *op,
		    struct isol_mount_kv *kv, int need_target)
{
	const char *type;
	int ro_set;

	memset(op, 0, sizeof *op);
	if (!lua_istable(L, idx))
		luaL_error(L, "%s: expected a table, got %s", what, luaL_typename(L, idx));
	type = isol_lua_optstring(L, idx, what, "type");
	if (!type)
		luaL_error(L, "%s.type: required", what);
	for (int i = 0;; i++) {
		if (!type_names[i])
			luaL_error(L, "%s.type: unknown mount type \"%s\"", what, type);
		if (strcmp(type, type_names[i]) == 0) {
			op->type = type_values[i];
			break;
		}
	}
	op->target = isol_lua_optstring(L, idx, what, "target");
	op->source = isol_lua_optstring(L, idx, what, "source");
	op->fstype = isol_lua_optstring(L, idx, what, "fstype");
	if (op->target && op->target[0] != '/')
		luaL_error(L, "%s.target: expected an absolute path, got \"%s\"", what, op->target);
	if ((op->type == ISOL_MNT_BIND || op->type == ISOL_MNT_FS || op->type == ISOL_MNT_SYMLINK) &&
	    !op->source)
		luaL_error(L, "%s.source: required for %s", what, type);
	if (op->type == ISOL_MNT_FS && !op->fstype)
		luaL_error(L, "%s.fstype: required for fs", what);
	op->mode = (unsigned)isol_lua_optint_in(L, idx, what, "mode", 0, 0, 07777);
	op->recursive = (unsigned)isol_lua_optbool(L, idx, what, "recursive", op->type == ISOL_MNT_BIND);
	op->optional = (unsigned)isol_lua_optbool(L, idx, what, "optional", 0);
	op->unmasked = (unsigned)isol_lua_optbool(L, idx, what, "unmasked", 0);
	op->nofollow = (unsigned)isol_lua_optbool(L, idx, what, "nofollow", 0);
	if (op->unmasked && op->type != ISOL_MNT_PROC)
		luaL_error(L, "%s.unmasked: only for proc mounts", what);
	if (op->nofollow && op->type != ISOL_MNT_BIND)
		luaL_error(L, "%s.nofollow: only for bind mounts", what);

	lua_getfield(L, idx, "readonly");
	ro_set = !lua_isnil(L, -1);
	lua_pop(L, 1);
	if (isol_lua_optbool(L, idx, what, "readonly", 0))
		op->attr_set |= MOUNT_ATTR_RDONLY;
	else if (ro_set && op->type == ISOL_MNT_REMOUNT)
		op->attr_clr |= MOUNT_ATTR_RDONLY;
	if (isol_lua_optbool(L, idx, what, "nosuid", 0))
		op->attr_set |= MOUNT_ATTR_NOSUID;
	if (isol_lua_optbool(L, idx, what, "nodev", 0))
		op->attr_set |= MOUNT_ATTR_NODEV;
	if (isol_lua_optbool(L, idx, what, "noexec", 0))
		op->attr_set |= MOUNT_ATTR_NOEXEC;

	op->opts = kv;
	lua_getfield(L, idx, "options");
	if (!lua_isnil(L, -1)) {
		if (!lua_istable(L, -1))
			luaL_error(L, "%s.options: expected a table", what);
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			if (lua_type(L, -2) != LUA_TSTRING)
				luaL_error(L, "%s.options: keys must be strings", what);
			if (op->nopts == ISOL_FS_MAX_OPTS)
				luaL_error(L, "%s.options: at most %d", what, ISOL_FS_MAX_OPTS);
			lua_pushfstring(L, "%s.options", what);
			kv[op->nopts].key = isol_lua_tostr(L, -3, lua_tostring(L, -1));
			lua_pop(L, 1);
			if (lua_type(L, -1) == LUA_TSTRING) {
				lua_pushfstring(L, "%s.options.%s", what, kv[op->nopts].key);
				kv[op->nopts].value = isol_lua_tostr(L, -2, lua_tostring(L, -1));
				lua_pop(L, 1);
			} else if (lua_isboolean(L, -1) && lua_toboolean(L, -1))
				kv[op->nopts].value = NULL;
			else
				luaL_error(L, "%s.options.%s: expected a string or true, got %s", what,
					   lua_tostring(L, -2), luaL_typename(L, -1));
			op->nopts++;
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	if (!op->target && need_target)
		luaL_error(L, "%s.target: required", what);
}

const struct isol_fs_plan *isol_lua_check_fs_plan(lua_State *L, int idx)
{
	struct isol_fs_plan *plan;
	struct isol_mount_op *ops;
	struct isol_mount_kv *kv;
	size_t nops = 0, size;
	int has_root, ops_idx = 0, root_idx = 0, mount_idx = 0;
	const char *prop;

	if (lua_isnoneornil(L, idx))
		return NULL;
	idx = lua_absindex(L, idx);
	if (!lua_istable(L, idx))
		luaL_error(L, "plan.fs: expected a table, got %s", luaL_typename(L, idx));

	lua_getfield(L, idx, "ops");
	ops_idx = lua_gettop(L);
	if (!lua_isnil(L, ops_idx)) {
		if (!lua_istable(L, ops_idx))
			luaL_error(L, "plan.fs.ops: expected a list, got %s", luaL_typename(L, ops_idx));
		nops = lua_rawlen(L, ops_idx);
		if (nops > ISOL_FS_MAX_OPS)
			luaL_error(L, "plan.fs.ops: at most %d steps", ISOL_FS_MAX_OPS);
	}
	lua_getfield(L, idx, "root");
	root_idx = lua_gettop(L);
	has_root = !lua_isnil(L, root_idx);
	if (has_root) {
		if (!lua_istable(L, root_idx))
			luaL_error(L, "plan.fs.root: expected a table, got %s", luaL_typename(L, root_idx));
		lua_getfield(L, root_idx, "mount");
		mount_idx = lua_gettop(L);
		if (lua_isnil(L, mount_idx))
			mount_idx = 0;
	}

	/* Every op gets ISOL_FS_MAX_OPTS option slots: no count read ahead of
	 * the values, so nothing can grow between sizing and filling. */
	size = sizeof *plan + (nops + 1) * (sizeof *ops + ISOL_FS_MAX_OPTS * sizeof *kv);
	plan = (struct isol_fs_plan *)lua_newuserdatauv(L, size, 1);
	memset(plan, 0, size);
	luaL_setmetatable(L, FS_PLAN_MT);
	lua_pushvalue(L, idx); /* the strings' anchor */
	lua_setiuservalue(L, -2, 1);
	ops = (struct isol_mount_op *)(plan + 1);
	kv = (struct isol_mount_kv *)(ops + nops + 1);

	prop = isol_lua_optstring(L, idx, "plan.fs", "propagation");
	if (!prop || strcmp(prop, "private") == 0)
		plan->propagation = MS_PRIVATE;
	else if (strcmp(prop, "slave") == 0)
		plan->propagation = MS_SLAVE;
	else if (strcmp(prop, "shared") == 0)
		plan->propagation = MS_SHARED;
	else if (strcmp(prop, "unchanged") == 0)
		plan->propagation = 0;
	else
		luaL_error(L,
			   "plan.fs.propagation: expected \"private\", \"slave\", \"shared\" or "
			   "\"unchanged\", got \"%s\"",
			   prop);

	for (size_t i = 0; i < nops; i++) {
		char what[48];
		snprintf(what, sizeof what, "plan.fs.ops[%d]", (int)i + 1);
		lua_rawgeti(L, ops_idx, (lua_Integer)i + 1);
		read_op(L, lua_gettop(L), what, &ops[i], kv + i * ISOL_FS_MAX_OPTS, 1);
		lua_pop(L, 1);
	}
	plan->ops = ops;
	plan->nops = nops;

	if (has_root) {
		const char *mode = isol_lua_optstring(L, root_idx, "plan.fs.root", "mode");
		if (!mode || strcmp(mode, "pivot") == 0)
			plan->root_mode = ISOL_ROOT_PIVOT;
		else if (strcmp(mode, "chroot") == 0)
			plan->root_mode = ISOL_ROOT_CHROOT;
		else
			luaL_error(L, "plan.fs.root.mode: expected \"pivot\" or \"chroot\", got \"%s\"",
				   mode);
		if (isol_lua_optbool(L, root_idx, "plan.fs.root", "readonly", 0))
			plan->root_attr |= MOUNT_ATTR_RDONLY;
		if (mount_idx) {
			read_op(L, mount_idx, "plan.fs.root.mount", &ops[nops], kv + nops * ISOL_FS_MAX_OPTS,
				0);
			if (ops[nops].type != ISOL_MNT_TMPFS && ops[nops].type != ISOL_MNT_BIND &&
			    ops[nops].type != ISOL_MNT_FS)
				luaL_error(L, "plan.fs.root.mount.type: expected tmpfs, bind or fs");
			plan->root = &ops[nops];
		}
	}
	/* Leave only the plan userdata above idx: its strings are anchored by
	 * the table at idx (its uservalue), which must not change (a snapshot). */
	lua_replace(L, ops_idx);
	lua_settop(L, ops_idx);
	return plan;
}

const struct isol_fs_plan *isol_lua_to_fs_plan(lua_State *L, int idx)
{
	if (lua_isnoneornil(L, idx))
		return NULL;
	if (lua_type(L, idx) == LUA_TUSERDATA) {
		const struct isol_fs_plan *p =
			(const struct isol_fs_plan *)luaL_testudata(L, idx, FS_PLAN_MT);
		if (!p)
			luaL_error(L, "plan.fs: expected a table or an isol.FsPlan, got another userdata");
		return p;
	}
	return isol_lua_check_fs_plan(L, idx);
}

/* core.fs_plan(fs) -> an isol.FsPlan: the table checked once (raises naming
 * the field) over a private snapshot; what core.spawn takes as `plan.fs`. */
static int l_fs_plan(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	isol_lua_snapshot(L, 1, "plan.fs");
	lua_replace(L, 1);
	lua_settop(L, 1);
	isol_lua_check_fs_plan(L, 1);
	return 1;
}

static int fs_plan_tostring(lua_State *L)
{
	const struct isol_fs_plan *p = (const struct isol_fs_plan *)luaL_checkudata(L, 1, FS_PLAN_MT);

	lua_pushfstring(L, "isol.FsPlan (%d steps%s)", (int)p->nops,
			p->root_mode == ISOL_ROOT_NONE ? "" : ", new root");
	return 1;
}

/* core.fs_apply(fs) -> true | nil, msg, errno: run a filesystem plan in the
 * calling process (after isol.unshare{"mount"}). */
static int l_fs_apply(lua_State *L)
{
	const struct isol_fs_plan *plan;
	isol_error err;

	luaL_checktype(L, 1, LUA_TTABLE);
	isol_lua_snapshot(L, 1, "plan.fs");
	lua_replace(L, 1);
	lua_settop(L, 1);
	plan = isol_lua_check_fs_plan(L, 1);
	if (isol_fs_child_setup(plan, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.umount(target [, lazy]) */
static int l_umount(lua_State *L)
{
	const char *t = isol_lua_checkpath(L, 1);
	int lazy = lua_toboolean(L, 2);
	isol_error err;

	if (isol_umount(t, lazy, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.propagation(path, "private"|"slave"|"shared"|"unbindable" [, recursive]) */
static int l_propagation(lua_State *L)
{
	static const char *const names[] = { "private", "slave", "shared", "unbindable", NULL };
	static const unsigned long vals[] = { MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_UNBINDABLE };
	const char *path = isol_lua_checkpath(L, 1);
	int m = luaL_checkoption(L, 2, NULL, names);
	int rec = lua_isnoneornil(L, 3) ? 1 : lua_toboolean(L, 3);
	isol_error err;

	if (isol_mount_propagation(path, vals[m], rec, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.readlink(path) -> target | nil (not a symlink or missing) */
static int l_readlink(lua_State *L)
{
	const char *path = isol_lua_checkpath(L, 1);
	char buf[4096];
	ssize_t n = readlink(path, buf, sizeof buf - 1);

	if (n < 0) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushlstring(L, buf, (size_t)n);
	return 1;
}

/* core.proc_hardening() -> masked, readonly: the paths every fresh /proc isol
 * mounts hides or makes read-only (mount.h ISOL_PROC_MASKED and
 * ISOL_PROC_READONLY), as "/proc/NAME" lists (the OCI exporter's
 * maskedPaths and readonlyPaths). */
static int l_proc_hardening(lua_State *L)
{
	static const char *const masked[] = { ISOL_PROC_MASKED };
	static const char *const readonly[] = { ISOL_PROC_READONLY };
	const struct {
		const char *const *names;
		size_t n;
	} lists[] = { { masked, sizeof masked / sizeof *masked },
		      { readonly, sizeof readonly / sizeof *readonly } };

	for (size_t l = 0; l < 2; l++) {
		lua_createtable(L, (int)lists[l].n, 0);
		for (size_t i = 0; i < lists[l].n; i++) {
			lua_pushfstring(L, "/proc/%s", lists[l].names[i]);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
	}
	return 2;
}

void isol_lua_open_mount(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "fs_apply", l_fs_apply },
		{ "fs_plan", l_fs_plan },
		{ "umount", l_umount },
		{ "propagation", l_propagation },
		{ "readlink", l_readlink },
		{ "proc_hardening", l_proc_hardening },
		{ NULL, NULL },
	};
	luaL_newmetatable(L, FS_PLAN_MT);
	lua_pushcfunction(L, fs_plan_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);
	luaL_setfuncs(L, fns, 0);
}
