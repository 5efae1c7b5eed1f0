-- One training step (forward + backward of the loss) of a model of scripts/models/ at CIFAR's
-- shape on fixed random data, best of 3 after a warm-up:
--   workbench run -threads 2 scripts/bench/zoo-step.lua resnet20 [batch = 128]
local name, batch = ...
batch = tonumber(batch) or 128
local net = dofile(wb.scriptsDirectory() .. '/models/' .. name .. '.lua')
local crit = nn.CrossEntropyCriterion()
local x = torch.randn(batch, 3, 32, 32)
local t = torch.Tensor(batch); for i = 1, batch do t[i] = (i % 10) + 1 end
local best = math.huge
for i = 1, 4 do
  local t0 = wb.clock and wb.clock() or os.clock()
  net:zeroGradParameters()
  local y = net:forward(x)
  crit:forward(y, t)
  net:backward(x, crit:backward(y, t))
  local dt = (wb.clock and wb.clock() or os.clock()) - t0
  if i > 1 then best = math.min(best, dt) end
end
print(string.format('%s batch %d: best step %.3f s (%s)', name, batch, best, wb.clock and 'wall' or 'cpu'))
