-- The recipe equivalent to the floor: user+mnt+pid+uts+ipc+net, root map,
-- /bin/true. (init = false: the floor has no init; the default-init cost is
-- reported separately.)
return {
  namespaces = { "user", "mount", "pid", "uts", "ipc", "net" },
  user = { map_root = true },
  init = false,
  command = { "/bin/true" },
}
