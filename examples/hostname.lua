-- The seed's "Hostname Isolation": a hostname (and domain name) that only
-- the sandbox sees. `isol run examples/hostname.lua` prints the new names;
-- the host's stay as they were.
return {
  namespaces = { "uts" },
  hostname = "my-new-hostname",
  domainname = "example.internal",
  command = { "/bin/sh", "-c", 'echo "hostname: $(hostname), domain: $(domainname)"' },
}
