-- JSON for the outputs a script writes and reads back (RFC 8259): encode(value) with keys in
-- sorted order (the same value gives the same bytes) and numbers with the digits that read
-- back to the same double; decode(text) for the files the workbench wrote (objects, arrays,
-- strings with the common escapes, numbers, true/false/null).
local json = {}

local function number(x)
  if x ~= x or x == math.huge or x == -math.huge then error('json: cannot encode ' .. tostring(x), 0) end
  if math.type(x) == 'integer' or (x == math.floor(x) and math.abs(x) < 2^53) then
    return string.format('%d', x)
  end
  for digits = 6, 17 do
    local s = string.format('%.' .. digits .. 'g', x)
    if tonumber(s) == x then return s end
  end
  return string.format('%.17g', x)
end

local escapes = {['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t'}

local function str(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return escapes[c] or string.format('\\u%04x', c:byte()) end) .. '"'
end

-- A table is an array when its keys are exactly 1..n (an empty table is an array, []).
local function isArray(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local function encode(v, indent, out)
  local kind = type(v)
  if kind == 'nil' then out[#out + 1] = 'null'
  elseif kind == 'boolean' then out[#out + 1] = tostring(v)
  elseif kind == 'number' then out[#out + 1] = number(v)
  elseif kind == 'string' then out[#out + 1] = str(v)
  elseif kind == 'table' then
    local inner = indent .. '  '
    if isArray(v) then
      -- Arrays of numbers stay on one line (error curves of thousands of steps).
      local flat = true
      for _, x in ipairs(v) do if type(x) == 'table' then flat = false break end end
      out[#out + 1] = '['
      for i, x in ipairs(v) do
        if i > 1 then out[#out + 1] = flat and ', ' or ',' end
        if not flat then out[#out + 1] = '\n' .. inner end
        encode(x, inner, out)
      end
      if not flat and #v > 0 then out[#out + 1] = '\n' .. indent end
      out[#out + 1] = ']'
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= 'string' then error('json: object keys must be strings, got ' .. type(k), 0) end
        keys[#keys + 1] = k
      end
      table.sort(keys)
      out[#out + 1] = '{'
      for i, k in ipairs(keys) do
        out[#out + 1] = (i > 1 and ',' or '') .. '\n' .. inner .. str(k) .. ': '
        encode(v[k], inner, out)
      end
      out[#out + 1] = (#keys > 0 and '\n' .. indent or '') .. '}'
    end
  else
    error('json: cannot encode a ' .. kind, 0)
  end
end

function json.encode(v)
  local out = {}
  encode(v, '', out)
  return table.concat(out) .. '\n'
end

function json.decode(text, name)
  local pos = 1
  local function fail(what)
    error(string.format('%s: not valid JSON at byte %d: %s', name or 'json', pos, what), 0)
  end
  local function skip() pos = text:find('[^ \t\r\n]', pos) or #text + 1 end
  local value
  local function literal(word, v)
    if text:sub(pos, pos + #word - 1) ~= word then fail('unexpected character') end
    pos = pos + #word
    return v
  end
  local function stringValue()
    local parts = {}
    pos = pos + 1
    while true do
      local c = text:sub(pos, pos)
      if c == '' then fail('unterminated string') end
      if c == '"' then pos = pos + 1 break end
      if c == '\\' then
        local e = text:sub(pos + 1, pos + 1)
        local map = {['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t'}
        if map[e] then parts[#parts + 1] = map[e]; pos = pos + 2
        elseif e == 'u' then
          local hex = text:sub(pos + 2, pos + 5)
          if not hex:match('^%x%x%x%x$') then fail('bad \\u escape') end
          parts[#parts + 1] = utf8.char(tonumber(hex, 16)); pos = pos + 6
        else fail('bad escape') end
      else
        parts[#parts + 1] = c; pos = pos + 1
      end
    end
    return table.concat(parts)
  end
  function value()
    skip()
    local c = text:sub(pos, pos)
    if c == '{' then
      local t = {}
      pos = pos + 1; skip()
      if text:sub(pos, pos) == '}' then pos = pos + 1 return t end
      while true do
        skip()
        if text:sub(pos, pos) ~= '"' then fail('expected a key') end
        local k = stringValue(); skip()
        if text:sub(pos, pos) ~= ':' then fail("expected ':'") end
        pos = pos + 1
        t[k] = value(); skip()
        local d = text:sub(pos, pos); pos = pos + 1
        if d == '}' then return t end
        if d ~= ',' then fail("expected ',' or '}'") end
      end
    elseif c == '[' then
      local t = {}
      pos = pos + 1; skip()
      if text:sub(pos, pos) == ']' then pos = pos + 1 return t end
      while true do
        t[#t + 1] = value(); skip()
        local d = text:sub(pos, pos); pos = pos + 1
        if d == ']' then return t end
        if d ~= ',' then fail("expected ',' or ']'") end
      end
    elseif c == '"' then return stringValue()
    elseif c == 't' then return literal('true', true)
    elseif c == 'f' then return literal('false', false)
    elseif c == 'n' then return literal('null', nil)
    else
      local s = text:match('^-?%d+%.?%d*[eE]?[-+]?%d*', pos)
      if not s or s == '' or not tonumber(s) then fail('unexpected character') end
      pos = pos + #s
      return tonumber(s)
    end
  end
  local v = value()
  skip()
  if pos <= #text then fail('trailing characters') end
  return v
end

return json
