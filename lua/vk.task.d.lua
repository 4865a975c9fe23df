---@meta
-- vk.spawn, vk.semaphore, vk.mutex (also `require "vk.task"`): tasks of a
-- provider's own and locks between tasks.  Built in (src/lua/bind_task.c).
--
--   local h = vk.spawn(stop_container, id, grace)   -- runs from the next loop turn
--   local ok, err = h:join()                        -- waits (yields) for it
--
--   local m = vk.mutex()
--   m:acquire()                                     -- yields while another task holds it
--   local ok, err = pcall(work)
--   m:release()
--
-- * A spawned task is a task like a callback: its own coroutine, the same
--   instruction and time budget, may yield on I/O.  Its error is logged with
--   its name ("provider create_pod ns/pod > task file.lua:12") and does not
--   reach the caller; join() returns it.  A hot reload does not stop it.
-- * Permits belong to the task that acquired them.  release() gives back one
--   of the current task's; a task that ends still holding permits (it
--   returned, raised, or was stopped by its budget) gives them back then, and
--   vk logs a warning with where they were acquired.  So a holder that dies
--   never blocks the others.
-- * acquire() never polls: it waits in a FIFO queue, and release() hands the
--   permit to the longest waiter (try_acquire cannot jump the queue).
-- * Only init, a callback or a spawned task can hold permits or spawn: not a
--   module's top level.

---@class vk
---@field task vk.task
---@field spawn fun(fn: fun(...): ..., ...): vk.Task
---@field semaphore fun(n: integer): vk.Semaphore
---@field mutex fun(): vk.Semaphore

---@class vk.task
local task = {}

--- Runs fn(...) as a task of its own, started on the next loop turn.
---@param fn fun(...): ...
---@param ... any
---@return vk.Task
function task.spawn(fn, ...) end

--- A semaphore with n permits (1 <= n <= 1000000).
---@param n integer
---@return vk.Semaphore
function task.semaphore(n) end

--- A semaphore of one permit that refuses a second acquire by its holder.
---@return vk.Semaphore
function task.mutex() end

---@class vk.Task
local Task = {}
--- Waits (yields) until the task ends: true and its results, or false and
--- its error.  May be called again, and by several tasks; not by the task
--- itself.
---@return boolean ok, any ...
function Task:join() end
--- Whether the task has ended.
---@return boolean
function Task:done() end

---@class vk.Semaphore
local Semaphore = {}
--- Takes a permit, yielding until one is free.  Returns true.
---@return true
function Semaphore:acquire() end
--- Takes a permit if one is free now (never yields).
---@return boolean
function Semaphore:try_acquire() end
--- Gives back one permit the current task holds (an error if it holds none).
function Semaphore:release() end
--- Free permits.
---@return integer
function Semaphore:available() end
--- Tasks waiting in acquire().
---@return integer
function Semaphore:waiting() end

return task
