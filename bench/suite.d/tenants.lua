-- bench/suite: round-robin over N tenants named PREFIX0 .. PREFIX(N-1),
-- through the location `/t` (`dispatch bench $arg_s`), so that one tenant
-- (N = 1) and many differ in nothing but the tenant count. START (default
-- 0) is the first one: a run goes on where the previous one stopped, so
-- that successive runs together go round all N.
--   wrk -s tenants.lua URL -- N PREFIX [START]
local n, prefix, i = 1, "t", 0

function init(args)
  n = tonumber(args[1]) or 1
  prefix = args[2] or "t"
  i = (tonumber(args[3]) or 0) % n
end

function request()
  local path = "/t?s=" .. prefix .. i
  i = (i + 1) % n
  return wrk.format("GET", path)
end
