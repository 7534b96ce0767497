/* Binding of image.c: the Image userdata (metatable "isol.Image").
 *
 * An Image names an image file; it attaches a loop device on demand
 * (:device(), :attach(), :mount(), a sandbox mount) and owns it: :close()
 * (also __gc and __close) unmounts what it mounted and closes the loop fd,
 * after which the kernel detaches the device (autoclear) as soon as no
 * sandbox has it mounted. Idempotent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../image.h"
#include "../image_freeze.h"
#include "../mount.h"
#include "aux.h"
#include "binding.h"

#define IMAGE_MT "isol.Image"

typedef struct {
	char path[PATH_MAX];
	char fstype[24];
	char dev[32];
	char mnt[PATH_MAX]; /* host mount made by :mount(), "" if none */
	int loop_fd;        /* -1 when not attached */
	int readonly;       /* the loop device is read-only */
	int closed;
} image;

static image *check_image(lua_State *L, int arg)
{
	return (image *)luaL_checkudata(L, arg, IMAGE_MT);
}

static image *open_image(lua_State *L, int arg)
{
	image *im = check_image(L, arg);
	if (im->closed)
		luaL_error(L, "image %s is closed", im->path);
	return im;
}

static void image_release(image *im)
{
	if (im->mnt[0]) {
		isol_error err;
		isol_umount(im->mnt, 1, &err); /* lazy: a finalizer cannot report */
		im->mnt[0] = '\0';
	}
	if (im->loop_fd >= 0) {
		close(im->loop_fd);
		im->loop_fd = -1;
	}
	im->dev[0] = '\0';
	im->closed = 1;
}

static image *new_image(lua_State *L, const char *path, const char *fstype)
{
	image *im = (image *)lua_newuserdatauv(L, sizeof *im, 0);
	memset(im, 0, sizeof *im);
	im->loop_fd = -1;
	im->closed = 1; /* until filled in (liolib style) */
	luaL_setmetatable(L, IMAGE_MT);
	if (strlen(path) >= sizeof im->path)
		luaL_error(L, "image path too long");
	if (realpath(path, im->path) == NULL)
		snprintf(im->path, sizeof im->path, "%s", path);
	snprintf(im->fstype, sizeof im->fstype, "%s", fstype);
	return im;
}

static int attach(image *im, int readonly, isol_error *err)
{
	int fd;

	if (im->loop_fd >= 0)
		return 0;
	fd = isol_loop_attach(im->path, readonly, im->dev, sizeof im->dev, err);
	if (fd < 0)
		return fd;
	im->loop_fd = fd;
	im->readonly = readonly;
	return 0;
}

/* Trim the image's filesystem, attaching a loop device for the time of the
 * trim when none is attached (and detaching it after). */
static int trim(image *im, uint64_t *trimmed, isol_error *err)
{
	int temp = im->loop_fd < 0, r;

	r = attach(im, 0, err);
	if (r < 0)
		return r;
	r = isol_image_trim(im->dev, im->fstype, trimmed, err);
	if (temp) {
		close(im->loop_fd);
		im->loop_fd = -1;
		im->dev[0] = '\0';
	}
	return r;
}

/* A uid/gid argument: -1 (unchanged) or an id. */
static long check_id(lua_State *L, int arg)
{
	return (long)isol_lua_optrange(L, arg, -1, -1, 0xfffffffeLL);
}

