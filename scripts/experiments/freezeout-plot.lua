-- The plot of docs/freezeout.md from the figures of freezeout-grid.lua: per model, measured
-- wall-clock saving (filled dot) against test error, one point per setting, with the
-- formula's estimate (open circle, joined by a dashed line) at the same error; the two
-- baseline copies as squares near 0% saving. Plain SVG, no library.
--
--   workbench run scripts/experiments/freezeout-plot.lua [RESULTS.lua] [OUT.svg]
local resultsPath = arg[1] or 'docs/freezeout-results.lua'
local svgPath = arg[2] or 'docs/freezeout.svg'
local results = dofile(resultsPath)

local W, H = 460, 340               -- one panel
local left, right, top, bottom = 56, 16, 34, 46
local colours = {['linear'] = '#1f77b4', ['cubic'] = '#d62728'}
local parts = {}
local function add(fmt, ...) parts[#parts + 1] = string.format(fmt, ...) end

local function niceRange(lo, hi, step)
  return math.floor(lo / step) * step, math.ceil(hi / step) * step
end

for p, m in ipairs(results.models) do
  local ox = (p - 1) * W
  local errs, savings = {}, {}
  for _, r in ipairs(m.rows) do
    errs[#errs + 1] = r.testError
    savings[#savings + 1] = 100 * r.saving
    savings[#savings + 1] = 100 * r.speedup
  end
  local lo, hi = math.min(table.unpack(errs)) - 0.2, math.max(table.unpack(errs)) + 0.2
  local xstep = hi - lo > 10 and 2 or hi - lo > 4 and 1 or 0.5
  local x0, x1 = niceRange(lo, hi, xstep)
  local y0, y1 = niceRange(math.min(0, table.unpack(savings)) - 1, math.max(table.unpack(savings)) + 1, 5)
  local function X(e) return ox + left + (e - x0) / (x1 - x0) * (W - left - right) end
  local function Y(s) return top + (y1 - s) / (y1 - y0) * (H - top - bottom) end
  -- axes and grid
  add('<text x="%.1f" y="20" font-size="14" text-anchor="middle" font-weight="bold">%s (%s images, %d epochs)</text>',
    ox + W / 2, m.model, tostring(m.train), results.config.epochs)
  for s = y0, y1, 5 do
    add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>', X(x0), Y(s), X(x1), Y(s))
    add('<text x="%.1f" y="%.1f" font-size="11" text-anchor="end">%d%%</text>', X(x0) - 4, Y(s) + 4, s)
  end
  for e = x0, x1 + 1e-9, xstep do
    add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>', X(e), Y(y0), X(e), Y(y1))
    add('<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%.1f</text>', X(e), Y(y0) + 15, e)
  end
  add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>', X(x0), Y(y1), X(x1) - X(x0), Y(y0) - Y(y1))
  add('<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle">test error (%%)</text>', ox + left + (W - left - right) / 2, H - 8)
  add('<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">wall-clock saving</text>',
    ox + 14, top + (H - top - bottom) / 2, ox + 14, top + (H - top - bottom) / 2)
  for _, r in ipairs(m.rows) do
    local x = X(r.testError)
    if r.t_0 == 1 then
      add('<rect x="%.1f" y="%.1f" width="8" height="8" fill="#555"/>', x - 4, Y(100 * r.saving) - 4)
    else
      local c = colours[r.how_scale] or '#2ca02c'
      local ys, ye = Y(100 * r.saving), Y(100 * r.speedup)
      add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="2,2"/>', x, ys, x, ye, c)
      add('<circle cx="%.1f" cy="%.1f" r="4" fill="none" stroke="%s"/>', x, ye, c)
      add('<circle cx="%.1f" cy="%.1f" r="%s" fill="%s"/>', x, ys, r.scale_lr and '4.5' or '3', c)
      add('<text x="%.1f" y="%.1f" font-size="9" fill="%s">%s</text>', x + 6, ys + 3, c,
        (r.scale_lr and 's' or 'u') .. (r.how_scale == 'cubic' and 'C' or 'L') .. string.format('%g', r.t_0))
    end
  end
end
add('<text x="%d" y="%d" font-size="10">filled dot: measured wall-clock saving (large: scaled, small: unscaled); open circle, dashed: '
  .. 'the formula\'s estimate for the same run</text>', left, H + 6)
add('<text x="%d" y="%d" font-size="10">blue: linear, red: cubic; grey squares: the two baseline copies (t_0 = 1); '
  .. 'label sL0.5 = scaled linear, t_0 = 0.5 (uC: unscaled cubic)</text>', left, H + 20)
local svg = string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">\n'
  .. '<rect width="100%%" height="100%%" fill="white"/>\n%s\n</svg>\n', math.max(W * #results.models, 700), H + 28, table.concat(parts, '\n'))
wb.writeFile(svgPath, svg)
print('plot written to ' .. svgPath)
