-- vk.cri through the real Lua host (vk test) against a real containerd:
-- a pod's life and the error cases.  tests/e2e/vk/cri_binding_works_from_lua.sh
-- starts containerd and gives VK_CRI_ENDPOINT, BUSYBOX_IMAGE, LOG_DIR and
-- TEST_TMP.  Every vk.cri call goes to containerd (mock.passthrough), on
-- the real clock.
local cri = require "vk.cri"
local timer = require "vk.timer"

clock.real()
mock.passthrough("cri")
local config = {
  runtime_endpoint = os.getenv("VK_CRI_ENDPOINT"),
  image = os.getenv("BUSYBOX_IMAGE"),
  log_dir = os.getenv("LOG_DIR"),
  missing_endpoint = "unix://" .. os.getenv("TEST_TMP") .. "/missing.sock",
}

describe("vk.cri against containerd", function()
  cri.set_endpoint(config.runtime_endpoint)
  local run_id = "lua" .. os.time() .. "-" .. math.random(1e6)
  local logdir = config.log_dir .. "/" .. run_id
  local sbcfg = {
    metadata = {name = "lua-check", uid = run_id, namespace = "vk-test"},
    hostname = "lua-check", log_directory = logdir,
    labels = {["vk-test"] = run_id}, linux = {},
  }
  local sandbox, echo_id, sleeper_id

  -- The container's status once the runtime reports it exited, or the last
  -- one read after 30 s (a state change, polled; no timing is asserted).
  local function status_once_exited(id)
    local st
    for _ = 1, 600 do
      st = cri.container_status{container_id = id}.status
      if st.state == "CONTAINER_EXITED" then break end
      timer.sleep(50)
    end
    return st
  end

  it("version names containerd over the module's default endpoint", function()
    expect(cri.endpoint() == config.runtime_endpoint):to_be_truthy()
    local v = cri.version{}
    expect(v.runtime_name == "containerd", v.runtime_name)
  end)

  it("a sandbox runs and is found by its label", function()
    sandbox = cri.run_pod_sandbox{config = sbcfg}.pod_sandbox_id
    local l = cri.list_pod_sandbox{filter = {label_selector = {["vk-test"] = run_id}}}
    expect(#l.items == 1 and l.items[1].id == sandbox):to_be_truthy()
  end)

  it("a container runs to completion and its exit code is read back", function()
    echo_id = cri.create_container{pod_sandbox_id = sandbox, sandbox_config = sbcfg, config = {
      metadata = {name = "echo"}, image = {image = config.image},
      command = {"sh", "-c", "echo from lua; exit 4"}, log_path = "echo/0.log"}}.container_id
    cri.start_container{container_id = echo_id}
    local st = status_once_exited(echo_id)
    expect(st.state == "CONTAINER_EXITED" and st.exit_code == 4,
           st.state .. " " .. tostring(st.exit_code))
  end)

  it("exec_sync returns output and exit code as Lua values", function()
    sleeper_id = cri.create_container{pod_sandbox_id = sandbox, sandbox_config = sbcfg, config = {
      metadata = {name = "sleeper"}, image = {image = config.image},
      command = {"sleep", "300"}, envs = {{key = "X", value = "y z"}}}}.container_id
    cri.start_container{container_id = sleeper_id}
    local r = cri.exec_sync{container_id = sleeper_id, cmd = {"sh", "-c", "printf %s \"$X\""}, timeout = 10}
    expect(r.stdout == "y z" and r.exit_code == 0, ("%q %d"):format(r.stdout, r.exit_code))
  end)

  it("exec, attach and port_forward answer with streaming URLs on 127.0.0.1", function()
    local e = cri.exec{container_id = sleeper_id, cmd = {"sh", "-c", "true"}, stdout = true, stderr = true}
    expect(e.url:match("^http://127%.0%.0%.1:%d+/exec/%S+$"), e.url)
    local a = cri.attach{container_id = sleeper_id, stdin = true, stdout = true}
    expect(a.url:match("^http://127%.0%.0%.1:%d+/attach/%S+$"), a.url)
    local p = cri.port_forward{pod_sandbox_id = sandbox, port = {8080}}
    expect(p.url:match("^http://127%.0%.0%.1:%d+/portforward/%S+$"), p.url)
    -- each answer is a fresh one-session token
    expect(e.url ~= cri.exec{container_id = sleeper_id, cmd = {"true"}, stdout = true}.url):to_be_truthy()
    local ok, err = pcall(cri.exec, {container_id = "no-such", cmd = {"true"}, stdout = true})
    expect(not ok and cri.code(err) == "NOT_FOUND", tostring(err))
  end)

  it("a runtime error is raised at the caller's line with the gRPC code", function()
    local ok, err = pcall(cri.container_status, {container_id = "no-such"})
    -- Even through pcall(f, ...) or a tail call the position is the
    -- innermost Lua line of the provider.
    expect(not ok and err:match("^[^ ]*cri_spec%.lua:%d+: vk%.cri%.container_status: NOT_FOUND: "), err)
    local ok2, err2 = pcall(function() return cri.container_status{container_id = "no-such"} end)
    expect(not ok2 and err2:match("cri_spec%.lua:%d+: vk%.cri%.container_status: NOT_FOUND: "), err2)
    expect(cri.code(err2) == "NOT_FOUND", tostring(cri.code(err2)))
    local line = debug.getinfo(1, "l").currentline + 1
    local ok3, err3 = pcall(function() local r = cri.container_status{container_id = "no-such"}; return r end)
    expect(not ok3 and err3:find("cri_spec.lua:" .. line .. ": vk.cri.container_status: NOT_FOUND", 1, true), err3)
  end)

  it("a bad request names the field before anything is sent", function()
    local ok, err = pcall(function() return cri.run_pod_sandbox{config = {metadata = {nmae = "x"}}} end)
    expect(not ok and err:find("vk.cri.run_pod_sandbox: config.metadata.nmae: unknown field", 1, true), err)
  end)

  it("a client on a missing socket says so", function()
    local c = cri.connect(config.missing_endpoint)
    local ok, err = pcall(function() return c:version{} end)
    expect(not ok and err:find("UNAVAILABLE: runtime endpoint " .. config.missing_endpoint ..
                               ": no such socket", 1, true), err)
    expect(cri.code(err) == "UNAVAILABLE"):to_be_truthy()
  end)

  it("a malformed endpoint is refused at connect", function()
    local ok, err = pcall(cri.connect, "tcp://127.0.0.1:1")
    expect(not ok and err:find("only unix:// endpoints", 1, true), err)
  end)

  it("timeout_ms bounds a call", function()
    local c = cri.connect(config.runtime_endpoint, {timeout_ms = 300})
    local t0 = timer.now_ms()
    local ok, err = pcall(function()
      return c:exec_sync{container_id = sleeper_id, cmd = {"sleep", "60"}}
    end)
    local took = timer.now_ms() - t0
    -- unbounded, the call would take 60 s; a busy machine takes seconds
    expect(not ok and err:find("deadline exceeded", 1, true) and took < 30000, err .. " " .. took)
  end)

  local killed_id
  it("containerd's task calls reach a CRI container's task in the k8s.io namespace", function()
    killed_id = cri.create_container{pod_sandbox_id = sandbox, sandbox_config = sbcfg, config = {
      metadata = {name = "killed"}, image = {image = config.image},
      command = {"sleep", "300"}}}.container_id
    cri.start_container{container_id = killed_id}
    cri.task_kill{container_id = killed_id, signal = 9, all = true}
    local w = cri.task_wait({container_id = killed_id}, {timeout_ms = 30000})
    expect(w.exit_status == 137 and w.exited_at.seconds > 0, tostring(w.exit_status))
    -- The CRI plugin sees the same exit, and deletes the task itself; a
    -- delete that comes first succeeds, one that comes after finds nothing.
    local st = status_once_exited(killed_id)
    expect(st.state == "CONTAINER_EXITED" and st.exit_code == 137, st.state .. " " .. tostring(st.exit_code))
    local ok, err = pcall(cri.task_delete, {container_id = killed_id})
    expect(ok or cri.code(err) == "NOT_FOUND", tostring(err))
    ok, err = pcall(cri.task_wait, {container_id = "no-such"})
    expect(not ok and cri.code(err) == "NOT_FOUND", tostring(err))
  end)

  it("cleanup leaves nothing behind", function()
    cri.remove_container{container_id = killed_id}
    cri.stop_container{container_id = sleeper_id, timeout = 0}
    cri.remove_container{container_id = sleeper_id}
    cri.remove_container{container_id = echo_id}
    cri.stop_pod_sandbox{pod_sandbox_id = sandbox}
    cri.remove_pod_sandbox{pod_sandbox_id = sandbox}
    local l = cri.list_pod_sandbox{filter = {label_selector = {["vk-test"] = run_id}}}
    expect(#l.items == 0):to_be_truthy()
  end)
end)