/* core.image_create(path, size, fstype, {extra mkfs args}) -> Image */
static int l_create(lua_State *L)
{
	const char *path = isol_lua_checkpath(L, 1);
	lua_Integer size = isol_lua_checkrange(L, 2, 1, LUA_MAXINTEGER);
	const char *fstype = isol_lua_checkpath(L, 3);
	const char *extra[33];
	size_t nextra = 0;
	isol_error err;
	image *im;

	if (!lua_isnoneornil(L, 4)) {
		luaL_checktype(L, 4, LUA_TTABLE);
		nextra = lua_rawlen(L, 4);
		if (nextra > 32)
			return luaL_argerror(L, 4, "at most 32 mkfs arguments");
		for (size_t i = 0; i < nextra; i++) {
			lua_rawgeti(L, 4, (lua_Integer)i + 1);
			lua_pushfstring(L, "mkfs_args[%d]", (int)i + 1);
			extra[i] = isol_lua_tostr(L, -2, lua_tostring(L, -1));
			lua_pop(L, 2); /* a raw value: the table anchors it */
		}
	}
	im = new_image(L, path, fstype);
	if (isol_image_create(path, (uint64_t)size, fstype, extra, nextra, &err) < 0)
		return isol_lua_fail(L, &err);
	if (realpath(path, im->path) == NULL)
		snprintf(im->path, sizeof im->path, "%s", path);
	im->closed = 0;
	return 1;
}

/* core.image_open(path [, fstype]) -> Image */
static int l_open(lua_State *L)
{
	const char *path = isol_lua_checkpath(L, 1);
	const char *fstype = isol_lua_optpath(L, 2, NULL);
	char detected[24];
	isol_error err;
	image *im;

	if (!fstype) {
		if (isol_image_detect(path, detected, sizeof detected, &err) < 0)
			return isol_lua_fail(L, &err);
		fstype = detected;
	} else if (access(path, R_OK) < 0) {
		return isol_lua_errno(L, errno, lua_pushfstring(L, "open image %s", path));
	}
	im = new_image(L, path, fstype);
	im->closed = 0;
	return 1;
}

static int m_path(lua_State *L)
{
	lua_pushstring(L, check_image(L, 1)->path);
	return 1;
}

static int m_fstype(lua_State *L)
{
	lua_pushstring(L, check_image(L, 1)->fstype);
	return 1;
}

