-- The files of an edge-popup run, laid out as allenai/hidden-networks' main.py lays them:
--   <log_dir>/results.csv                        one line per finished run (header below)
--   <log_dir>/<config>/<name>/prune_rate=<k>/    the run folder; when it holds logs/ or
--     [<n>/]                                     checkpoints/ already, the first free 0, 1, ...
--     settings.txt, logs/ (TensorBoard), checkpoints/
-- Every file is written whole (wb.writeFile: a temporary file, then a rename).
local files = require 'lib.files'
local outputs = {}

outputs.header = 'Date Finished, Base Config, Name, Prune Rate, Current Val Top 1, Current Val Top 5, '
  .. 'Best Val Top 1, Best Val Top 5, Best Train Top 1, Best Train Top 5\n'

local function exists(path)
  local f = io.open(path, 'r')
  if f then f:close() return true end
  return false
end

local function used(dir) return exists(dir .. '/logs') or exists(dir .. '/checkpoints') end

--- Python's str() of a float for the folder name: 0.5, 0.1, 1.0, -1.0.
function outputs.number(x)
  local s = tostring(x)
  if not s:find('[%.eEn]') then s = s .. '.0' end
  return s
end

--- The run folder (created), as get_directories of the original.
function outputs.runFolder(o)
  local base = string.format('%s/%s/%s/prune_rate=%s', o.log_dir, o.configName, o.name, outputs.number(o.prune_rate))
  local dir = base
  if used(base) then
    local n = 0
    while used(base .. '/' .. n) do n = n + 1 end
    dir = base .. '/' .. n
  end
  wb.mkdir(dir .. '/logs')
  wb.mkdir(dir .. '/checkpoints')
  return dir
end

--- Appends the run's line to results.csv (the header first when the file is new).
function outputs.appendResult(o, r)
  local path = o.log_dir .. '/results.csv'
  local text = files.read(path) or outputs.header
  text = text .. string.format('%s, %s, %s, %s, %.02f, %.02f, %.02f, %.02f, %.02f, %.02f\n',
    os.date('%m-%d-%y_%H:%M:%S'), o.config, o.name, outputs.number(o.prune_rate),
    r.acc1, r.acc5, r.bestAcc1, r.bestAcc5, r.bestTrainAcc1, r.bestTrainAcc5)
  wb.writeFile(path, text)
  return path
end

return outputs
