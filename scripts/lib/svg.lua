-- SVG plots with no library: line plots (linear or log-10 x axis) and histograms, as text.
-- A plot is a frame of W x H pixels with a margin for the axes; data (x, y) map linearly (or
-- by log10 x) onto it; ticks at "nice" values 1, 2, 5 x 10^k (log axis: each decade, with
-- 2 and 5 between when few decades).
local svg = {}

local W, H = 640, 420
local LEFT, RIGHT, TOP, BOTTOM = 70, 150, 40, 55
local colours = {'#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'}

local function esc(s)
  return (tostring(s):gsub('&', '&amp;'):gsub('<', '&lt;'):gsub('>', '&gt;'))
end

local function fmt(x) return string.format('%.4g', x) end

-- Ticks between lo and hi at 1, 2 or 5 x 10^k, about `n` of them.
local function niceTicks(lo, hi, n)
  if hi <= lo then hi = lo + 1 end
  local raw = (hi - lo) / n
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local step = mag
  for _, f in ipairs{1, 2, 5, 10} do
    if f * mag >= raw then step = f * mag break end
  end
  local ticks = {}
  local t = math.ceil(lo / step - 1e-9) * step
  while t <= hi + 1e-9 * step do ticks[#ticks + 1] = t; t = t + step end
  return ticks
end

local function logTicks(lo, hi)
  local ticks = {}
  local decades = math.log(hi, 10) - math.log(lo, 10)
  for e = math.floor(math.log(lo, 10)), math.ceil(math.log(hi, 10)) do
    for _, f in ipairs(decades < 2.5 and {1, 2, 5} or {1}) do
      local t = f * 10 ^ e
      if t >= lo * (1 - 1e-9) and t <= hi * (1 + 1e-9) then ticks[#ticks + 1] = t end
    end
  end
  return ticks
end

local function open(out, width)
  out[#out + 1] = string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">', width, H, width, H)
  out[#out + 1] = string.format('<rect width="%d" height="%d" fill="white"/>', width, H)
end

local function frame(out, p)
  out[#out + 1] = string.format('<text x="%d" y="22" text-anchor="middle" font-size="14">%s</text>', (LEFT + W - RIGHT) // 2, esc(p.title or ''))
  out[#out + 1] = string.format('<text x="%d" y="%d" text-anchor="middle">%s</text>', (LEFT + W - RIGHT) // 2, H - 12, esc(p.xlabel or ''))
  out[#out + 1] = string.format('<text x="18" y="%d" text-anchor="middle" transform="rotate(-90 18 %d)">%s</text>', (TOP + H - BOTTOM) // 2, (TOP + H - BOTTOM) // 2, esc(p.ylabel or ''))
  out[#out + 1] = string.format('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>', LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM)
end

-- Axes: x ticks (at the mapped positions), y ticks, grid lines.
local function axes(out, xt, yt, X, Y)
  for _, t in ipairs(xt) do
    local x = X(t)
    out[#out + 1] = string.format('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>', x, TOP, x, H - BOTTOM)
    out[#out + 1] = string.format('<text x="%.1f" y="%d" text-anchor="middle">%s</text>', x, H - BOTTOM + 16, fmt(t))
  end
  for _, t in ipairs(yt) do
    local y = Y(t)
    out[#out + 1] = string.format('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>', LEFT, y, W - RIGHT, y)
    out[#out + 1] = string.format('<text x="%d" y="%.1f" text-anchor="end">%s</text>', LEFT - 6, y + 4, fmt(t))
  end
end

local function legend(out, names)
  for i, name in ipairs(names) do
    local y = TOP + 10 + (i - 1) * 18
    out[#out + 1] = string.format('<rect x="%d" y="%d" width="14" height="4" fill="%s"/>', W - RIGHT + 10, y, colours[(i - 1) % #colours + 1])
    out[#out + 1] = string.format('<text x="%d" y="%d">%s</text>', W - RIGHT + 30, y + 6, esc(name))
  end
end

local function range(series, field)
  local lo, hi = math.huge, -math.huge
  for _, s in ipairs(series) do
    for _, p in ipairs(s.points) do lo, hi = math.min(lo, p[field]), math.max(hi, p[field]) end
  end
  if lo == math.huge then lo, hi = 0, 1 end
  if hi == lo then lo, hi = lo - 0.5, hi + 0.5 end
  return lo, hi
end

-- The elements of a line plot (frame, axes, one polyline per series, legend) into `out`.
local function linesBody(out, p)
  frame(out, p)
  local xlo, xhi = range(p.series, 1)
  local ylo, yhi = range(p.series, 2)
  if p.yrange then ylo, yhi = p.yrange[1], p.yrange[2] end
  local pad = (yhi - ylo) * 0.05
  ylo, yhi = ylo - pad, yhi + pad
  local fx
  if p.xlog then
    if xlo <= 0 then error('svg: a log axis needs positive x values', 0) end
    xlo, xhi = xlo / 1.15, xhi * 1.15
    fx = function(x) return math.log(x, 10) end
  else
    fx = function(x) return x end
  end
  local a, b = fx(xlo), fx(xhi)
  local X = function(x) return LEFT + (fx(x) - a) / (b - a) * (W - LEFT - RIGHT) end
  local Y = function(y) return H - BOTTOM - (y - ylo) / (yhi - ylo) * (H - TOP - BOTTOM) end
  axes(out, p.xlog and logTicks(xlo, xhi) or niceTicks(xlo, xhi, 6), niceTicks(ylo, yhi, 6), X, Y)
  local names = {}
  for i, s in ipairs(p.series) do
    local c = colours[(i - 1) % #colours + 1]
    local pts = {}
    for _, q in ipairs(s.points) do pts[#pts + 1] = string.format('%.1f,%.1f', X(q[1]), Y(q[2])) end
    out[#out + 1] = string.format('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>', c, table.concat(pts, ' '))
    for _, q in ipairs(s.points) do
      out[#out + 1] = string.format('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>', X(q[1]), Y(q[2]), c)
    end
    names[#names + 1] = s.name
  end
  legend(out, names)
end

-- p = {title, xlabel, ylabel, xlog = bool, yrange = {lo, hi} (default: the data's),
-- series = {{name, points = {{x, y}, ...}}, ...}}
function svg.lines(p)
  local out = {}
  open(out, W)
  linesBody(out, p)
  out[#out + 1] = '</svg>'
  return table.concat(out, '\n') .. '\n'
end

-- Line plots side by side in one SVG, each in a <g class="panel"> of W x H pixels:
-- plots = {p1, p2, ...} as svg.lines takes them.
function svg.panels(plots)
  local out = {}
  open(out, W * #plots)
  for i, p in ipairs(plots) do
    out[#out + 1] = string.format('<g class="panel" transform="translate(%d,0)">', (i - 1) * W)
    linesBody(out, p)
    out[#out + 1] = '</g>'
  end
  out[#out + 1] = '</svg>'
  return table.concat(out, '\n') .. '\n'
end

-- p = {title, xlabel, ylabel, series = {{name, values = {v1, v2, ...}}, ...}, bins = 30}:
-- the share of values in each of `bins` equal bins over [0, max], one step outline per series.
function svg.histogram(p)
  local bins = p.bins or 30
  local hi = 0
  for _, s in ipairs(p.series) do for _, v in ipairs(s.values) do hi = math.max(hi, v) end end
  if hi == 0 then hi = 1 end
  local width = hi / bins
  local series = {}
  for _, s in ipairs(p.series) do
    local counts = {}
    for i = 1, bins do counts[i] = 0 end
    for _, v in ipairs(s.values) do
      local i = math.min(bins, math.floor(v / width) + 1)
      counts[i] = counts[i] + 1
    end
    local pts = {}
    for i = 1, bins do
      local share = #s.values > 0 and counts[i] / #s.values or 0
      pts[#pts + 1] = {(i - 1) * width, share}
      pts[#pts + 1] = {i * width, share}
    end
    series[#series + 1] = {name = s.name, points = pts}
  end
  local out = {}
  open(out, W)
  frame(out, p)
  local ylo, yhi = 0, 0
  for _, s in ipairs(series) do for _, q in ipairs(s.points) do yhi = math.max(yhi, q[2]) end end
  yhi = yhi > 0 and yhi * 1.05 or 1
  local X = function(x) return LEFT + x / hi * (W - LEFT - RIGHT) end
  local Y = function(y) return H - BOTTOM - (y - ylo) / (yhi - ylo) * (H - TOP - BOTTOM) end
  axes(out, niceTicks(0, hi, 6), niceTicks(ylo, yhi, 5), X, Y)
  local names = {}
  for i, s in ipairs(series) do
    local pts = {}
    for _, q in ipairs(s.points) do pts[#pts + 1] = string.format('%.1f,%.1f', X(q[1]), Y(q[2])) end
    out[#out + 1] = string.format('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>', colours[(i - 1) % #colours + 1], table.concat(pts, ' '))
    names[#names + 1] = s.name
  end
  legend(out, names)
  out[#out + 1] = '</svg>'
  return table.concat(out, '\n') .. '\n'
end

return svg
