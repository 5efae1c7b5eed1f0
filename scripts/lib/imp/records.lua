-- IMP's output files, for one run prefix P = <save_dir>/<prefix>:
--   P_out.dat                the original's lines: every validate_step
--                            "Step: %7d, TE: %5.3f, VE: %5.3f", per iteration
--                            "Ratios: [...]; more than 0 connections: NNConn; Emin: e"
--   P_itdata_<it>.json       one iteration: settings, ratios, step lists, errors, densities
--   P_itdata_<it>.safetensors  its weights at the saved steps, batch-norm averages, masks
--   P_findata.csv            one row per iteration
-- Finished iterations are written atomically (wb.writeFile); the running iteration's lines
-- are appended to P_out.dat as they come and the file is rewritten whole at its end.
local json = require 'lib.json'

local records = {}

function records.path(base, suffix) return base .. '_' .. suffix end

local function basename(p) return p:match('[^/]+$') end
local function dirname(p) return p:match('^(.*)/[^/]*$') or '.' end

local readAll = require('lib.files').read

-- The out.dat log: finished text, and the running iteration's lines appended to the file.
function records.openLog(base, keep)
  local log = {path = records.path(base, 'out.dat'), done = keep or ''}
  wb.writeFile(log.path, log.done)
  log.file = assert(io.open(log.path, 'a'))
  log.current = {}
  function log:line(s)
    self.current[#self.current + 1] = s
    self.file:write(s, '\n')
    self.file:flush()
  end
  function log:finishIteration()
    self.file:close()
    self.done = self.done .. table.concat(self.current, '\n') .. '\n'
    wb.writeFile(self.path, self.done)
    self.current = {}
    self.file = assert(io.open(self.path, 'a'))
  end
  function log:close() self.file:close() end
  return log
end

-- The lines of out.dat for iterations before `it` (each ends with its "Ratios:" line).
function records.logBefore(base, it)
  local text = readAll(records.path(base, 'out.dat')) or ''
  local kept, count = {}, 0
  if it == 0 then return '' end
  for line in text:gmatch('[^\n]+') do
    kept[#kept + 1] = line
    if line:match('^Ratios:') then
      count = count + 1
      if count == it then return table.concat(kept, '\n') .. '\n' end
    end
  end
  error(string.format('%s holds %d finished iterations; restarting at iteration %d needs %d', records.path(base, 'out.dat'), count, it, it), 0)
end

-- Tensor names in the safetensors file: step<s>.layer<l>.{W,b,gamma,beta,running_mean,running_var}
-- and mask.layer<l>.{W,b}.
local fields = {{'W', 'W'}, {'b', 'b'}, {'gamma', 'gamma'}, {'beta', 'beta'}, {'mean', 'running_mean'}, {'var', 'running_var'}}

function records.saveIteration(base, it, record, snapshots, savedSteps, layerMasks, layers)
  local tensors = {}
  for _, st in ipairs(savedSteps) do
    local snap = snapshots[st]
    for l, info in ipairs(layers) do
      if info.linear then
        for _, f in ipairs(fields) do
          local t = snap[l][f[1]]
          if t then tensors[#tensors + 1] = {string.format('step%d.layer%d.%s', st, l, f[2]), t} end
        end
      end
    end
  end
  for l, info in ipairs(layers) do
    if info.linear then
      tensors[#tensors + 1] = {string.format('mask.layer%d.W', l), layerMasks[l].W}
      tensors[#tensors + 1] = {string.format('mask.layer%d.b', l), layerMasks[l].b}
    end
  end
  local file = records.path(base, string.format('itdata_%d.safetensors', it))
  record.tensors = basename(file)
  wb.saveTensors(file, tensors, {iteration = tostring(it), arch = record.arch})
  wb.writeFile(records.path(base, string.format('itdata_%d.json', it)), json.encode(record))
end

-- An iteration's record back from its JSON file, with its tensors:
-- record, snapshots[step][l] = {W, b, gamma, beta, mean, var}, masks[l] = {W, b}.
function records.loadIteration(path, layers, what)
  local text = readAll(path)
  if not text then error(string.format('%s: cannot read %s', what, path), 0) end
  local record = json.decode(text, path)
  if type(record) ~= 'table' or type(record.saved_steps) ~= 'table' or type(record.tensors) ~= 'string' then
    error(string.format('%s: %s is not an itdata file of workbench imp', what, path), 0)
  end
  local ok, tensors = pcall(wb.loadTensors, dirname(path) .. '/' .. record.tensors)
  if not ok then error(string.format('%s: %s', what, tensors), 0) end
  local function get(name, like)
    local t = tensors[name]
    if not t or t:numel() ~= like:numel() then
      error(string.format('%s: %s lacks tensor %s of %d values (another architecture?)', what, record.tensors, name, like:numel()), 0)
    end
    return t:view(like:size())
  end
  local snapshots, masks = {}, {}
  for _, st in ipairs(record.saved_steps) do
    snapshots[st] = {}
    for l, info in ipairs(layers) do
      if info.linear then
        local s = {W = get(string.format('step%d.layer%d.W', st, l), info.linear.weight),
                   b = get(string.format('step%d.layer%d.b', st, l), info.linear.bias)}
        if info.bn then
          for _, f in ipairs{{'gamma', 'gamma'}, {'beta', 'beta'}, {'mean', 'running_mean'}, {'var', 'running_var'}} do
            s[f[1]] = get(string.format('step%d.layer%d.%s', st, l, f[2]), info.bn.weight)
          end
        end
        snapshots[st][l] = s
      end
    end
  end
  for l, info in ipairs(layers) do
    if info.linear then
      masks[l] = {W = get(string.format('mask.layer%d.W', l), info.linear.weight),
                  b = get(string.format('mask.layer%d.b', l), info.linear.bias)}
    end
  end
  return record, snapshots, masks
end

-- findata.csv: a header and one row per iteration, rewritten whole after each.
function records.findataHeader(layers)
  local h = {'iteration'}
  for l, info in ipairs(layers) do
    if info.linear then h[#h + 1] = string.format('left_layer%d', l) end
  end
  for _, c in ipairs{'left_pruned', 'left_overall', 'connected', 'best_val_error', 'final_val_error', 'seconds'} do h[#h + 1] = c end
  return table.concat(h, ',')
end

function records.findataRow(record)
  local r = {tostring(record.iteration)}
  for _, x in ipairs(record.left) do r[#r + 1] = string.format('%.6f', x) end
  for _, x in ipairs{record.left_pruned, record.left_overall, record.nnconn, record.best_val_error, record.final_val_error} do
    r[#r + 1] = string.format('%.6f', x)
  end
  r[#r + 1] = string.format('%.2f', record.seconds)
  return table.concat(r, ',')
end

-- Rows of an existing findata.csv for iterations before `it` (restart), checked.
function records.findataBefore(base, it, header)
  local path = records.path(base, 'findata.csv')
  local text = readAll(path)
  if it == 0 then return {} end
  if not text then error(string.format('restart: %s is missing', path), 0) end
  local rows = {}
  for line in text:gmatch('[^\n]+') do
    if line ~= header then
      local n = tonumber(line:match('^(%d+),'))
      if n and n < it then rows[#rows + 1] = line end
    end
  end
  if #rows ~= it then error(string.format('restart: %s holds %d of the %d iterations before %d', path, #rows, it, it), 0) end
  return rows
end

function records.writeFindata(base, header, rows)
  wb.writeFile(records.path(base, 'findata.csv'), header .. '\n' .. table.concat(rows, '\n') .. '\n')
end

-- (left_overall, best validation accuracy) of each findata row, for the accuracy plot.
function records.accuracyPoints(header, rows)
  local cols = {}
  for name in header:gmatch('[^,]+') do cols[#cols + 1] = name end
  local points = {}
  for _, line in ipairs(rows) do
    local v = {}
    local i = 0
    for field in line:gmatch('[^,]+') do i = i + 1; v[cols[i]] = tonumber(field) end
    points[#points + 1] = {v.left_overall, 1 - v.best_val_error}
  end
  return points
end

return records
