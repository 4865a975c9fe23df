-- providers/mynode.lua against a real containerd, without a cluster (vk
-- test): its callbacks called as the core calls them, the results read back
-- through the CRI.  tests/e2e/vk/mynode_runs_pods_as_containers.sh starts
-- containerd and gives VK_CRI_ENDPOINT, BUSYBOX_IMAGE and TEST_TMP.  Every
-- vk.cri call goes to containerd (mock.passthrough), on the real clock;
-- ConfigMaps and Secrets are answered by the mocks below.
local cri = require "vk.cri"
local timer = require "vk.timer"
local json = require "vk.json"
local b64encode = require("vk.k8s").base64_encode

clock.real()
mock.passthrough("cri")

local mynode_file = spec_dir:match("^(.*)/tests/lua$") .. "/providers/mynode.lua"
local image = os.getenv("BUSYBOX_IMAGE")
local tmp = os.getenv("TEST_TMP")
local mcfg = {runtime_endpoint = os.getenv("VK_CRI_ENDPOINT"), log_root = tmp .. "/podlogs",
              pod_root = tmp .. "/pods", sync_ms = 200, node_ip = "127.0.0.1",
              cluster_dns = {"10.96.0.10"}}
cri.set_endpoint(mcfg.runtime_endpoint)

-- ConfigMaps and Secrets as the core's client would return them.
mock.kube {fn = "get_configmap", path = "/api/v1/namespaces/vk-test/configmaps/app-config",
           object = {data = {["app.conf"] = "color=blue\n", ["nested"] = "n"}}}
mock.kube {fn = "get_secret", path = "/api/v1/namespaces/vk-test/secrets/app-secret",
           object = {data = {password = b64encode("s3cr3t!")}}}
mock.kube {fn = "get_secret", path = "/api/v1/namespaces/vk-test/secrets/regcred", object = {
  type = "kubernetes.io/dockerconfigjson", data = {[".dockerconfigjson"] = b64encode(
    '{"auths":{"registry.example.com:5000":{"auth":"' .. b64encode("alice:pw:1") .. '"},' ..
    '"https://index.docker.io/v1/":{"username":"bob","password":"hub"}}}')}}}
mock.kube {} -- anything else: not found

local function pod(name, spec, extra)
  local p = {
    apiVersion = "v1", kind = "Pod",
    metadata = {name = name, namespace = "vk-test", uid = "uid-" .. name .. "-" .. math.random(1e9),
                labels = {app = name}},
    spec = spec,
  }
  for k, v in pairs(extra or {}) do p.metadata[k] = v end
  -- Most test containers ignore SIGTERM (PID 1 without a handler): keep
  -- deletion short.
  p.metadata.deletionGracePeriodSeconds = 1
  spec.restartPolicy = spec.restartPolicy or "Always"
  return p
end

local function wait_for(p, pred, ms)
  local deadline = timer.now_ms() + (ms or 10000)
  local st
  repeat
    st = pods.status(p.metadata.namespace, p.metadata.name)
    if st and pred(st) then return st end
    timer.sleep(100)
  until timer.now_ms() > deadline
  error("timed out; last status: " .. json.encode(st or {}), 2)
end

local function cid(st, i)
  local id = st.containerStatuses[i or 1].containerID
  return id and id:gsub("^containerd://", "")
end

local function exec(id, script)
  return cri.exec_sync{container_id = id, cmd = {"sh", "-c", script}, timeout = 10}
end

