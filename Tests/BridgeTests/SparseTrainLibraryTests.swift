import Bridge
import Engine
import XCTest

/// The methods of scripts/lib/sparsetrain/ on a tiny MLP (784 → 12 → 8 → 10 with batch norm,
/// no biases; 256 Fashion-MNIST images): DSR keeps its global budget and adapts its
/// threshold as stated, SET and DeepR keep each layer's count, regrown entries start at 0
/// with no momentum, tied positions share one value whose gradient is the sum, gradual
/// schedules give their densities at their epochs.
final class SparseTrainLibraryTests: XCTestCase {
    private func runtime() throws -> LuaRuntime {
        try LuaRuntime(scriptsDirectory: repositoryRoot.appendingPathComponent("scripts").path)
    }

    /// Defines `net`, `layers` (the lib's layer records), `train`, `opt` and `trainer`.
    private let setup = """
    masks = require 'lib.sparsetrain.masks'
    rewire = require 'lib.sparsetrain.rewire'
    deepr = require 'lib.sparsetrain.deepr'
    tied = require 'lib.sparsetrain.tied'
    gradual = require 'lib.sparsetrain.gradual'
    model = require 'lib.sparsetrain.model'
    torch.manualSeed(3)
    net = nn.Sequential():add(nn.View(784))
    layers = {}
    local sizes = {784, 12, 8, 10}
    for l = 1, 3 do
      local fc = nn.Linear(sizes[l], sizes[l + 1], false)
      net:add(fc):add(nn.BatchNormalization(sizes[l + 1]))
      if l < 3 then net:add(nn.ReLU()) end
      layers[l] = {module = fc, position = #net - 1, fanIn = sizes[l], n = sizes[l] * sizes[l + 1], shape = fc.weight:size(),
                   name = 'fc' .. l}
    end
    train = wb.loadData('fashion-mnist', {train = 256, test = 10})
    opt = wb.SGD{lr = 0.1, momentum = 0.9, nesterov = true}
    trainer = wb.Trainer{model = net, optimizer = opt, batchSize = 32, seed = 1}
    function counts() local c = {} for l, L in ipairs(layers) do c[l] = masks.count(L) end return c end
    function total() local t = 0 for _, c in ipairs(counts()) do t = t + c end return t end

    """

    func testInitialMasksHoldExactlyTheBudget() throws {
        try runLua(setup + """
        for _, s in ipairs{0.5, 0.9, 0.98} do
          for _, L in ipairs(layers) do
            masks.initial(L, s)
            assert(masks.count(L) == math.floor((1 - s) * L.n + 0.1), L.name .. ' at ' .. s)
            assert(L.module.weight:ne(0):sum() <= masks.count(L))
          end
        end
        assert(masks.budget(266200, 0.98) == 5324 and masks.budget(784 * 300, 0.98) == 4704 and masks.budget(1000, 0.98) == 20)
        assert(not pcall(masks.initial, layers[3], 0.999))   -- 80 weights at 0.999 leave none
        """, try runtime())
    }

    func testDSRKeepsTheGlobalBudgetAndAdaptsItsThreshold() throws {
        try runLua(setup + """
        for _, L in ipairs(layers) do masks.initial(L, 0.9) end
        local budget = total()
        local state = {threshold = 1e-3}
        local function below(h) local k = 0 for _, L in ipairs(layers) do k = k + #masks.belowThreshold(L, h) end return k end
        local cases = 0
        trainer.afterStep = function(s)
          if s.step % 2 ~= 0 then return end
          local h, k = state.threshold, below(state.threshold)
          -- Np chosen so that each rule is exercised: K > 1.1 Np halves, K < 0.9 Np doubles, else H stays
          local np = ({math.max(1, math.floor(k / 2)), 10 * k + 10, k})[s.step / 2 % 3 + 1]
          local before = {}
          for l, L in ipairs(layers) do before[l] = masks.flat(L) end
          local K, grown = rewire.step(layers, state, {threshold = true, scaling = true, nPrune = np, optimizer = opt})
          assert(K == k and grown == K, 'regrows what it pruned')
          assert(total() == budget, 'the global count stays at the budget: ' .. total() .. ' vs ' .. budget)
          if K > 1.1 * np then assert(state.threshold == h / 2)
          elseif K < 0.9 * np then assert(state.threshold == h * 2)
          else assert(state.threshold == h) end
          cases = cases + 1
          -- regrown entries (0 before, 1 now) start at 0; none is a position just pruned
          for l, L in ipairs(layers) do
            local now = masks.flat(L)
            local new = torch.cmul(now, before[l]:clone():mul(-1):add(1))
            assert(torch.cmul(L.module.weight:view(-1), new):abs():sum() == 0, 'regrown weights start at 0')
          end
        end
        for e = 1, 3 do trainer:epoch(train) end
        assert(cases == 12)
        """, try runtime())
    }

