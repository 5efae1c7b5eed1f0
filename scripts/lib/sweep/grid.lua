-- The grid of a sensitivity sweep (`workbench sweep`): its settings, checked before any work,
-- kept in <out>/sweep.json so that every process of the sweep (local workers, Slurm tasks,
-- --merge) works on the same grid, and its cells in a fixed order (pruner, layer, level, seed).
--   local grid = require 'lib.sweep.grid'
--   local S = grid.settings(opt)     -- the flags, checked; errors name the flag
--   grid.keep(S, out)                -- writes <out>/sweep.json, or checks it holds the same sweep
--   local cells = grid.cells(S)      -- {{index, layer, level, pruner, seed, name, parameter}, ...}
local flow = require 'lib.flow'
local json = require 'lib.json'

local grid = {}

grid.settingsFile = 'sweep.json'
grid.version = 1
local syntax = 'START:STOP:STEP (e.g. 0:1:0.05) or a list (e.g. 0.1,0.5,0.9)'

-- The comma-separated fields of `text`, trimmed; an empty field is an error naming `flag`.
local function fields(text, flag)
  local out = {}
  for field in (text .. ','):gmatch('([^,]*),') do
    local s = field:match('^%s*(.-)%s*$')
    if s == '' then error(string.format("%s: empty entry in '%s'", flag, text), 0) end
    out[#out + 1] = s
  end
  return out
end

-- Refuses a value listed twice.
local function unique(values, flag, show)
  local seen = {}
  for _, v in ipairs(values) do
    local key = show(v)
    if seen[key] then error(string.format('%s: %s is listed twice', flag, key), 0) end
    seen[key] = true
  end
end

-- A level with the digits that tell it apart, snapped to 12 significant digits so that
-- START + k STEP gives 0.15, not 0.15000000000000002.
local function snap(x)
  return tonumber(string.format('%.12g', x))
end

-- "--levels": START:STOP:STEP (STOP included when the steps reach it) or a list; every level
-- in [0, 1], none twice.
function grid.levels(text)
  local flag = '--levels'
  local function number(s)
    local x = tonumber(s)
    if not x or x ~= x or x == math.huge or x == -math.huge then
      error(string.format("%s: '%s' is not a number; expected %s", flag, s, syntax), 0)
    end
    return x
  end
  local function inside(x)
    if x < 0 or x > 1 then
      error(string.format('%s: %s is outside [0, 1] (a level is the fraction of the layer pruned)', flag, flow.exact(x)), 0)
    end
    return x
  end
  local levels = {}
  if text:find(':') then
    local parts = {}
    for p in (text .. ':'):gmatch('([^:]*):') do parts[#parts + 1] = p:match('^%s*(.-)%s*$') end
    if #parts ~= 3 then error(string.format("%s: '%s' is not %s", flag, text, syntax), 0) end
    local start, stop, step = inside(number(parts[1])), inside(number(parts[2])), number(parts[3])
    if step <= 0 then error(string.format('%s: the step must be positive, got %s', flag, parts[3]), 0) end
    if stop < start then error(string.format('%s: STOP %s is below START %s', flag, parts[2], parts[1]), 0) end
    local count = math.floor((stop - start) / step + 1e-9) + 1
    if count > 10000 then error(string.format('%s: %d levels; at most 10000', flag, count), 0) end
    for k = 0, count - 1 do levels[#levels + 1] = math.min(stop, snap(start + k * step)) end
  else
    for _, s in ipairs(fields(text, flag)) do levels[#levels + 1] = inside(number(s)) end
  end
  unique(levels, flag, flow.exact)
  return levels
end

-- Non-negative integers (seeds): "0,1,2".
local function integers(text, flag, what, most)
  local out = {}
  for _, s in ipairs(fields(text, flag)) do
    local x = tonumber(s)
    if not x or math.type(x) ~= 'integer' or x < 0 or x > most then
      error(string.format("%s: '%s' is not %s", flag, s, what), 0)
    end
    out[#out + 1] = x
  end
  unique(out, flag, tostring)
  return out
end

-- "--layers": layer indices (1-based) of layers with weights; default every such layer.
function grid.layers(text, model)
  local all = {}
  for l = 1, #model do
    if model:get(l).weight then all[#all + 1] = l end
  end
  if not text or text == '' then return all end
  local layers = {}
  for _, s in ipairs(fields(text, '--layers')) do
    local l = tonumber(s)
    if not l or math.type(l) ~= 'integer' then
      error(string.format("--layers: '%s' is not a layer index (layers with weights here: %s)", s, table.concat(all, ',')), 0)
    end
    if l < 1 or l > #model then
      error(string.format('--layers: layer %d does not exist: the model has layers 1..%d (with weights: %s)',
        l, #model, table.concat(all, ',')), 0)
    end
    if not model:get(l).weight then
      error(string.format('--layers: layer %d (%s) has no weights to prune (layers with weights: %s)',
        l, tostring(model:get(l)), table.concat(all, ',')), 0)
    end
    layers[#layers + 1] = l
  end
  unique(layers, '--layers', tostring)
  return layers
end

-- "--pruners": names of wb.pruners() (after --pruner-file has registered its own).
function grid.pruners(text)
  local pruners = fields(text, '--pruners')
  local known = {}
  for _, name in ipairs(wb.pruners()) do known[name] = true end
  for _, p in ipairs(pruners) do
    if not known[p] then
      error(string.format("--pruners: unknown pruner '%s'; known: %s (or register one with --pruner-file)",
        p, table.concat(wb.pruners(), ', ')), 0)
    end
    if not p:match('^[%w_%-]+$') then
      error(string.format("--pruners: '%s' cannot name a file; use letters, digits, '_' and '-'", p), 0)
    end
  end
  unique(pruners, '--pruners', tostring)
  return pruners
end

-- Refuses a dataset that cannot be loaded (reading one image of each split).
function grid.checkData(data)
  local ok, why = pcall(wb.loadData, data, {train = 1, test = 1})
  if not ok then error(string.format('--data %s: %s', data, tostring(why):gsub('^[^\n]-%.lua:%d+: ', '')), 0) end
end

-- The sweep's settings from the command's `opt`, every flag checked (the model is loaded to
-- check the layers). Everything that decides a cell's numbers is here, threads included.
function grid.settings(opt)
  if opt.prunerFile then dofile(opt.prunerFile) end
  local modelPath = opt.model:match('%.safetensors$') and opt.model or opt.model:match('%.wbz$') and opt.model
    or flow.modelFile(opt.inp, opt.model)
  local ok, model = pcall(wb.loadModel, modelPath)
  if not ok then
    error(string.format('--model %s: %s', opt.model, tostring(model):gsub('^[^\n]-%.lua:%d+: ', '')), 0)
  end
  grid.checkData(opt.data)
  flow.parseOptions(opt.prunerOptions)
  local int = math.tointeger
  return {
    version = grid.version, model = modelPath, data = opt.data, trainSize = int(opt.trainSize), testSize = int(opt.testSize),
    layers = grid.layers(opt.layers, model), levels = grid.levels(opt.levels), pruners = grid.pruners(opt.pruners),
    seeds = integers(opt.seeds, '--seeds', 'a seed (an integer in 0...2^53-1)', 2^53 - 1),
    retrainEpochs = int(opt.retrainEpochs), lr = opt.lr, momentum = opt.momentum, weightDecay = opt.weightDecay,
    batchSize = int(opt.batchSize), scoreSize = int(opt.scoreSize), scoreSet = opt.scoreSet,
    prunerOptions = opt.prunerOptions, prunerFile = opt.prunerFile or '', threads = int(opt.threads),
  }
end

-- Writes <out>/sweep.json, or (when it exists) checks that it holds these settings: a rerun
-- with the same flags resumes; other flags into the same folder are refused, naming the first
-- setting that differs.
function grid.keep(S, out)
  local path = flow.path(out, grid.settingsFile)
  local text = json.encode(S)
  local f = io.open(path, 'r')
  if not f then
    flow.ensureFolder(out)
    wb.writeFile(path, text)
    return
  end
  local old = f:read('a')
  f:close()
  if old == text then return end
  local ok, was = pcall(json.decode, old, path)
  local keys = {}
  for k in pairs(S) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local a = not ok and '?' or was[k] == nil and 'absent' or json.encode(was[k])
    local b = json.encode(S[k])
    if a ~= b then
      error(string.format('%s holds another sweep (%s was %s, now %s): rerun with the same flags to resume it, '
        .. 'or give another --out', path, k, a:gsub('%s+', ' '), b:gsub('%s+', ' ')), 0)
    end
  end
  error(string.format('%s is not a sweep of this version: give another --out', path), 0)
end

-- The settings of the sweep in `out` (for workers, Slurm tasks and --merge).
function grid.load(out)
  local path = flow.path(out, grid.settingsFile)
  local f = io.open(path, 'r')
  if not f then error(string.format('%s: no sweep here (no %s); start one with workbench sweep --out %s', out, grid.settingsFile, out), 0) end
  local S = json.decode(f:read('a'), path)
  f:close()
  if S.version ~= grid.version then error(string.format('%s: a sweep of another version (%s)', path, tostring(S.version)), 0) end
  if S.prunerFile ~= '' then dofile(S.prunerFile) end
  return S
end

-- The cells in order: for each pruner, layer, level and seed. A cell's name (its result file)
-- says what it is: mag_l8_p0.35_s0; `parameter` is the PyTorch state_dict key of its weight.
function grid.cells(S)
  local cells = {}
  for _, pruner in ipairs(S.pruners) do
    for _, layer in ipairs(S.layers) do
      for _, level in ipairs(S.levels) do
        for _, seed in ipairs(S.seeds) do
          local c = {index = #cells + 1, pruner = pruner, layer = layer, level = level, seed = seed,
                     parameter = string.format('%d.weight', layer - 1)}
          c.name = string.format('%s_l%d_p%s_s%d', pruner, layer, flow.exact(level), seed)
          cells[#cells + 1] = c
        end
      end
    end
  end
  return cells
end

-- "layer 8, level 0.35, pruner mag, seed 0": a cell as messages name it.
function grid.describe(c)
  return string.format('layer %d, level %s, pruner %s, seed %d', c.layer, flow.exact(c.level), c.pruner, c.seed)
end

return grid
