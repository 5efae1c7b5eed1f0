-- Small file helpers the scripts share.
--   local files = require 'lib.files'
--   local text = files.read(path)      -- the whole file, or nil when it cannot be opened
local files = {}

function files.read(path)
  local f = io.open(path, 'r')
  if not f then return nil end
  local text = f:read('a')
  f:close()
  return text
end

return files
