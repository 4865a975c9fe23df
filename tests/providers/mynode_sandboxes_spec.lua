-- mynode's sandbox removal (providers/mynode/sandboxes.lua) with the
-- runtime's answers given by mock.cri: when containerd refuses a removal
-- because of a task its CRI left behind, which tasks are deleted and in
-- what order.  The real containerd is in the e2e test
-- task_containerd_left_behind_does_not_block_deletion.
package.path = spec_dir .. "/../../providers/?.lua;" .. package.path
local sandboxes = require "mynode.sandboxes"

local REFUSED = "FAILED_PRECONDITION: failed to remove container \"c1\": " ..
                "cannot delete running task c1: failed precondition"

local function methods()
  local out = {}
  for _, c in ipairs(mock.calls("cri")) do
    local id = c.request.container_id or c.request.pod_sandbox_id or ""
    out[#out + 1] = c.method .. "(" .. id .. ")"
  end
  return table.concat(out, " ")
end

local function containers(list)
  mock.cri {method = "list_containers", respond = {containers = list}}
end

describe("mynode sandbox removal", function()
  before_each(function()
    mock.reset()
    mock.cri {method = "stop_pod_sandbox", respond = {}}
  end)

  it("a sandbox removed at once needs nothing else", function()
    mock.cri {method = "remove_pod_sandbox", respond = {}}
    sandboxes.remove("sb")
    expect(methods()):to_be("stop_pod_sandbox(sb) remove_pod_sandbox(sb)")
  end)

  it("a task left under an exited container is killed, waited for and deleted, then the sandbox removed", function()
    mock.cri {method = "remove_pod_sandbox", error = REFUSED, times = 1}
    mock.cri {method = "remove_pod_sandbox", respond = {}}
    containers {{id = "c1", state = "CONTAINER_EXITED", metadata = {name = "app"}},
                {id = "c2", state = "CONTAINER_RUNNING", metadata = {name = "side"}}}
    mock.cri {method = "task_kill", respond = {}}
    mock.cri {method = "task_wait", respond = {exit_status = 137}}
    mock.cri {method = "task_delete", respond = {id = "c1", exit_status = 137}}
    sandboxes.remove("sb")
    -- c2 is running as far as the CRI knows: its stop is the CRI's
    expect(methods()):to_be("stop_pod_sandbox(sb) remove_pod_sandbox(sb) list_containers() " ..
                            "task_kill(c1) task_wait(c1) task_delete(c1) remove_pod_sandbox(sb)")
    local kill = mock.calls("cri")[4].request
    expect(kill.signal == 9 and kill.all == true, "signal " .. tostring(kill.signal)):to_be_truthy()
  end)

  it("a task that has already exited refuses the kill and is deleted without a wait", function()
    mock.cri {method = "remove_pod_sandbox", error = REFUSED, times = 1}
    mock.cri {method = "remove_pod_sandbox", respond = {}}
    containers {{id = "c1", state = "CONTAINER_EXITED", metadata = {name = "app"}}}
    mock.cri {method = "task_kill", error = "NOT_FOUND: process already finished: not found"}
    mock.cri {method = "task_delete", respond = {id = "c1"}}
    sandboxes.remove("sb")
    expect(methods()):to_be("stop_pod_sandbox(sb) remove_pod_sandbox(sb) list_containers() " ..
                            "task_kill(c1) task_delete(c1) remove_pod_sandbox(sb)")
  end)

  it("with no task to delete the runtime's refusal is raised as it was", function()
    mock.cri {method = "remove_pod_sandbox", error = REFUSED}
    containers {{id = "c1", state = "CONTAINER_EXITED", metadata = {name = "app"}}}
    mock.cri {method = "task_kill", error = "NOT_FOUND: no running task found: task c1 not found: not found"}
    mock.cri {method = "task_delete", error = "NOT_FOUND: no running task found: task c1 not found: not found"}
    local ok, err = pcall(sandboxes.remove, "sb")
    expect(not ok and err:find("cannot delete running task c1", 1, true), tostring(err)):to_be_truthy()
    expect(methods()):to_be("stop_pod_sandbox(sb) remove_pod_sandbox(sb) list_containers() " ..
                            "task_kill(c1) task_delete(c1)")
  end)

  it("any other failure is raised without touching a task", function()
    mock.cri {method = "remove_pod_sandbox", error = "UNAVAILABLE: runtime endpoint unix:///x.sock: no such socket"}
    local ok, err = pcall(sandboxes.remove, "sb")
    expect(not ok and err:find("UNAVAILABLE", 1, true), tostring(err)):to_be_truthy()
    expect(methods()):to_be("stop_pod_sandbox(sb) remove_pod_sandbox(sb)")
  end)
end)
