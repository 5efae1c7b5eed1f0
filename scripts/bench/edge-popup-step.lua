-- The edge-popup step against a dense step of the same net (FC 784-300-100-10, batch 128,
-- Fashion-MNIST): an edge-popup step chooses every layer's top-k of |scores| (k = 0.5),
-- runs forward and backward to the scores and steps them (weights frozen); a dense step
-- trains the weights. Prints the median time per step of each over `rounds` rounds of `steps`
-- steps (and the process CPU time per step, steady under load with -threads 1), their ratio
-- (target ≤ 1.3), and one 20-epoch run's time estimated from the epoch.
-- workbench run -threads 2 scripts/bench/edge-popup-step.lua [steps=50] [rounds=5]
local nets = require 'lib.edgepopup.nets'
local steps, rounds = tonumber(arg[1]) or 50, tonumber(arg[2]) or 5
local train = wb.loadData('fashion-mnist')

local function trainer(subnet)
  torch.manualSeed(0)
  local net = nets.build('FC', 1, 28, 28)
  for _, m in ipairs(nets.weightLayers(net)) do
    if subnet then
      m:setScores(m.weight:clone():uniform(-1, 1), 0.5)
      m:freeze('weight')
    end
  end
  local opt = wb.SGD{lr = 0.1, momentum = 0.9, weightDecay = 1e-4}
  return wb.Trainer{model = net, optimizer = opt, batchSize = 128, seed = 1}
end

local function median(t) table.sort(t) return t[(#t + 1) // 2] end

-- The rounds of the two alternate (dense, edge-popup, dense, ...), so that a change in the
-- machine's load between them moves both alike.
local result, t, times, cpu = {}, {}, {}, {}
local kinds = {'dense', 'edge-popup'}
for _, kind in ipairs(kinds) do
  t[kind], times[kind], cpu[kind] = trainer(kind == 'edge-popup'), {}, {}
  t[kind]:steps(train, 5)   -- warm-up
end
for r = 1, rounds do
  for _, kind in ipairs(kinds) do
    local s, c = wb.clock(), os.clock()
    t[kind]:steps(train, steps)
    times[kind][r], cpu[kind][r] = (wb.clock() - s) / steps, (os.clock() - c) / steps
  end
end
for _, kind in ipairs(kinds) do
  result[kind], result[kind .. ' cpu'] = median(times[kind]), median(cpu[kind])
  local e = wb.clock()
  t[kind]:epoch(train)
  result[kind .. ' epoch'] = wb.clock() - e
  print(string.format('%-10s step %.3f ms (median of %d x %d steps; %.3f ms of process CPU time); one epoch %.2f s', kind,
    1000 * result[kind], rounds, steps, 1000 * result[kind .. ' cpu'], result[kind .. ' epoch']))
end
print(string.format('edge-popup step / dense step = %.2f (target <= 1.3)', result['edge-popup'] / result.dense))
-- On a shared machine the wall times move with the load; with -threads 1 the CPU times do not.
print(string.format('  in process CPU time: %.2f', result['edge-popup cpu'] / result['dense cpu']))
print(string.format('20 epochs of edge-popup training (without evaluation): %.1f s (target <= 30 s)', 20 * result['edge-popup epoch']))
local stalls, alone = wb.poolStalls()
if wb.threads() > 1 then print(string.format('worker pool: %d stalls on a preempted worker, %d regions run alone after them', stalls, alone)) end
