-- mynode's pod status (providers/mynode/status.lua, pure): what kubelet
-- reports for a pod that has ended.  The real containers are in the e2e
-- tests (active_deadline_fails_the_pod_with_deadline_exceeded).
package.path = spec_dir .. "/../../providers/?.lua;" .. package.path
local C = require "mynode.common"
local S = require "mynode.status"

local NS = 1000000000

local function record(spec)
  spec.restartPolicy = spec.restartPolicy or "Always"
  return C.new_record {metadata = {namespace = "vk-test", name = "p", uid = "uid-p"}, spec = spec}
end

local function exited(id, code)
  return {id = id, state = "CONTAINER_EXITED", exit_code = code, reason = "", message = "",
          started_at = 1796104800 * NS, finished_at = 1796104810 * NS}
end

local function at_deadline(rec)
  rec.failed, rec.failed_reason = "Pod was active on the node longer than the specified deadline", "DeadlineExceeded"
end

local BUSYBOX = "docker.io/library/busybox:1.35"

describe("mynode status of a pod that ended", function()
  it("a container never created before the deadline ends ContainerStatusUnknown with exit code 137", function()
    local rec = record {containers = {{name = "c", image = BUSYBOX}}}
    expect(S.build(rec).containerStatuses[1].state.waiting.reason):to_be("ContainerCreating")
    at_deadline(rec)
    local st = S.build(rec)
    expect(st.phase):to_be("Failed")
    expect(st.reason):to_be("DeadlineExceeded")
    local cs = st.containerStatuses[1]
    expect(cs.state.waiting):to_be_nil()
    expect(cs.state.terminated):to_equal {exitCode = 137, reason = "ContainerStatusUnknown",
      message = "The container could not be located when the pod was terminated"}
    expect(cs.restartCount):to_be(0)
  end)

  it("a container that ran keeps its own exit, and waits for no restart once the pod ended", function()
    local rec = record {containers = {{name = "c", image = BUSYBOX}, {name = "d", image = BUSYBOX}}}
    rec.cs.c = {id = "c2", attempt = 2, info = exited("c2", 3), next_start_ms = 5000, backoff_ms = 20000,
                prev_info = exited("c1", 3)}
    local cs = S.build(rec).containerStatuses[1]
    expect(cs.state.waiting.reason):to_be("CrashLoopBackOff")
    at_deadline(rec)
    local st = S.build(rec)
    cs = st.containerStatuses[1]
    expect(cs.state.waiting):to_be_nil()
    expect(cs.state.terminated.exitCode):to_be(3)
    expect(cs.state.terminated.reason):to_be("Error")
    expect(cs.state.terminated.containerID):to_be("containerd://c2")
    expect(cs.lastState.terminated.containerID):to_be("containerd://c1")
    expect(cs.restartCount):to_be(2)
    -- the pod had initialized (c ran): d, never created, ends too
    expect(st.containerStatuses[2].state.terminated.reason):to_be("ContainerStatusUnknown")
  end)

  it("a failed init container leaves the later ones and the containers waiting, as nothing else started", function()
    local rec = record {restartPolicy = "Never",
                        initContainers = {{name = "i1", image = BUSYBOX}, {name = "i2", image = BUSYBOX}},
                        containers = {{name = "c", image = BUSYBOX}}}
    rec.cs.i1 = {id = "i1", attempt = 0, info = exited("i1", 1)}
    rec.failed = "init container i1 failed with exit code 1"
    local st = S.build(rec)
    expect(st.phase):to_be("Failed")
    expect(st.initContainerStatuses[1].state.terminated.exitCode):to_be(1)
    expect(st.initContainerStatuses[2].state.waiting.reason):to_be("PodInitializing")
    expect(st.containerStatuses[1].state.waiting.reason):to_be("PodInitializing")
  end)

  it("past the init containers, a deadline ends the containers that never started", function()
    local rec = record {initContainers = {{name = "i1", image = BUSYBOX}},
                        containers = {{name = "c", image = BUSYBOX}}}
    rec.cs.i1 = {id = "i1", attempt = 0, info = exited("i1", 0)}
    rec.init_done = true
    at_deadline(rec)
    local st = S.build(rec)
    expect(st.initContainerStatuses[1].state.terminated.reason):to_be("Completed")
    expect(st.containerStatuses[1].state.terminated.reason):to_be("ContainerStatusUnknown")
  end)

  it("the first init container ends even if none started; the others wait", function()
    local rec = record {initContainers = {{name = "i1", image = BUSYBOX}, {name = "i2", image = BUSYBOX}},
                        containers = {{name = "c", image = BUSYBOX}}}
    at_deadline(rec)
    local st = S.build(rec)
    expect(st.initContainerStatuses[1].state.terminated.exitCode):to_be(137)
    expect(st.initContainerStatuses[2].state.waiting.reason):to_be("PodInitializing")
    expect(st.containerStatuses[1].state.waiting.reason):to_be("PodInitializing")
  end)
end)
