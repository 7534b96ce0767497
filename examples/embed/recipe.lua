-- The recipe examples/embed/host runs: a command in new user, uts and pid
-- namespaces, printing what it sees.
return {
  description = "embedded demo",
  namespaces = { "user", "uts", "pid" },
  user = { map_root = true },
  hostname = "embedded",
  command = { "/bin/sh", "-c", 'echo "$(hostname) uid=$(id -u) pid=$$"' },
}
