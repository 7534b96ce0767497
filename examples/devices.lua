-- Devices (the seed's devices.allow / devices.deny; GPUs under /dev/nvidia*
-- and /dev/dri): deny every NVIDIA and DRM device, and /dev/zero to show the
-- effect. Globs are resolved at run time: nodes present in /dev, the fixed
-- GPU majors (nvidia 195, drm 226) and drivers in /proc/devices (nvidia-uvm
-- ...). Without a GPU the rules are in place but have nothing to block.
-- v1 writes devices.deny; v2 attaches an eBPF device program.
-- Run: bin/isol run examples/devices.lua
return {
  description = "no GPUs (and no /dev/zero)",
  limits = { devices = { deny = { "/dev/nvidia*", "/dev/dri/*", "/dev/zero" } } },
  command = { "/bin/sh", "-c", [[
head -c 1 /dev/zero >/dev/null 2>&1 && echo "/dev/zero readable?!" && exit 1
echo "/dev/zero: Operation not permitted (denied)"
if ls /dev/nvidia* >/dev/null 2>&1; then
  head -c 1 /dev/nvidiactl >/dev/null 2>&1 && echo "GPU reachable?!" && exit 1
  echo "GPU devices present and denied"
else
  echo "no NVIDIA device on this host (major 195 is denied anyway)"
fi
]] },
}