/* img:device([readonly]) -> "/dev/loopN" (attaching if needed) */
static int m_device(lua_State *L)
{
	image *im = open_image(L, 1);
	isol_error err;

	if (attach(im, lua_toboolean(L, 2), &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushstring(L, im->dev);
	return 1;
}

/* img:attached() -> "/dev/loopN" | nil */
static int m_attached(lua_State *L)
{
	image *im = check_image(L, 1);
	if (im->loop_fd < 0)
		return 0;
	lua_pushstring(L, im->dev);
	return 1;
}

/* img:mount(target, readonly, sync, uid, gid) (options parsed in Lua) */
static int m_mount(lua_State *L)
{
	image *im = open_image(L, 1);
	const char *target = isol_lua_checkpath(L, 2);
	int ro = lua_toboolean(L, 3), sync = lua_toboolean(L, 4);
	long uid = check_id(L, 5), gid = check_id(L, 6);
	isol_error err;

	if (im->mnt[0])
		return luaL_error(L, "image %s is already mounted on %s", im->path, im->mnt);
	if (strlen(target) >= sizeof im->mnt)
		return luaL_argerror(L, 2, "path too long");
	if (attach(im, ro, &err) < 0)
		return isol_lua_fail(L, &err);
	if (isol_image_mount(im->dev, im->fstype, target, ro || im->readonly, sync, uid, gid, &err) < 0)
		return isol_lua_fail(L, &err);
	snprintf(im->mnt, sizeof im->mnt, "%s", target);
	lua_pushboolean(L, 1);
	return 1;
}

/* img:umount() */
static int m_umount(lua_State *L)
{
	image *im = check_image(L, 1);
	isol_error err;

	if (!im->mnt[0])
		return isol_lua_errno(L, EINVAL, "umount: image is not mounted");
	if (isol_umount(im->mnt, 0, &err) < 0)
		return isol_lua_fail(L, &err);
	im->mnt[0] = '\0';
	lua_pushboolean(L, 1);
	return 1;
}

static int m_mountpoint(lua_State *L)
{
	image *im = check_image(L, 1);
	if (!im->mnt[0])
		return 0;
	lua_pushstring(L, im->mnt);
	return 1;
}

/* img:chown(uid, gid): owner of the filesystem's root directory */
static int m_chown(lua_State *L)
{
	image *im = open_image(L, 1);
	long uid = (long)isol_lua_checkrange(L, 2, -1, 0xfffffffeLL), gid = check_id(L, 3);
	isol_error err;

	if (attach(im, 0, &err) < 0 || isol_image_chown(im->dev, im->fstype, uid, gid, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushboolean(L, 1);
	return 1;
}

/* img:trim() -> bytes discarded */
static int m_trim(lua_State *L)
{
	image *im = open_image(L, 1);
	uint64_t trimmed = 0;
	isol_error err;

	if (trim(im, &trimmed, &err) < 0)
		return isol_lua_fail(L, &err);
	lua_pushinteger(L, (lua_Integer)trimmed);
	return 1;
}

struct progress_ctx {
	lua_State *L;
	int fn; /* stack index of the callback, 0 if none */
	int failed;
};

/* Calls the Lua callback protected: an error cancels the operation and is
 * re-raised after the C side has cleaned up. */
static int progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	struct progress_ctx *p = ctx;

	if (!p->fn)
		return 0;
	lua_pushvalue(p->L, p->fn);
	lua_pushinteger(p->L, (lua_Integer)done);
	lua_pushinteger(p->L, (lua_Integer)total);
	if (lua_pcall(p->L, 2, 1, 0) != LUA_OK) {
		p->failed = 1; /* error object stays on the stack */
		return 1;
	}
	if (lua_type(p->L, -1) == LUA_TBOOLEAN && !lua_toboolean(p->L, -1)) {
		lua_pop(p->L, 1);
		return 1; /* returning false cancels */
	}
	lua_pop(p->L, 1);
	return 0;
}

static void push_stats(lua_State *L, const struct isol_ckpt_stats *st)
{
	lua_createtable(L, 0, 6);
	lua_pushinteger(L, (lua_Integer)st->size);
	lua_setfield(L, -2, "size");
	lua_pushinteger(L, (lua_Integer)st->data);
	lua_setfield(L, -2, "data");
	lua_pushinteger(L, (lua_Integer)st->out);
	lua_setfield(L, -2, "out");
	lua_pushinteger(L, (lua_Integer)st->alloc);
	lua_setfield(L, -2, "allocated");
	lua_pushinteger(L, (lua_Integer)st->trimmed);
	lua_setfield(L, -2, "trimmed");
	lua_pushboolean(L, st->trim_done);
	lua_setfield(L, -2, "trim");
}

/* img:checkpoint_raw(dest, format, level, trim, progress, threads, replace) -> stats
 * (options parsed in Lua: lua/isol/image.lua) */
static int m_checkpoint(lua_State *L)
{
	image *im = open_image(L, 1);
	const char *dest = isol_lua_checkpath(L, 2);
	const char *fmt = isol_lua_optpath(L, 3, "gzip");
	int level = (int)isol_lua_optrange(L, 4, -1, -1, 22),
	    do_trim = lua_isnoneornil(L, 5) || lua_toboolean(L, 5);
	struct progress_ctx pc = { L, lua_isfunction(L, 6) ? 6 : 0, 0 };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = (int)isol_lua_optrange(L, 7, ncpu > 0 ? ncpu : 1, 1, 1024);
	int replace = lua_toboolean(L, 8);
	struct isol_ckpt_stats st;
	uint64_t trimmed = 0;
	struct isol_image_users users;
	int format, r, frozen;
	isol_error err;

	if (strcmp(fmt, "gzip") == 0)
		format = ISOL_CKPT_GZIP;
	else if (strcmp(fmt, "zstd") == 0)
		format = ISOL_CKPT_ZSTD;
	else
		return luaL_argerror(L, 3, "expected \"gzip\" or \"zstd\"");
	/* In use (mounted through a loop device, by a sandbox or anyone): trim
	 * through that mount (a second mount of the same filesystem would
	 * corrupt it) and freeze it while the file is read. */
	if (isol_image_users_find(im->path, &users, &err) < 0)
		return isol_lua_fail(L, &err);
	if (users.n > 0) {
		r = do_trim && !im->readonly ? isol_image_users_trim(&users, &trimmed, &err) : 0;
		if (r == -EOPNOTSUPP || r == -ENOTTY) { /* no FITRIM there: still frozen */
			do_trim = 0;
			r = 0;
		}
		if (r < 0 || (r = isol_image_users_freeze(&users, &err)) < 0) {
			isol_image_users_release(&users);
			return isol_lua_fail(L, &err);
		}
	} else if (do_trim && !im->readonly) {
		r = trim(im, &trimmed, &err);
		/* a filesystem without FITRIM: still only data extents are read */
		if (r == -EOPNOTSUPP || r == -ENOTTY)
			do_trim = 0;
		else if (r < 0)
			return isol_lua_fail(L, &err);
	}
	lua_settop(L, 8);
	r = isol_image_checkpoint(im->path, dest, replace, format, level, threads, progress_cb, &pc, &st,
				  &err);
	frozen = users.n;
	isol_image_users_release(&users);
	if (pc.failed)
		return lua_error(L);
	if (r < 0)
		return isol_lua_fail(L, &err);
	st.trimmed = trimmed;
	st.trim_done = do_trim && !im->readonly;
	push_stats(L, &st);
	lua_pushinteger(L, frozen);
	lua_setfield(L, -2, "frozen");
	return 1;
}

/* core.image_restore(src, dest, progress, replace) -> stats */
static int l_restore(lua_State *L)
{
	const char *src = isol_lua_checkpath(L, 1);
	const char *dest = isol_lua_checkpath(L, 2);
	struct progress_ctx pc = { L, lua_isfunction(L, 3) ? 3 : 0, 0 };
	int replace = lua_toboolean(L, 4);
	struct isol_ckpt_stats st;
	isol_error err;
	int r;

	lua_settop(L, 4);
	r = isol_image_restore(src, dest, replace, progress_cb, &pc, &st, &err);
	if (pc.failed)
		return lua_error(L);
	if (r < 0)
		return isol_lua_fail(L, &err);
	push_stats(L, &st);
	return 1;
}

static int m_close(lua_State *L)
{
	image_release(check_image(L, 1));
	return 0;
}

static int m_tostring(lua_State *L)
{
	image *im = check_image(L, 1);
	lua_pushfstring(L, "isol.Image (%s, %s%s%s%s)", im->path, im->fstype, im->dev[0] ? ", " : "", im->dev,
			im->closed ? ", closed" : "");
	return 1;
}

void isol_lua_open_image(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "path", m_path },
		{ "fstype", m_fstype },
		{ "device", m_device },
		{ "attached", m_attached },
		{ "mount_at", m_mount },
		{ "umount", m_umount },
		{ "mountpoint", m_mountpoint },
		{ "chown", m_chown },
		{ "trim", m_trim },
		{ "checkpoint_raw", m_checkpoint },
		{ "close", m_close },
		{ NULL, NULL },
	};
	static const luaL_Reg meta[] = {
		{ "__gc", m_close },
		{ "__close", m_close },
		{ "__tostring", m_tostring },
		{ NULL, NULL },
	};
	static const luaL_Reg fns[] = {
		{ "image_create", l_create },
		{ "image_open", l_open },
		{ "image_restore", l_restore },
		{ NULL, NULL },
	};

	luaL_newmetatable(L, IMAGE_MT);
	luaL_setfuncs(L, meta, 0);
	luaL_newlib(L, methods);
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, "__index");
	/* the Lua layer (isol/image.lua) adds option-parsing methods here */
	lua_setfield(L, -3, "image_methods");
	lua_pop(L, 1);
	luaL_setfuncs(L, fns, 0);
}
