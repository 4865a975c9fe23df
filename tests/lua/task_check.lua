-- vk.spawn, vk.semaphore and vk.mutex checks, run by tests/unit/lua_checks.c
-- with a 500 ms budget per run (LUA_CHECK_MAX_MS).
local timer = require "vk.timer"
local P = {}
local T = require "checks"
local check, expect = T.check, T.expect

-- Waits (yielding) until cond() holds; tasks start on the next loop turn.
local function settle(cond)
  for _ = 1, 2000 do
    if cond() then return end
    timer.sleep(1)
  end
  error("condition not reached", 2)
end

-- At a module's top level there is no task to run or hold anything.
local top_spawn_ok, top_spawn_err = pcall(vk.spawn, function() end)
local top_mutex = vk.mutex()
local top_acquire_ok, top_acquire_err = pcall(top_mutex.try_acquire, top_mutex)

function P.init()
  check("spawn and permits are refused at a module's top level", function()
    expect(not top_spawn_ok and top_spawn_err:find("not a module's top level", 1, true), top_spawn_err)
    expect(not top_acquire_ok and top_acquire_err:find("not a module's top level", 1, true), top_acquire_err)
  end)
  check("spawn runs fn(...) as a task of its own, later, and join gives its results", function()
    local ran = false
    local h = vk.spawn(function(a, b)
      ran = true
      timer.sleep(1)
      return a + b, "x", nil
    end, 2, 3)
    expect(not ran, "fn ran inside vk.spawn")
    expect(not h:done(), "done before it ran")
    local ok, sum, x = h:join()
    expect(ok == true and sum == 5 and x == "x",
           ("join gave %s %s %s"):format(tostring(ok), tostring(sum), tostring(x)))
    expect(h:done(), "done after join")
    local again_ok, again = h:join()
    expect(again_ok and again == 5, "a second join gives the results again")
    expect(select("#", h:join()) == 4, "join keeps every result, nil included")
  end)
  check("an error in a spawned task stays in it: join gives false and the message", function()
    local h = vk.spawn(function() error("boom") end)
    local ok, err = h:join()
    expect(ok == false and tostring(err):find("boom", 1, true), tostring(err))
  end)
  check("many joiners of one task are all woken", function()
    local gate = vk.mutex()
    gate:acquire()
    local worker = vk.spawn(function()
      gate:acquire()
      gate:release()
      return 42
    end)
    local got = {}
    local joiners = {}
    for i = 1, 3 do
      joiners[i] = vk.spawn(function()
        local ok, v = worker:join()
        got[#got + 1] = ok and v
      end)
    end
    settle(function() return gate:waiting() == 1 end)
    gate:release()
    for i = 1, 3 do expect(joiners[i]:join(), "joiner " .. i) end
    expect(#got == 3 and got[1] == 42 and got[3] == 42, "every joiner got 42")
  end)
  check("a mutex hands itself to its waiters in FIFO order, without barging", function()
    local m = vk.mutex()
    m:acquire()
    local order, tasks = {}, {}
    for i = 1, 4 do
      tasks[i] = vk.spawn(function()
        m:acquire()
        order[#order + 1] = i
        timer.sleep(1)
        m:release()
      end)
    end
    settle(function() return m:waiting() == 4 end)
    expect(m:available() == 0, "held")
    m:release()
    expect(m:try_acquire() == false, "a try_acquire right after release does not jump the queue")
    for i = 1, 4 do expect(tasks[i]:join(), "task " .. i) end
    expect(table.concat(order, ",") == "1,2,3,4", "order " .. table.concat(order, ","))
    expect(m:available() == 1 and m:waiting() == 0, "free at the end")
  end)
  check("a semaphore lets n tasks in at once", function()
    local s = vk.semaphore(2)
    local inside, most, tasks = 0, 0, {}
    for i = 1, 6 do
      tasks[i] = vk.spawn(function()
        s:acquire()
        inside = inside + 1
        if inside > most then most = inside end
        timer.sleep(2)
        inside = inside - 1
        s:release()
      end)
    end
    for i = 1, 6 do expect(tasks[i]:join(), "task " .. i) end
    expect(most == 2, "at most " .. most .. " inside")
    expect(s:available() == 2, "every permit back")
  end)
  check("a task that raises while holding a mutex gives it back", function()
    local m = vk.mutex()
    local h = vk.spawn(function()
      m:acquire()
      error("died holding it")
    end)
    expect(h:join() == false, "the task failed")
    expect(m:try_acquire(), "the mutex is free again")
    m:release()
  end)
  check("a task that returns without releasing gives its permits back", function()
    local s = vk.semaphore(3)
    vk.spawn(function()
      s:acquire()
      s:acquire()
    end):join()
    expect(s:available() == 3, "available " .. s:available())
  end)
  check("a waiter gets the mutex when its holder is killed by the budget", function()
    local m = vk.mutex()
    local holder = vk.spawn(function()
      m:acquire()
      timer.sleep(5)
      while true do end
    end)
    local waiter = vk.spawn(function()
      settle(function() return m:available() == 0 end)
      m:acquire()
      m:release()
      return "got it"
    end)
    local hok, herr = holder:join()
    expect(hok == false and tostring(herr):find("budget", 1, true), tostring(herr))
    local wok, v = waiter:join()
    expect(wok and v == "got it", tostring(v))
  end)
  check("misuse is a clear error", function()
    local m = vk.mutex()
    m:acquire()
    local ok, err = pcall(m.acquire, m)
    expect(not ok and err:find("vk.mutex:acquire: this task already holds it %(acquired at .-task_check%.lua:%d+%)"),
           err)
    m:release()
    ok, err = pcall(m.release, m)
    expect(not ok and err:find("vk.mutex:release: this task holds none of its permits", 1, true), err)
    ok, err = pcall(vk.semaphore, 0)
    expect(not ok and err:find("n must be between 1 and 1000000", 1, true), err)
    ok, err = pcall(vk.spawn, 42)
    expect(not ok and err:find("function expected", 1, true), err)
    local self_h
    self_h = vk.spawn(function() return pcall(self_h.join, self_h) end)
    local jok, pok, perr = self_h:join()
    expect(jok and pok == false and perr:find("vk.task:join: a task cannot join itself", 1, true), tostring(perr))
  end)
  check("acquire and join inside a coroutine the provider made are refused clearly", function()
    local m = vk.semaphore(1)
    m:acquire()
    local co = coroutine.wrap(function() return pcall(m.acquire, m) end)
    local ok, err = co()
    expect(not ok and err:find("inside a coroutine the provider created", 1, true), tostring(err))
    local h = vk.spawn(function() end)
    ok, err = coroutine.wrap(function() return pcall(h.join, h) end)()
    expect(not ok and err:find("inside a coroutine the provider created", 1, true), tostring(err))
    expect(m:waiting() == 0, "no waiter was queued")
    m:release()
    expect(h:join(), "the task itself ran")
  end)
  check("vk.task is the module behind vk.spawn, vk.semaphore and vk.mutex", function()
    local task = require "vk.task"
    expect(task.spawn == vk.spawn and task.mutex == vk.mutex and task.semaphore == vk.semaphore)
  end)
end

P.get_pods = T.results
function P.create_pod() end
function P.delete_pod() end
function P.get_pod_status() end

return P
