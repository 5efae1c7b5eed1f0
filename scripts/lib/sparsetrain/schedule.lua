-- The schedules of --schedule-file (read with wb.readYAML; `workbench sparse-train` has
-- checked the file): lists of one-entry tables {[epoch] = value}; the value at 0-based epoch
-- e is that of the last entry with epoch <= e (the original's get_schedule_val, whose lookup
-- before the first entry is not reachable: lists start at epoch 0).
local schedule = {}

-- {{epoch, value}, ...} in increasing epoch order, or nil.
local function entries(list)
  if list == nil then return nil end
  local out = {}
  for _, entry in ipairs(list) do
    for e, v in pairs(entry) do out[#out + 1] = {e, v} end
  end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

-- {lr = f(e) or nil, rewirePeriod = ..., temperature = ...}, each f(epoch) -> value.
function schedule.read(path)
  local doc = assert(wb.readYAML(path), path .. ': empty schedule file')
  local s = {}
  for key, name in pairs{lr_schedule = 'lr', rewire_period_schedule = 'rewirePeriod', DeepR_temperature_schedule = 'temperature'} do
    local list = entries(doc[key])
    if list then
      s[name] = function(epoch)
        local v = list[1][2]
        for _, e in ipairs(list) do if e[1] <= epoch then v = e[2] end end
        return v
      end
    end
  end
  return s
end

return schedule
