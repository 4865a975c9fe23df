-- Provider-side create-to-Running of providers/mynode.lua, without the API
-- server: create_pod then get_pod_status until Running, for N pods in turn.
--   containerd_up (tests/e2e/lib.sh), then
--   VK_CRI_ENDPOINT=... BUSYBOX_IMAGE=... TEST_TMP=... \
--     build/tests/unit/lua_checks tests/bench/mynode_create.lua mynode=providers/mynode.lua [n=20]
-- Prints one line per pod and a p50/p99 line (as TAP for lua_checks).
local timer = require "vk.timer"
local P, results = {}, {}

function P.init(config)
  local dir = config.mynode:match("^(.*)/[^/]*$") or "."
  package.path = dir .. "/?.lua;" .. package.path -- its providers/mynode/*.lua modules, as vk finds them
  local M = assert(loadfile(config.mynode))()
  local tmp = os.getenv("TEST_TMP")
  M.init({runtime_endpoint = os.getenv("VK_CRI_ENDPOINT"), log_root = tmp .. "/podlogs",
          pod_root = tmp .. "/pods", sync_ms = 1000}, {metadata = {name = "vk-bench"}})
  local n, times, made = tonumber(config.n or 20), {}, {}
  for i = 1, n do
    local pod = {metadata = {name = "b" .. i, namespace = "bench", uid = "bench-" .. i .. "-" .. os.time()},
                 spec = {terminationGracePeriodSeconds = 1,
                         containers = {{name = "c", image = os.getenv("BUSYBOX_IMAGE"), command = {"sleep", "3600"}}}}}
    local t0 = timer.now_ms()
    M.create_pod(pod)
    local t1 = timer.now_ms()
    while M.get_pod_status("bench", pod.metadata.name).phase ~= "Running" do timer.sleep(5) end
    times[#times + 1] = timer.now_ms() - t0
    results[#results + 1] = {name = ("b%d: create_pod %d ms, Running after %d ms"):format(i, t1 - t0, times[#times]),
                             ok = true}
    made[#made + 1] = pod
  end
  table.sort(times)
  local function pct(p) return times[math.floor((#times - 1) * p / 100 + 0.5) + 1] end
  results[#results + 1] = {name = ("create->Running over %d pods: p50 %d ms, p99 %d ms"):format(n, pct(50), pct(99)),
                           ok = true}
  for _, pod in ipairs(made) do M.delete_pod(pod) end
  M.stop()
end

function P.get_pods() return results end
function P.create_pod() end
function P.delete_pod() end
function P.get_pod_status() return nil end
return P
