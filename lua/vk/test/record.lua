-- vk test: what the provider did during the current test (`it`), for the
-- spec to check, and the problems the kit found that fail the test (a call
-- no mock answered).  Cleared before each `it`.
local R = {}

function R.clear()
  R.calls = {http = {}, cri = {}, kube = {}}
  R.notified = {} -- {namespace=, name=, status=, pod=}
  R.events = {}   -- {object=, type=, reason=, message=}
  R.logs = {}     -- {level=, message=, speaker=}
  R.problems = {} -- "file:line: message": each fails the test
end
R.clear()

function R.problem(msg) R.problems[#R.problems + 1] = msg end

return R
