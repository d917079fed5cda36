-- bench/suite: round-robin over N tenants named PREFIX0 .. PREFIX(N-1),
-- through the location `/t` (`dispatch bench $arg_s`), so that one tenant
-- (N = 1) and many differ in nothing but the tenant count.
--   wrk -s tenants.lua URL -- N PREFIX
local n, prefix, i = 1, "t", 0

function init(args)
  n = tonumber(args[1]) or 1
  prefix = args[2] or "t"
end

function request()
  local path = "/t?s=" .. prefix .. i
  i = (i + 1) % n
  return wrk.format("GET", path)
end
