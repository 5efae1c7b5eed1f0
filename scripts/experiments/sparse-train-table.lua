-- The table of scripts/experiments/sparse-train-grid.sh: per method, the final test error
-- (mean ± sample std over the seeds found), the final per-layer densities (seed 0), the wall
-- time per run (mean, from the grid's `done` files) and the load average beside it.
-- workbench run scripts/experiments/sparse-train-table.lua [OUT=out/sparse-train-grid]
local json = require 'lib.json'
local out = arg[1] or 'out/sparse-train-grid'
local methods = {'dense', 'thin-dense', 'static', 'set', 'dsr', 'deepr', 'tied', 'gradual-exp', 'gradual-cubic'}

local read = require('lib.files').read

local function stats(xs)
  local n, m = #xs, 0
  for _, x in ipairs(xs) do m = m + x end
  m = m / n
  local v = 0
  for _, x in ipairs(xs) do v = v + (x - m) ^ 2 end
  return m, n > 1 and math.sqrt(v / (n - 1)) or 0
end

print('| method | weights | test error % (mean ± std) | seeds | final density fc1 / fc2 / fc3 | wall time per run (s) | load average |')
print('|---|---|---|---|---|---|---|')
for _, method in ipairs(methods) do
  local errors, times, loads, density, weights = {}, {}, {}, nil, nil
  for seed = 0, 9 do
    local dir = string.format('%s/%s_s%d', out, method, seed)
    local text = read(dir .. '/mnist_mlp_0.json') or read(dir .. '/mnist_mlp_0_target_0.98,0.5.json')
    local done = read(dir .. '/done')
    if text and done then
      local j = json.decode(text)
      errors[#errors + 1] = 100 - j.test_prec1[#j.test_prec1]
      local s, e, l1 = done:match('^(%S+) (%S+) (%S+)')
      times[#times + 1] = tonumber(e) - tonumber(s)
      loads[#loads + 1] = tonumber(l1)
      if not density then
        density = j.density
        weights = j.model_size.sparse + j.model_size.tied
      end
    end
  end
  if #errors > 0 then
    local m, sd = stats(errors)
    local t = stats(times)
    local l = stats(loads)
    local d = {}
    for i, x in ipairs(density) do d[i] = string.format('%.4f', x) end
    print(string.format('| %s | %d | %.2f ± %.2f | %d | %s | %.0f | %.1f |', method, weights, m, sd, #errors,
      table.concat(d, ' / '), t, l))
  end
end
