-- TensorBoard logging for the workbench's scripts (`-tensorboard DIR` / `--tensorboard DIR`):
--   local tensorboard = require 'lib.tensorboard'
--   local tb = tensorboard.open(opt.tensorboard)        -- DIR, or nil: then nothing is written
--   local run = tb:run('iteration_1')                   -- a writer in DIR/iteration_1 (a run TensorBoard overlays)
--   tb:scalar('test/error', 8.36, step); tb:close()
-- A writer is a wb.SummaryWriter (one event file per writer); the runs a writer opened are
-- closed with it.
local tensorboard = {}

local Writer = {}
Writer.__index = Writer

function Writer:scalar(tag, value, step)
  if self.writer then self.writer:scalar(tag, value, step) end
end

function Writer:run(name)
  local child = tensorboard.open(self.dir and (self.dir .. '/' .. name))
  self.children[#self.children + 1] = child
  return child
end

function Writer:close()
  for _, child in ipairs(self.children) do child:close() end
  if self.writer then self.writer:close() end
end

function tensorboard.open(dir)
  local w = setmetatable({dir = dir, children = {}}, Writer)
  if dir and dir ~= '' then w.writer = wb.SummaryWriter(dir) end
  return w
end

return tensorboard