    func testDSRSharesRegrowthInProportionToSurvivors() throws {
        try runLua(setup + """
        local share = rewire.apportion(10, {60, 30, 10}, {100, 100, 100})
        assert(share[1] == 6 and share[2] == 3 and share[3] == 1)
        share = rewire.apportion(7, {1, 1, 1}, {100, 100, 100})          -- remainders to the lower layers
        assert(share[1] == 3 and share[2] == 2 and share[3] == 2)
        share = rewire.apportion(10, {90, 5, 5}, {4, 100, 100})          -- a full layer passes its share on
        assert(share[1] == 4 and share[1] + share[2] + share[3] == 10)
        """, try runtime())
    }

    func testSETKeepsEachLayersCountAndRegrowsElsewhere() throws {
        try runLua(setup + """
        for _, L in ipairs(layers) do masks.initial(L, 0.8) end
        local start = counts()
        local rewired = 0
        trainer.afterStep = function(s)
          if s.step % 3 ~= 0 then return end
          local before = {}
          for l, L in ipairs(layers) do before[l] = masks.flat(L) end
          local K = rewire.step(layers, {}, {fraction = 0.1, threshold = false, scaling = false, optimizer = opt})
          local expected = 0
          for l, L in ipairs(layers) do
            assert(masks.count(L) == start[l], 'SET keeps ' .. L.name .. "'s count")
            expected = expected + math.floor(0.1 * start[l]) + 1
            local gone = torch.cmul(before[l], masks.flat(L):mul(-1):add(1)):sum()
            assert(gone == math.floor(0.1 * start[l]) + 1, 'int(zeta * active) + 1 pruned')
          end
          assert(K == expected)
          rewired = rewired + 1
        end
        trainer:epoch(train)
        assert(rewired == 2)
        """, try runtime())
    }

    func testRegrownEntriesStartWithoutMomentum() throws {
        // After a regrowth, the next step moves a regrown weight by exactly a fresh Nesterov
        // step from 0: w = -lr (1 + m) g (weight decay 0), whatever momentum it had before.
        try runLua(setup + """
        for _, L in ipairs(layers) do masks.initial(L, 0.8) end
        trainer:epoch(train)                                   -- momentum everywhere
        local L = layers[1]
        local before = masks.flat(L)
        rewire.step({L}, {}, {fraction = 0.2, threshold = false, scaling = false, optimizer = opt})
        local grown = torch.cmul(masks.flat(L), before:mul(-1):add(1)):nonzero()
        assert(#grown > 0)
        local g
        trainer.afterBackward = function() g = L.module.gradWeight:view(-1):index(1, grown) end
        trainer:steps(train, 1)
        local w = L.module.weight:view(-1):index(1, grown)
        local expected = g:clone():mul(-0.1 * 1.9)
        assert((w - expected):abs():max() < 1e-6, 'a fresh step from 0: ' .. (w - expected):abs():max())
        """, try runtime())
    }

    func testBigNewWeightsAreDrawnFromTheInitialDistribution() throws {
        // --big-new-weights: N(0, 1/fan_in), here over many regrown entries of the 784-input layer
        try runLua(setup + """
        local L = layers[1]
        masks.initial(L, 0.5)
        local before = masks.flat(L)
        local pruned = masks.smallest(L, 3000)
        local grown = masks.draw(masks.freeExcept(L, pruned), 3000)
        masks.rewire(L, pruned, grown, opt, true)
        local v = L.module.weight:view(-1):index(1, grown)
        local sd = math.sqrt(v:clone():pow(2):mean())
        assert(math.abs(sd - 1 / math.sqrt(784)) < 0.1 / math.sqrt(784), 'std ' .. sd)
        assert(math.abs(v:mean()) < 0.1 / math.sqrt(784) and v:eq(0):sum() == 0)
        assert(masks.count(L) == 784 * 12 / 2, 'the count is kept')
        assert(torch.cmul(before, masks.flat(L)):sum() == 784 * 6 - 3000, 'pruned entries are gone')
        """, try runtime())
    }

    func testDeepRKeepsEachLayersCountAndItsActiveList() throws {
        try runLua(setup + """
        for _, L in ipairs(layers) do masks.initial(L, 0.8) end
        local start = counts()
        deepr.init(layers)
        local moved = 0
        trainer.afterBackward = function() deepr.noise(layers, math.sqrt(2 * 0.01 * 1)) end   -- large noise: many flips
        trainer.afterStep = function()
          moved = moved + deepr.rewire(layers, opt)
          for l, L in ipairs(layers) do
            assert(masks.count(L) == start[l], 'DeepR keeps ' .. L.name .. "'s count")
            local a = L.deepr.active:sort()
            local b = masks.active(L)
            assert(#a == #b and (a - b):abs():max() == 0, 'the active list is the mask')
          end
        end
        trainer:epoch(train)
        assert(moved > 0, 'some weights crossed zero')
        """, try runtime())
    }

