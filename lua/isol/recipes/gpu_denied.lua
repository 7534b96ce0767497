--- `gpu_denied()`: deny GPU device nodes through the devices controller
-- (v1 `devices.deny`, v2 an eBPF device program): NVIDIA (`/dev/nvidia*`,
-- major 195, plus `nvidia-uvm`/`nvidia-caps`), DRM render and card nodes
-- (`/dev/dri/*`, major 226) and AMD's compute node `/dev/kfd`. Globs are
-- resolved to major:minor when the sandbox starts; a glob matching nothing
-- denies nothing more. As the seed warns, this stops opening the device
-- nodes; it does not by itself hide a GPU from every API.
-- @module isol.recipes.gpu_denied

--- Build the recipe (no parameters).
-- @treturn table a plain recipe table
return function(p)
  if p ~= nil and (type(p) ~= "table" or next(p) ~= nil) then
    error("gpu_denied: takes no parameters", 2)
  end
  return { limits = { devices = { deny = { "/dev/nvidia*", "/dev/dri/*", "/dev/kfd" } } } }
end