describe("mynode against containerd", function()
  local mynode = provider.load(mynode_file, mcfg, {node = {metadata = {name = "vk-mynode-test"}}})
  local M, node = mynode.module, mynode.node
  local mine = {filter = {label_selector = {["vk.io/node"] = "vk-mynode-test"}}}

  it("imagePullSecrets give the matching registry's credentials", function()
    local p = pod("auth", {containers = {}, imagePullSecrets = {{name = "missing"}, {name = "regcred"}}})
    local a = M.pull_auth_for(p, "registry.example.com:5000/team/app:1")
    expect(a and a.username == "alice" and a.password == "pw:1", json.encode(a or {}))
    local h = M.pull_auth_for(p, "busybox:1.35")
    expect(h and h.username == "bob" and h.password == "hub", json.encode(h or {}))
    expect(M.pull_auth_for(p, "quay.io/x/y:1") == nil):to_be_truthy()
  end)

  it("init fills the node's capacity and runtime version", function()
    expect(node.status.capacity.pods == "110", json.encode(node.status))
    expect(node.status.nodeInfo.containerRuntimeVersion:match("^containerd://")):to_be_truthy()
  end)

  local web = pod("web", {
    containers = {{
      name = "app", image = image, imagePullPolicy = "IfNotPresent",
      command = {"sh", "-c"}, args = {"echo hello $(GREETING) from $(HOSTNAME_X); sleep 3600"},
      env = {{name = "GREETING", value = "world"}, {name = "HOSTNAME_X", value = "web"}},
      workingDir = "/tmp",
      resources = {limits = {memory = "64Mi", cpu = "500m"}, requests = {cpu = "250m"}},
      volumeMounts = {{name = "cache", mountPath = "/cache"}, {name = "cfg", mountPath = "/etc/app"},
                      {name = "sec", mountPath = "/etc/sec"}},
    }},
    volumes = {{name = "cache", emptyDir = {}}, {name = "cfg", configMap = {name = "app-config"}},
               {name = "sec", secret = {secretName = "app-secret"}}},
  })
  local web_st
  it("a pod reaches Running with its container running and ready", function()
    expect(pods.create(web), "create_pod")
    web_st = wait_for(web, function(s) return s.phase == "Running" and s.containerStatuses[1].ready end)
    local ready
    for _, c in ipairs(web_st.conditions) do if c.type == "Ready" then ready = c.status end end
    expect(ready == "True", "Ready " .. tostring(ready))
    expect(web_st.podIP and web_st.podIP:match("^10%.88%."), tostring(web_st.podIP))
    expect(web_st.hostIP == "127.0.0.1"):to_be_truthy()
  end)

  it("env, $(VAR) expansion, workingDir and volumes are visible inside (ExecSync)", function()
    local id = cid(web_st)
    local r = exec(id, 'echo "$GREETING"; pwd; cat /etc/app/app.conf; cat /etc/sec/password; ' ..
                       'touch /cache/ok && echo writable; cat /etc/resolv.conf | grep -c 10.96.0.10')
    expect(r.stdout == "world\n/tmp\ncolor=blue\ns3cr3t!writable\n1\n", ("%q %q"):format(r.stdout, r.stderr))
    local rr = exec(id, "touch /etc/app/x 2>/dev/null && echo rw || echo ro")
    expect(rr.stdout == "ro\n", "configMap volume is read-only: " .. rr.stdout)
  end)

  it("resource limits reach the container's cgroup", function()
    local st = cri.container_status{container_id = cid(web_st)}.status
    local lim = st.resources and st.resources.linux
    expect(lim and lim.memory_limit_in_bytes == 64 << 20 and lim.cpu_quota == 50000 and
           lim.cpu_shares == 256, json.encode(lim or {}))
  end)

  it("container logs come from the CRI log file", function()
    local logs
    for _ = 1, 50 do
      logs = pods.call("container_logs", "vk-test", "web", "app", {})
      if logs ~= "" then break end
      timer.sleep(100)
    end
    expect(logs == "hello world from web\n", ("%q"):format(logs))
    local ts = pods.call("container_logs", "vk-test", "web", "app", {timestamps = true})
    expect(ts:match("^%d%d%d%d%-%d%d%-%d%dT%S+ hello world"), ts)
  end)

  it("stats_summary reports the pod's containers with CPU and memory", function()
    local sum = pods.call("stats_summary")
    local found
    for _, p in ipairs(sum.pods) do
      if p.podRef.uid == web.metadata.uid then found = p end
    end
    expect(found and found.containers[1].name == "app" and found.memory.workingSetBytes > 0 and
           found.containers[1].cpu.usageCoreNanoSeconds > 0, json.encode(sum))
    -- the sandbox's network (its namespace's eth0 on the CNI bridge), the
    -- container's start and its log file's size
    local c = found.containers[1]
    expect(found.network and found.network.name == "eth0" and found.network.rxBytes > 0 and
           c.startTime:match("^%d+%-%d+%-%d+T[%d:.]+Z$") and c.logs and c.logs.usedBytes > 0, json.encode(found))
  end)

  it("the sandbox carries the pod's labels, hostname and DNS", function()
    local items = cri.list_pod_sandbox{filter = {label_selector = {["io.kubernetes.pod.uid"] = web.metadata.uid}}}.items
    expect(#items == 1, #items)
    local sb = items[1]
    expect(sb.labels["io.kubernetes.pod.namespace"] == "vk-test" and sb.labels["io.kubernetes.pod.name"] == "web" and
           sb.labels.app == "web" and sb.labels["vk.io/node"] == "vk-mynode-test", json.encode(sb.labels))
    local h = exec(cid(web_st), "hostname")
    expect(h.stdout == "web\n", h.stdout)
  end)

  local init = pod("initp", {
    initContainers = {{name = "prep", image = image, command = {"sh", "-c", "echo prepared > /work/x"},
                       volumeMounts = {{name = "work", mountPath = "/work"}}},
                      {name = "prep2", image = image, command = {"sh", "-c", "echo two >> /work/x"},
                       volumeMounts = {{name = "work", mountPath = "/work"}}}},
    containers = {{name = "main", image = image, command = {"sh", "-c", "cat /work/x; sleep 3600"},
                   volumeMounts = {{name = "work", mountPath = "/work"}}}},
    volumes = {{name = "work", emptyDir = {}}},
  })
  it("init containers run to completion in order before the containers", function()
    expect(pods.create(init), "create_pod")
    local st = wait_for(init, function(s) return s.phase == "Running" and s.containerStatuses[1].ready end)
    expect(st.initContainerStatuses[1].state.terminated.reason == "Completed" and
           st.initContainerStatuses[2].state.terminated.exitCode == 0, json.encode(st.initContainerStatuses))
    local r = exec(cid(st), "cat /work/x")
    expect(r.stdout == "prepared\ntwo\n", r.stdout)
  end)

  local probed = pod("probed", {terminationGracePeriodSeconds = 1,
                                containers = {{name = "c", image = image, command = {"sleep", "3600"},
    readinessProbe = {exec = {command = {"test", "-f", "/tmp/ready"}}, periodSeconds = 1, failureThreshold = 1},
    livenessProbe = {exec = {command = {"sh", "-c", "test ! -f /tmp/die"}}, periodSeconds = 1, failureThreshold = 2}}}})
  it("a readiness probe gates ready; a failing liveness probe restarts the container", function()
    expect(pods.create(probed), "create_pod")
    wait_for(probed, function(s) return s.phase == "Running" and s.containerStatuses[1].started end)
    timer.sleep(1500)
    local st = pods.status("vk-test", "probed")
    expect(not st.containerStatuses[1].ready, "not ready before the probe passes")
    local id = cid(st)
    exec(id, "touch /tmp/ready")
    st = wait_for(probed, function(s) return s.containerStatuses[1].ready end, 5000)
    local ready
    for _, c in ipairs(st.conditions) do if c.type == "Ready" then ready = c.status end end
    expect(ready == "True", "pod Ready " .. tostring(ready))
    exec(id, "touch /tmp/die")
    st = wait_for(probed, function(s)
      local c = s.containerStatuses[1]
      return c.restartCount == 1 and c.state.running ~= nil
    end, 15000)
    expect(not st.containerStatuses[1].ready, "the new instance starts unready")
  end)

  local crash = pod("crash", {containers = {{name = "c", image = image, command = {"sh", "-c", "exit 1"}}}})
  it("exit 1 under Always restarts with a growing restartCount and CrashLoopBackOff", function()
    expect(pods.create(crash), "create_pod")
    local st = wait_for(crash, function(s)
      local c = s.containerStatuses[1]
      return c.restartCount >= 1 and c.state.waiting and c.state.waiting.reason == "CrashLoopBackOff"
    end, 15000)
    local c = st.containerStatuses[1]
    expect(c.lastState.terminated.exitCode == 1 and st.phase == "Running", json.encode(st))
  end)

  local once = pod("once", {restartPolicy = "Never",
                            containers = {{name = "c", image = image, command = {"sh", "-c", "exit 0"}}}})
  local fail = pod("fail", {restartPolicy = "Never",
                            containers = {{name = "c", image = image, command = {"sh", "-c", "exit 3"}}}})
  it("exit 0 under Never gives Succeeded, exit 3 gives Failed", function()
    expect(pods.create(once), "create_pod")
    expect(pods.create(fail), "create_pod")
    local s1 = wait_for(once, function(s) return s.phase == "Succeeded" end)
    local s2 = wait_for(fail, function(s) return s.phase == "Failed" end)
    expect(s1.containerStatuses[1].state.terminated.reason):to_be("Completed")
    expect(s2.containerStatuses[1].state.terminated.exitCode):to_be(3)
    expect(s2.containerStatuses[1].restartCount):to_be(0)
  end)

  local bad = pod("badimage", {containers = {{name = "c", image = "127.0.0.1:9/none:1"}}})
  it("a missing image shows ErrImagePull, then ImagePullBackOff, and is retried", function()
    expect(pods.create(bad), "create_pod") -- accepted: the pull is retried with backoff
    local st = pods.status("vk-test", "badimage")
    expect(st.phase == "Pending" and st.containerStatuses[1].state.waiting.reason == "ErrImagePull", json.encode(st))
    timer.sleep(2200)
    st = pods.status("vk-test", "badimage")
    expect(st.containerStatuses[1].state.waiting.reason == "ImagePullBackOff", json.encode(st))
  end)

  local late = pod("late", {restartPolicy = "Never",
                            containers = {{name = "c", image = image, command = {"sh", "-c", "exit 0"}}}})
  it("the supervisor keeps driving other pods while one waits for its image", function()
    expect(pods.create(late), "create_pod")
    wait_for(late, function(s) return s.phase == "Succeeded" end)
  end)

  local host = pod("hostnet", {hostNetwork = true,
                               containers = {{name = "c", image = image, command = {"sleep", "3600"},
                                              ports = {{containerPort = 8080, hostPort = 18080}}}}})
  it("a hostNetwork pod runs and reports the node IP", function()
    expect(pods.create(host), "create_pod")
    local st = wait_for(host, function(s) return s.phase == "Running" end)
    expect(st.podIP == "127.0.0.1", tostring(st.podIP))
  end)

  -- kubectl exec/attach/port-forward (mynode/streaming.lua).  A stand-in
  -- for the core's stream object: the channels the client asked for, the
  -- chunks it sends, what the provider writes back, and where proxy() was
  -- pointed (the core's own proxying is tested with kubectl in
  -- tests/e2e/vk/exec_attach_and_port_forward_reach_real_containers.sh).
  local function client(want, input)
    local s = {stdin = want.stdin or false, stdout = want.stdout ~= false, stderr = want.stderr or false,
               tty = want.tty or false, out = {}, closed = false}
    local i = 0
    function s.read(_)
      i = i + 1
      return input and input[i] or nil
    end
    function s.write(self, d)
      if self.closed then return nil, "closed" end
      self.out[#self.out + 1] = d
      return true
    end
    function s.close(self) self.closed = true end
    function s.proxy(self, url)
      self.proxied = url
      return true
    end
    return s
  end
  local fwd = pod("fwd", {containers = {
    {name = "web", image = image, command = {"sh", "-c", "mkdir -p /www && echo hello from the pod > /www/index.html" ..
      " && head -c 10485760 /dev/zero > /www/big && exec httpd -f -p 127.0.0.1:8080 -h /www"}},
    {name = "done", image = image, command = {"true"}}}, restartPolicy = "Never"})
  it("exec and attach hand the session to the runtime's streaming URL with the client's channels", function()
    expect(pods.create(fwd), "create_pod")
    wait_for(fwd, function(s)
      local by = {}
      for _, c in ipairs(s.containerStatuses or {}) do by[c.name] = c.state end
      return s.phase == "Running" and by.web and by.web.running and by.done and by.done.terminated
    end, 30000)
    local s = client{stdin = true, tty = true, stderr = false}
    expect(M.exec("vk-test", "fwd", "web", {"sh", "-c", "echo x"}, s)):to_be(0)
    expect(s.proxied and s.proxied:match("^http://127%.0%.0%.1:%d+/exec/%S+$"), tostring(s.proxied))
    local a = client{stdin = true}
    expect(M.attach("vk-test", "fwd", "web", a)):to_be(0)
    expect(a.proxied and a.proxied:match("^http://127%.0%.0%.1:%d+/attach/%S+$"), tostring(a.proxied))
  end)

  it("exec refuses an unknown pod, an unknown container and one that is not running, naming them", function()
    local s = client{}
    local r, err = M.exec("vk-test", "ghost", "c", {"true"}, s)
    expect(r == nil and err == "pod vk-test/ghost not found on this node", tostring(err))
    r, err = M.exec("vk-test", "fwd", "nope", {"true"}, s)
    expect(r == nil and err == 'container "nope" not found in pod vk-test/fwd (containers: web, done)', tostring(err))
    r, err = M.attach("vk-test", "fwd", "done", s)
    expect(r == nil and err == "container done of pod vk-test/fwd is not running (exited)", tostring(err))
    expect(s.proxied == nil, "nothing was proxied")
  end)

  it("port_forward carries a request to the pod's 127.0.0.1 and the answer back, 10 MiB whole", function()
    -- httpd listens a moment after its container started
    local s, r, err
    local deadline = timer.now_ms() + 20000
    repeat
      s = client({}, {"GET /index.html HTTP/1.0\r\n\r\n"})
      r, err = M.port_forward("vk-test", "fwd", 8080, s)
      if not r then timer.sleep(100) end
    until r or timer.now_ms() > deadline
    expect(r == true, tostring(err))
    local got = table.concat(s.out)
    expect(got:match("^HTTP/1%.[01] 200") and got:find("\r\n\r\nhello from the pod\n$"), got)
    expect(s.closed, "the stream is closed when the server closed")
    local b = client({}, {"GET /big HTTP/1.0\r\n", "\r\n"})
    expect(M.port_forward("vk-test", "fwd", 8080, b)):to_be(true)
    local body = table.concat(b.out):match("\r\n\r\n(.*)$") or ""
    expect(#body == 10485760 and not body:find("[^%z]"), "body of " .. #body .. " bytes")
  end)

  it("port_forward to a port nobody listens on is a clear error", function()
    local r, err = M.port_forward("vk-test", "fwd", 8081, client{})
    expect(r == nil and err == "error forwarding port 8081 to pod vk-test/fwd: connect 127.0.0.1:8081: " ..
           "connection refused inside the pod's network namespace", tostring(err))
    local _, derr = pods.delete(fwd)
    expect(derr == nil, "delete_pod fwd: " .. tostring(derr))
    r, err = M.port_forward("vk-test", "fwd", 8080, client{})
    expect(r == nil and err == "pod vk-test/fwd not found on this node", tostring(err))
  end)

  it("get_pods lists every pod with its status", function()
    local names = {}
    for _, p in ipairs(pods.list()) do names[p.metadata.name] = p.status.phase end
    expect(names.web == "Running" and names.initp == "Running" and names.once == "Succeeded" and
           names.badimage == "Pending", json.encode(names))
  end)

  it("a restarted provider re-adopts its pods and recreates nothing", function()
    local before = cri.list_containers(mine).containers
    M.stop()
    local M2 = provider.load(mynode_file, mcfg, {node = {metadata = {name = "vk-mynode-test"}}}).module
    local names = {}
    for _, p in ipairs(pods.list()) do names[p.metadata.name] = p end
    expect(names.web and names.web.metadata.uid == web.metadata.uid, "web re-adopted")
    -- create_pod for a pod it already runs (the core's start-up reconcile) is a no-op
    expect(pods.create(web), "create_pod")
    timer.sleep(600) -- a few supervisor rounds
    local st = pods.status("vk-test", "web")
    expect(st.phase == "Running" and cid(st) == cid(web_st), json.encode(st))
    local after = cri.list_containers(mine).containers
    local ids = {}
    for _, c in ipairs(before) do ids[c.id] = true end
    local new = 0
    for _, c in ipairs(after) do
      if not ids[c.id] and c.labels["io.kubernetes.pod.name"] ~= "crash" then new = new + 1 end
    end
    expect(new == 0, new .. " new containers")
    M = M2
  end)

  it("a dead sandbox is re-created and its containers restart with their count going on", function()
    local sb = cri.list_pod_sandbox{filter = {label_selector = {["io.kubernetes.pod.uid"] = web.metadata.uid}}}.items[1]
    cri.stop_pod_sandbox{pod_sandbox_id = sb.id}
    local st = wait_for(web, function(s)
      local c = s.containerStatuses[1]
      -- at least 1: the count goes on (kubelet counts a container started
      -- in the old sandbox just before it stopped, too)
      return s.phase == "Running" and c.ready and c.restartCount >= 1 and cid(s) ~= cid(web_st)
    end, 15000)
    local items = cri.list_pod_sandbox{filter = {label_selector = {["io.kubernetes.pod.uid"] = web.metadata.uid}}}.items
    expect(#items == 1 and items[1].id ~= sb.id and items[1].metadata.attempt == 1, json.encode(items))
    local r = exec(cid(st), "cat /etc/app/app.conf")
    expect(r.stdout == "color=blue\n", "volumes survive: " .. r.stdout)
  end)

  it("delete_pod stops and removes everything, honouring the grace period", function()
    local t0 = timer.now_ms()
    -- `sleep` as PID 1 ignores SIGTERM: the grace period (1 s) ends with SIGKILL.
    web.metadata.deletionGracePeriodSeconds = 1
    -- delete_pod returns the pod's final status, or nothing for a pod it
    -- no longer has: only an error fails it
    local final, err = pods.delete(web)
    expect(err == nil, "delete_pod: " .. tostring(err))
    expect(type(final) == "table" and final.containerStatuses ~= nil, "delete_pod returns the final status")
    local took = timer.now_ms() - t0
    -- not before the 1 s grace period; far sooner than the default 30 s
    expect(took >= 900 and took < 20000, "took " .. took .. " ms")
    for _, p in ipairs{init, probed, crash, once, fail, bad, late, host} do
      local _, perr = pods.delete(p)
      expect(perr == nil, "delete_pod " .. p.metadata.name .. ": " .. tostring(perr))
    end
    expect(#cri.list_pod_sandbox(mine).items == 0, "sandboxes left")
    expect(#cri.list_containers(mine).containers == 0, "containers left")
    expect(pods.status("vk-test", "web")):to_be_nil()
    local app_conf = tmp .. "/pods/" .. web.metadata.uid .. "/volumes/kubernetes.io~configmap/cfg/app.conf"
    expect(require("vk.fs").read_file(app_conf) == nil, "volumes removed")
    M.stop() -- its supervisor and timers
  end)
end)
