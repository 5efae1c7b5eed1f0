import Bridge
import Engine
import XCTest

/// The wide ResNet side of scripts/lib/sparsetrain/: the sub-kernel granularity masks
/// (granularity.lua, masks.lua) against their definition — a 0/1 mask over the first g
/// dimensions of [out, in, kh, kw], each unit covering the ∏_{d>g} size_d weights below it,
/// counted in units, pruned by its mean |θ| — the WRN's sparse layers and initialisation
/// (model.lua), and the CIFAR-10 input transform (cifar.lua).
final class SparseTrainWideResNetLibraryTests: XCTestCase {
    private func runtime() throws -> LuaRuntime {
        try LuaRuntime(scriptsDirectory: repositoryRoot.appendingPathComponent("scripts").path)
    }

    private let setup = """
    granularity = require 'lib.sparsetrain.granularity'
    masks = require 'lib.sparsetrain.masks'
    rewire = require 'lib.sparsetrain.rewire'
    gradual = require 'lib.sparsetrain.gradual'
    model = require 'lib.sparsetrain.model'
    cifar = require 'lib.sparsetrain.cifar'
    torch.manualSeed(5)
    -- a sparse conv layer record at granularity g: conv(in -> out, 3x3)
    function convLayer(inp, out, g)
      local m = nn.SpatialConvolution(inp, out, 3, 3, 1, 1, 1, 1, false)
      m.weight = torch.randn(out, inp, 3, 3)
      local s = m.weight:size()
      local _, unit, units = granularity.layout({out, inp, 3, 3}, g)
      return {module = m, n = out * inp * 9, shape = s, unit = unit, units = units, fanIn = inp * 9,
              newStd = math.sqrt(2 / (9 * out)), name = 'conv ' .. inp .. '->' .. out}
    end
    -- every unit of L's module mask is all 0 or all 1, and agrees with L.blocks
    function wholeUnits(L)
      local m = L.module.mask:view(L.units, L.unit)
      local s = m:sum(2):view(-1)
      for b = 1, L.units do
        if not (s[b] == 0 or s[b] == L.unit) then return false end
        if (s[b] > 0 and 1 or 0) ~= (L.blocks and L.blocks[b] or 1) then return false end
      end
      return true
    end

    """

    func testLayoutShapesAndUnitSizesFollowTheDefinition() throws {
        try runLua(setup + """
        local shape = {8, 4, 3, 3}
        local expect = {[1] = {{8}, 36, 8}, [2] = {{8, 4}, 9, 32}, [3] = {{8, 4, 3}, 3, 96}, [4] = {{8, 4, 3, 3}, 1, 288}}
        for g = 1, 4 do
          local ms, unit, units = granularity.layout(shape, g)
          local e = expect[g]
          assert(#ms == #e[1], 'g ' .. g)
          for d = 1, #ms do assert(ms[d] == e[1][d]) end
          assert(unit == e[2] and units == e[3] and unit * units == 288, 'g ' .. g .. ': ' .. unit .. ' x ' .. units)
        end
        assert(not pcall(granularity.layout, shape, 0))
        assert(not pcall(granularity.layout, shape, 5))
        -- expand: unit b covers flat positions (b - 1)·u + 1 .. b·u
        local e = granularity.expand(torch.Tensor{1, 0, 1}, 3)
        assert(e:nElement() == 9)
        for i = 1, 9 do assert(e[i] == ({1, 1, 1, 0, 0, 0, 1, 1, 1})[i]) end
        local p = granularity.positions(torch.Tensor{3, 1}, 4)
        for i, v in ipairs{9, 10, 11, 12, 1, 2, 3, 4} do assert(p[i] == v) end
        -- the mean |θ| of each unit, and it is the unit of W[o, i, :, :] (row-major)
        local w = torch.randn(8, 4, 3, 3)
        local means = granularity.means(w, 9)
        assert(means:nElement() == 32)
        for o = 1, 8 do for i = 1, 4 do
          local patch = w[o][i]
          assert(math.abs(means[(o - 1) * 4 + i] - torch.abs(patch):sum() / 9) < 1e-5)
        end end
        """, try runtime())
    }

    func testInitialMasksAreWholeUnitsAtTheBudget() throws {
        try runLua(setup + """
        for g = 1, 4 do
          for _, s in ipairs{0.5, 0.8} do
            local L = convLayer(4, 8, g)
            masks.initial(L, s)
            local k = math.floor((1 - s) * L.units + 0.1)
            assert(masks.count(L) == k, 'g ' .. g .. ' at ' .. s .. ': ' .. masks.count(L) .. ' units, budget ' .. k)
            assert(masks.weights(L) == k * L.unit)
            assert(L.module.mask:sum() == k * L.unit, 'the module mask holds the units weight by weight')
            local sz = L.module.mask:size()
            assert(sz[1] == 8 and sz[2] == 4 and sz[3] == 3 and sz[4] == 3, 'the mask has the weight shape')
            assert(L.module.weight:ne(0):sum() <= k * L.unit, 'inactive weights are 0')
            if g < 4 then assert(wholeUnits(L), 'g ' .. g) end
          end
        end
        """, try runtime())
    }

