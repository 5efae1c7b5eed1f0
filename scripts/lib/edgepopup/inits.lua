-- The weight inits of edge-popup (allenai/hidden-networks, utils/builder.py `_init_conv`),
-- for a weight of shape [out, in(, kh, kw)], receptive field r = kh·kw (1 for linear):
--   fan_in = in·r, fan_out = out·r; fan = fan_in or fan_out (`mode`);
--   gain = √2 (relu) or 1 (linear) (`nonlinearity`);
--   with scale_fan, fan' = fan·k (rule `kept`, k = the fraction kept) or fan·(1 − k)
--   (rule `original`, as the original code, right only at k = 0.5); else fan' = fan.
--   kaiming_normal:    W ~ N(0, σ²), σ = gain/√fan'
--   signed_constant:   W = sign(U(±1/√fan_in)) · gain/√fan'   (each weight ±σ)
--   unsigned_constant: W = gain/√fan'
--   kaiming_uniform:   W ~ U(±gain·√(3/fan'))
--   xavier_normal:     W ~ N(0, 2/(fan_in' + fan_out'))   (both fans scaled likewise)
--   standard:          W ~ U(±1/√fan_in)   (PyTorch's default, kaiming_uniform with a = √5)
-- The original scales the fan for kaiming_normal and the constants only; here every init
-- but `standard` takes scale_fan.
local inits = {}

local function fans(w)
  local out, inp = w:size(1), w:size(2)
  local r = w:nElement() // (out * inp)
  return inp * r, out * r
end

--- The factor the fan is multiplied by.
function inits.fanScale(o)
  if not o.scale_fan then return 1 end
  if o.scale_fan_rule == 'original' then return 1 - o.keep end
  return o.keep
end

--- Draws layer m's weight W as `o.init` says (o: the run's options).
function inits.apply(m, o)
  local w = m.weight:clone()
  local fanIn, fanOut = fans(w)
  local s = inits.fanScale(o)
  local fan = (o.mode == 'fan_out' and fanOut or fanIn) * s
  local gain = o.nonlinearity == 'linear' and 1 or math.sqrt(2)
  local std = gain / math.sqrt(fan)
  if o.init == 'kaiming_normal' then
    w:normal(0, std)
  elseif o.init == 'signed_constant' then
    local b = 1 / math.sqrt(fanIn)
    w:uniform(-b, b):sign():mul(std)
  elseif o.init == 'unsigned_constant' then
    w:fill(std)
  elseif o.init == 'kaiming_uniform' then
    local b = gain * math.sqrt(3 / fan)
    w:uniform(-b, b)
  elseif o.init == 'xavier_normal' then
    w:normal(0, math.sqrt(2 / ((fanIn + fanOut) * s)))
  elseif o.init == 'standard' then
    local b = 1 / math.sqrt(fanIn)
    w:uniform(-b, b)
  else
    error('unknown init ' .. tostring(o.init))
  end
  m.weight = w
end

--- The scores of layer m: U(±1/√fan_in), as the original's kaiming_uniform(a = √5).
function inits.scores(m)
  local fanIn = fans(m.weight)
  local b = 1 / math.sqrt(fanIn)
  return m.weight:clone():uniform(-b, b)
end

return inits
