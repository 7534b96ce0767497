rockspec_format = "3.0"
package = "isol"
version = "scm-1"
source = {
  url = "git+https://isol.invalid/isol.git",
}
description = {
  summary = "Linux process isolation from Lua: namespaces, mounts, images, cgroups v1/v2",
  detailed = [[
isol is a C core exposed as a Lua 5.4 module: spawn into every namespace kind
(clone3 + pidfd), uid/gid maps, mounts and a new root, filesystem images with
checkpoint/restore, a PID-1 init, killing by session/namespace/sandbox, and
cgroup limits on v1 and v2 through libcgroup, composed as Lua recipes.]],
  license = "MIT",
  labels = { "linux", "sandbox", "namespaces", "cgroups", "containers" },
}
supported_platforms = { "linux" }
dependencies = {
  "lua >= 5.4",
  "lua-cjson", -- JSON output of sweeps (Debian: lua-cjson)
}
external_dependencies = {
  CGROUP = { header = "libcgroup.h", library = "cgroup" },
  ZSTD = { header = "zstd.h", library = "zstd" },
  ZLIB = { header = "zlib.h", library = "z" },
  CAP = { header = "sys/capability.h", library = "cap" },
  SECCOMP = { header = "seccomp.h", library = "seccomp" },
}
build = {
  type = "make",
  build_target = "installable",
  build_variables = {
    CFLAGS = "$(CFLAGS) -I$(CGROUP_INCDIR) -I$(ZSTD_INCDIR) -I$(ZLIB_INCDIR) -I$(CAP_INCDIR) -I$(SECCOMP_INCDIR)",
    LDFLAGS = "-L$(CGROUP_LIBDIR) -L$(ZSTD_LIBDIR) -L$(ZLIB_LIBDIR) -L$(CAP_LIBDIR) -L$(SECCOMP_LIBDIR)",
    LUA_INC = "-I$(LUA_INCDIR)",
    ISOL_NO_DEPS = "1",
  },
  install_target = "install",
  install_variables = {
    PREFIX = "$(PREFIX)",
    LUA_LIBDIR = "$(LIBDIR)",
    LUA_SHAREDIR = "$(LUADIR)",
    BINDIR = "$(BINDIR)",
    ISOL_NO_DEPS = "1",
  },
  copy_directories = { "examples" },
}