    func testRewiringAndPruningMoveWholeUnitsByTheirMeanMagnitude() throws {
        try runLua(setup + """
        local opt = wb.SGD{lr = 0.1, momentum = 0.9}
        -- SET on patches (g = 2): per layer int(0.1·a) + 1 smallest mean |θ| out, as many in
        local L = convLayer(4, 8, 2)
        masks.initial(L, 0.5)
        local a = masks.count(L)
        local A = masks.active(L)
        local means = granularity.means(L.module.weight, 9):index(1, A)
        local sorted = means:clone():sort()
        local cut = math.floor(0.1 * a) + 1
        local pruned = masks.smallest(L, cut)
        assert(#pruned == cut)
        local m = masks.magnitudes(L, pruned)
        for i = 1, #pruned do assert(m[i] <= sorted[cut] + 1e-7, 'the smallest means') end
        local state = {threshold = 1e-3}
        rewire.step({L}, state, {fraction = 0.1, threshold = false, scaling = false, nPrune = 10, optimizer = opt})
        assert(masks.count(L) == a and wholeUnits(L), 'SET keeps the count, whole patches')
        -- DSR over two coarse layers: the global count stays, whole units
        local L1, L2 = convLayer(4, 8, 2), convLayer(8, 8, 1)
        masks.initial(L1, 0.5); masks.initial(L2, 0.5)
        local total = masks.count(L1) + masks.count(L2)
        for _ = 1, 3 do
          state.threshold = 0.5
          local K, grown = rewire.step({L1, L2}, state, {threshold = true, scaling = true, nPrune = 4, optimizer = opt})
          assert(K == grown and masks.count(L1) + masks.count(L2) == total, 'DSR keeps the global budget')
          assert(wholeUnits(L1) and wholeUnits(L2))
        end
        -- grown weights start at 0; pruned ones are 0
        local w = L1.module.weight:view(L1.units, 9)
        for b = 1, L1.units do
          if L1.blocks[b] == 0 then assert(torch.abs(w[b]):sum() == 0) end
        end
        -- gradual pruning from dense prunes int(f·units) units
        local D = convLayer(4, 8, 3)
        gradual.prune({D}, {0.75}, 0, 1, false)
        assert(masks.count(D) == D.units - math.floor(0.75 * D.units) and wholeUnits(D))
        """, try runtime())
    }

    func testTheWideResNetsSparseLayersAndInitialisation() throws {
        try runLua(setup + """
        local net, layers = model.wideResNet(10, 1, 2, true, false)
        assert(#layers == 6, #layers .. ' sparse layers')
        for _, L in ipairs(layers) do
          assert(L.shape[3] == 3 and L.unit == 9 and L.units * 9 == L.n, L.name)
          assert(L.key:match('^%d+[%.%d]*$'), L.key)
        end
        assert(layers[1].path == '3.1.1.3' and layers[1].key == '2.0.0.2', layers[1].path .. ' ' .. layers[1].key)
        local _, withShortcuts = model.wideResNet(10, 1, 4, true, true)
        assert(#withShortcuts == 8 and withShortcuts[5].shape[3] == 1 and withShortcuts[5].unit == 1)
        -- fractional widen factors round as numpy: 16·0.75 = 12, 32·0.75 = 24, 64·0.75 = 48
        local thin = model.wideResNet(10, 0.75, 4, false, false)
        assert(thin:get(#thin).weight:size(2) == 48)
        -- the original's initialisation: convolutions N(0, 2/(kh·kw·out)), batch norm 1 and 0, Linear bias 0
        local big = model.wideResNet(16, 2, 4, false, false)
        model.initialiseWideResNet(big)
        for _, m in ipairs(wb.layers(big)) do
          local t = torch.type(m)
          if t == 'nn.SpatialConvolution' and m.weight:nElement() > 4000 then
            local s = m.weight:size()
            local std = math.sqrt(2 / (s[3] * s[4] * s[1]))
            local w = m.weight:view(-1)
            local var = torch.cmul(w, w):mean()
            assert(math.abs(math.sqrt(var) / std - 1) < 0.1, 'conv std ' .. math.sqrt(var) .. ' vs ' .. std)
          elseif t == 'nn.SpatialBatchNormalization' then
            assert(m.weight:min() == 1 and m.weight:max() == 1 and torch.abs(m.bias):max() == 0)
          elseif t == 'nn.Linear' then
            assert(torch.abs(m.bias):max() == 0 and torch.abs(m.weight):max() <= 1 / math.sqrt(m.weight:size(2)))
          end
        end
        """, try runtime())
    }