    func testTiedPositionsShareOneValueAndItsGradientIsTheSum() throws {
        try runLua(setup + """
        local s = 0.9
        for _, L in ipairs(layers) do
          tied.init(L, s)
          assert(L.values == math.floor((1 - s) * L.n + 0.5))
          assert(L.counts:max() - L.counts:min() <= 1, 'balanced: each value covers n/B positions')
        end
        local L = layers[1]
        -- the gradient: one backward, then the sum per value at every position
        local x, y = train:batch(1, 32)
        net:zeroGradParameters()
        local c = nn.CrossEntropyCriterion()
        local out = net:forward(x)
        c:forward(out, y)
        net:backward(x, c:backward(out, y))
        local g = L.module.gradWeight:clone():view(-1)
        local h = L.buckets
        local sums = {}
        for i = 1, L.n do local b = h[i]; sums[b] = (sums[b] or 0) + g[i] end
        tied.gradient(L, false, 0)
        local after = L.module.gradWeight:view(-1)
        for i = 1, L.n, 7 do assert(math.abs(after[i] - sums[h[i]]) < 1e-5 * math.max(1, math.abs(sums[h[i]]))) end
        -- --rescale-tied-gradient: divided by the count
        L.module.gradWeight:copy(g)
        tied.gradient(L, true, 0)
        for i = 1, L.n, 11 do assert(math.abs(after[i] - sums[h[i]] / L.counts[h[i]]) < 1e-5) end
        -- training keeps every position of a value equal
        trainer.afterBackward = function() for _, T in ipairs(layers) do tied.gradient(T, false, 0) end end
        trainer:epoch(train)
        for _, T in ipairs(layers) do
          local bank = tied.bank(T)
          local spread = (T.module.weight:view(-1) - bank:index(1, T.buckets)):abs():max()
          assert(spread == 0, T.name .. ': positions of a value differ by ' .. spread)
        end
        """, try runtime())
    }

    func testGradualSchedulesGiveTheirDensitiesAtTheirEpochs() throws {
        try runLua(setup + """
        local s, n = 0.9, 4
        -- exponential: density (1 - s)^((k+1)/n) after prune k; cubic: 1 - s + s (1 - (k+1)/n)^3
        for _, cubic in ipairs{false, true} do
          local d = 1
          for k = 0, n - 1 do
            d = d * (1 - gradual.fraction(k, n, s, cubic))
            local want = cubic and (1 - s + s * (1 - (k + 1) / n) ^ 3) or (1 - s) ^ ((k + 1) / n)
            assert(math.abs(d - want) < 1e-12, string.format('prune %d: %g vs %g', k, d, want))
          end
          assert(math.abs(d - (1 - s)) < 1e-12)
        end
        -- the epochs: start 2, every 3, 3 prunes -> after epochs 2, 5, 8 (0-based)
        local due, done = {}, 0
        for e = 0, 12 do
          if gradual.due(e, done, {start = 2, freq = 3, n = 3}) then due[#due + 1] = e; done = done + 1 end
        end
        assert(#due == 3 and due[1] == 2 and due[2] == 5 and due[3] == 8)
        -- on the layers: int(f * active) pruned each time, the smallest magnitudes
        local targets = {s, s, s}
        local expect = {}
        for l, L in ipairs(layers) do expect[l] = L.n end
        for k = 0, n - 1 do
          gradual.prune(layers, targets, k, n, true)
          for l, L in ipairs(layers) do
            expect[l] = expect[l] - math.floor(gradual.fraction(k, n, s, true) * expect[l])
            assert(masks.count(L) == expect[l])
          end
        end
        for l, L in ipairs(layers) do assert(math.abs(masks.count(L) / L.n - (1 - s)) < 0.02) end
        -- mnist_mlp above 0.9: the last layer stops at 0.9, the others take the rest
        local t = gradual.targets({{}, {}, {}}, 0.98, true)
        assert(t[3] == 0.9 and math.abs(t[1] - (1 - 5224 / 265200)) < 1e-12 and t[1] == t[2])
        """, try runtime())
    }

    func testThinDenseWidthsMatchTheBudget() throws {
        try runLua(setup + """
        local w = model.thinWidths(5324)
        assert(w[1] == 7 and w[2] == 2)
        local wide = model.thinWidths(784 * 300 + 300 * 100 + 100 * 10)
        assert(wide[1] == 300 and wide[2] == 100)
        """, try runtime())
    }
}
