-- IMP's data ([Data] and the sizes in [Network]): the training set (its first data_ratio),
-- the validation set (the first val_size test images, which also pick the best error), with
-- reclass applied to both. The original's input transform (x - per-pixel mean)/255 is left
-- out: the first layer's batch norm undoes any per-pixel affine map (up to its eps).
local data = {}

local function fail(opt, key, msg) error(string.format('%s: %s', opt.place[key], msg), 0) end

-- The class map of reclass (1-based: map[c] = new class of class c) and the class count.
local function classMap(opt, classes)
  local kind, x, file = opt.reclass:match('^%s*(%a)%s*,?%s*(%d*)%s*,?%s*(.-)%s*$')
  if kind == 'n' then return nil end
  x = tonumber(x)
  local map = {}
  if kind == 'm' then
    for c = 1, classes do map[c] = (c - 1) % x + 1 end
    return map, x
  end
  local f, why = io.open(file, 'r')
  if not f then fail(opt, 'reclass', string.format('cannot read the superclass file %s (%s)', file, why)) end
  local text = f:read('a')
  f:close()
  for field in text:gmatch('[^,%s]+') do
    local v = math.tointeger(tonumber(field))
    if not v or v < 0 or v >= x then
      fail(opt, 'reclass', string.format("%s: entry %d is '%s', expected a class id in 0..%d", file, #map + 1, field, x - 1))
    end
    map[#map + 1] = v + 1
  end
  if #map ~= classes then
    fail(opt, 'reclass', string.format('%s holds %d superclass ids; the dataset has %d classes (one id per class)', file, #map, classes))
  end
  return map, x
end

-- train, validation, shape {channels, height, width, classes}
function data.load(opt)
  local ok, train, test = pcall(wb.loadData, opt.dataset, {root = opt.dataloc})
  if not ok then fail(opt, 'dataset', tostring(train):gsub('^[^:]*:%d+: ', '')) end
  local n = math.floor(opt.data_ratio * #train)
  if n < 1 then fail(opt, 'data_ratio', string.format('%g of %d training images leaves none', opt.data_ratio, #train)) end
  train = train:head(n)
  if opt.val_size > #test then
    fail(opt, 'val_size', string.format('%d validation images asked for; %s has %d test images', opt.val_size, opt.dataset, #test))
  end
  local validation = test:head(opt.val_size)
  local classes = train.classes
  local map, count = classMap(opt, classes)
  if map then
    train, validation = train:relabel(map, count), validation:relabel(map, count)
    classes = count
  end
  return train, validation, {channels = train.channels, height = train.height, width = train.width, classes = classes}
end

return data