    /// --conv-group-lasso's penalty from Lua: λ·Σ over kernel patches of √(Σθ² + 1e-12).
    func testTheGroupLassoPenaltyOnKernelPatches() throws {
        try runLua(setup + """
        local L = convLayer(2, 3, 4)
        local net = nn.Sequential():add(L.module)
        local t = wb.Trainer{model = net, optimizer = wb.SGD{lr = 0.1}}
        local p = t:penalty{groupLasso = 0.5, groupSize = 9, parameters = {L.module.weight}}
        assert(p.kind == 'groupLasso')
        local w = L.module.weight
        local expect = 0
        for o = 1, 3 do for i = 1, 2 do expect = expect + math.sqrt(torch.cmul(w[o][i], w[o][i]):sum() + 1e-12) end end
        expect = 0.5 * expect
        assert(math.abs(p:value() - expect) < 1e-4 * expect, p:value() .. ' vs ' .. expect)
        assert(not pcall(t.penalty, t, {l1 = 0.1, groupSize = 9}), 'groupSize belongs to the group lasso')
        assert(not pcall(t.penalty, t, {l1 = 0.1, groupLasso = 0.1}), 'one kind')
        assert(not pcall(t.penalty, t, {groupLasso = 0.1, groupSize = 4, parameters = {L.module.weight}}), '54 weights in groups of 4')
        """, try runtime())
    }

    func testTheCIFARInputTransform() throws {
        try runLua(setup + """
        -- the gather of a crop at the centre (dy = dx = 4) is the identity; with a flip, the mirror
        local id, flip = cifar.gather(4, 4, false), cifar.gather(4, 4, true)
        for _, p in ipairs{1, 2, 32, 33, 1024, 1025, 3072} do assert(id[p] == p) end
        assert(flip[1] == 32 and flip[32] == 1 and flip[33] == 64 and flip[1025] == 1024 + 32)
        -- the corner crop (0, 0) starts 4 rows and columns into the padding: index -3 reflects to 5
        local corner = cifar.gather(0, 0, false)
        assert(corner[1] == (5 - 1) * 32 + 5, corner[1])
        assert(corner[5] == (5 - 1) * 32 + 1, 'column 5 reads column 1')
        -- the bottom-right crop (8, 8): the last row and column read index 36 -> 2·32 - 36 = 28
        local last = cifar.gather(8, 8, false)
        assert(last[1024] == (28 - 1) * 32 + 28, last[1024])
        -- evaluation: only the normalisation (255·v - μ)/σ with v = 256·x/255
        local x = torch.rand(3, 3, 32, 32)
        local m = nn.SparseTrainCIFARInput(1)
        m:evaluate()
        local y = m:forward(x)
        assert(math.abs(y[2][2][4][5] - (256 * x[2][2][4][5] - 123.0) / 62.1) < 1e-4)
        assert(math.abs(y[3][3][32][1] - (256 * x[3][3][32][1] - 113.9) / 66.7) < 1e-4)
        assert(math.abs(y[1][1][1][1] - (256 * x[1][1][1][1] - 125.3) / 63.0) < 1e-4)
        -- training: each image is its own crop-and-flip of the padded image (its pixels a
        -- gather of the input's), and it differs from evaluation's for some image
        m:training()
        local z = m:forward(x):clone()
        local differs = false
        for b = 1, 3 do
          local found = false
          for dy = 0, 8 do for dx = 0, 8 do for _, f in ipairs{false, true} do
            if not found then
              local g = cifar.gather(dy, dx, f)
              local expect = x[b]:view(-1):index(1, g):view(3, 32, 32):clone()
              for c = 1, 3 do
                expect[c]:mul(256 / ({63.0, 62.1, 66.7})[c]):add(-({125.3, 123.0, 113.9})[c] / ({63.0, 62.1, 66.7})[c])
              end
              if (expect - z[b]):abs():max() < 1e-4 then found = true end
            end
          end end end
          assert(found, 'image ' .. b .. ' is a reflection-padded crop, maybe flipped')
          if (z[b] - y[b]):abs():max() > 1e-3 then differs = true end
        end
        assert(differs, 'training augments')
        -- without augmentation training is evaluation
        local plain = nn.SparseTrainCIFARInput(0)
        plain:training()
        assert((plain:forward(x) - y):abs():max() < 1e-6)
        """, try runtime())
    }
}
