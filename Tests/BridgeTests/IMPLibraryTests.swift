import Bridge
import Engine
import XCTest

/// The pieces of scripts/imp.lua: bias masks from Lua, the batch-norm average restart, the
/// network of an architecture string (modules, parameter counts, initialisation statistics)
/// and IMP's joint weight-and-bias masks.
final class IMPLibraryTests: XCTestCase {
    private func runtime() throws -> LuaRuntime {
        try LuaRuntime(scriptsDirectory: repositoryRoot.appendingPathComponent("scripts").path)
    }

    func testBiasMasksFromLua() throws {
        let lua = try runtime()
        try runLua("""
        fc = nn.Linear(3, 2)
        fc.weight = torch.Tensor{{1, 2, 3}, {4, 5, 6}}
        fc.bias = torch.Tensor{7, 8}
        fc:setMask(torch.Tensor{1, 0}, 'bias')
        assert(fc.bias[1] == 7 and fc.bias[2] == 0 and fc.biasMask[2] == 0 and fc.mask == nil)
        assert(fc.biasOrig[2] == 8)
        y = fc:forward(torch.Tensor{{0, 0, 0}})
        assert(y[1][2] == 0 and y[1][1] == 7)
        fc.bias = torch.Tensor{9, 10}              -- stored values, under the mask too
        assert(fc.bias[2] == 0 and fc.biasOrig[2] == 10)
        fc:removeMask('bias')
        assert(fc.bias[2] == 10 and fc.biasMask == nil)
        fc:setMask(torch.Tensor{{1, 1, 1}, {0, 0, 0}})  -- the weight's, as before
        assert(fc.mask:sum() == 3 and fc.biasMask == nil)
        """, lua)
        XCTAssertTrue(luaError("nn.Linear(3, 2):setMask(torch.ones(2), 'gamma')", lua)!.message.contains("'weight' or 'bias'"))
        XCTAssertTrue(luaError("nn.Linear(3, 2):setMask(torch.ones(3), 'bias')", lua)!.message.contains("mask has 3 elements"))
        XCTAssertTrue(luaError("nn.Linear(3, 2, false):setMask(torch.ones(2), 'bias')", lua)!.message.contains("has no bias"))
    }

    func testUpdatesLeaveMaskedBiasesAtZero() throws {
        try runLua("""
        torch.manualSeed(1)
        local net = nn.Sequential():add(nn.Linear(4, 3))
        local fc = net:get(1)
        fc:setMask(torch.Tensor{1, 0, 1}, 'bias')
        local x, y = torch.randn(2, 4), torch.randn(2, 3)
        for i = 1, 5 do
          net:zeroGradParameters()
          local out = net:forward(x)
          local c = nn.MSECriterion()
          c:forward(out, y)
          net:backward(x, c:backward(out, y))
          net:updateParameters(0.1)
        end
        assert(fc.bias[2] == 0)
        """)
    }

    func testRestartRunningAverageStartsFromTheNextBatch() throws {
        try runLua("""
        local bn = nn.BatchNormalization(2, 1e-10, 0.01)
        local x = torch.Tensor{{1, 10}, {3, 30}}
        bn:training(); bn:forward(x)
        assert(math.abs(bn.runningMean[1] - 0.02) < 1e-6)      -- momentum 0.01 from 0
        bn:restartRunningAverage()
        assert(bn.runningMean[1] == 0 and bn.runningVar[1] == 1)
        bn:evaluate(); bn:forward(x)                            -- evaluation does not start it
        assert(bn.runningMean[1] == 0)
        bn:training(); bn:forward(x)                            -- this batch replaces the averages
        assert(bn.runningMean[1] == 2 and bn.runningMean[2] == 20 and bn.runningVar[1] == 2)
        bn:forward(torch.Tensor{{2, 20}, {4, 40}})              -- then momentum 0.01 again
        assert(math.abs(bn.runningMean[1] - (0.99 * 2 + 0.01 * 3)) < 1e-6)
        """)
    }

    func testTheArchitectureStringBuildsTheStatedModules() throws {
        let lua = try runtime()
        let r = try runLua("""
        local network = require 'lib.imp.network'
        local layers = {{kind = 'f', units = 300, prune = true}, {kind = 'f', units = 100, prune = true}, {kind = 'x', prune = false}}
        local net, info = network.build(layers, {channels = 1, height = 28, width = 28, classes = 10}, 0.99, 'arch')
        local types = {}
        for i = 1, #net do types[i] = torch.type(net:get(i)) end
        local params = 0
        for _, p in ipairs(net:parameters()) do params = params + p:numel() end
        local conv = network.build({{kind = 'c', kernel = 5, channels = 8, stride = 2}, {kind = 'p', kernel = 2, stride = 2},
                                    {kind = 'f', units = 16}, {kind = 'x'}}, {channels = 3, height = 32, width = 32, classes = 4}, 0.99, 'arch')
        local ctypes = {}
        for i = 1, #conv do ctypes[i] = torch.type(conv:get(i)) end
        local y = conv:forward(torch.randn(2, 3, 32, 32))
        return table.concat(types, ' '), params, info[1].bn.eps, info[1].bn.momentum, info[3].outputs,
               table.concat(ctypes, ' '), conv:get(5).nOutput, y:size(2), conv:get(1).bias:abs():sum()
        """, lua)
        XCTAssertEqual(r[0].string, "nn.View nn.BatchNormalization nn.Linear nn.ReLU nn.BatchNormalization nn.Linear nn.ReLU nn.BatchNormalization nn.Linear")
        // W and b of 784-300-100-10, and gamma, beta of each layer's input (784, 300, 100)
        XCTAssertEqual(r[1].number, Double(784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10 + 2 * (784 + 300 + 100)))
        XCTAssertEqual(r[2].number!, 1e-10, accuracy: 1e-16)
        XCTAssertEqual(r[3].number!, 0.01, accuracy: 1e-12)
        XCTAssertEqual(r[4].number, 10)
        // 32 -> (32-5)/2+1 = 14 -> (14-2)/2+1 = 7: 8*7*7 = 392 features into the batch norm
        XCTAssertEqual(r[5].string, "nn.SpatialConvolution nn.ReLU nn.SpatialMaxPooling nn.View nn.BatchNormalization nn.Linear nn.ReLU nn.BatchNormalization nn.Linear")
        XCTAssertEqual(r[6].number, 392)
        XCTAssertEqual(r[7].number, 4)
        XCTAssertEqual(r[8].number, 0, "a convolution has no bias (held at 0 by its mask)")
        XCTAssertTrue(luaError("""
        local network = require 'lib.imp.network'
        network.build({{kind = 'c', kernel = 9, channels = 2, stride = 1}, {kind = 'x'}}, {channels = 1, height = 8, width = 8, classes = 2}, 0.99, 'f.ini:3: arch')
        """, lua)!.message.contains("f.ini:3: arch: layer 1 (c): a 9x9 window does not fit the 8x8 input"))
    }

    func testInitialisationMatchesTheFormulaOnALargeLayer() throws {
        let lua = try runtime()
        let r = try runLua("""
        local network = require 'lib.imp.network'
        torch.manualSeed(3)
        local _, info = network.build({{kind = 'f', units = 1024}, {kind = 'x'}}, {channels = 3, height = 32, width = 32, classes = 10}, 0.99, 'arch')
        network.initialise(info)
        local w = info[1].linear.weight
        local _, cinfo = network.build({{kind = 'c', kernel = 5, channels = 256, stride = 1}, {kind = 'x'}}, {channels = 64, height = 8, width = 8, classes = 2}, 0.99, 'arch')
        network.initialise(cinfo)
        local cw = cinfo[1].linear.weight
        return w:mean(), w:clone():pow(2):mean(), info[1].linear.bias:abs():sum(), info[1].bn.weight:min(), info[1].bn.weight:max(),
               info[1].bn.bias:abs():sum(), cw:clone():pow(2):mean()
        """, lua)
        let variance = 2.0 / Double(3072 + 1024)            // N(0, 2/(fan_in + fan_out))
        XCTAssertEqual(r[0].number!, 0, accuracy: 4 * (variance / 3_145_728).squareRoot())
        XCTAssertEqual(r[1].number! / variance, 1, accuracy: 0.01)
        XCTAssertEqual(r[2].number, 0)
        XCTAssertEqual(r[3].number, 1)
        XCTAssertEqual(r[4].number, 1)
        XCTAssertEqual(r[5].number, 0)
        XCTAssertEqual(r[6].number! / (2.0 / Double(25 * 64 + 256)), 1, accuracy: 0.01)
    }

    func testMasksPruneWeightsAndBiasesTogether() throws {
        let lua = try runtime()
        let r = try runLua("""
        local network = require 'lib.imp.network'
        local masks = require 'lib.imp.masks'
        torch.manualSeed(5)
        local _, info = network.build({{kind = 'f', units = 40, prune = true}, {kind = 'x'}}, {channels = 1, height = 5, width = 5, classes = 3}, 0.99, 'arch')
        network.initialise(info)
        local l = info[1]
        l.linear.bias = torch.randn(40)               -- biases compete with the weights
        local n = 25 * 40 + 40
        local m = masks.current(l)
        local r, densities = 0, {}
        for it = 1, 5 do
          r = r + 0.3 * (1 - r)
          local snap = network.snapshot(info)[1]
          local new = masks.prune(l, snap, m, r)
          -- what was pruned stays pruned, and exactly floor(r n) entries are pruned
          assert(new.W:clone():cmul(m.W):sum() == new.W:sum() and new.b:clone():cmul(m.b):sum() == new.b:sum())
          assert(n - new.W:sum() - new.b:sum() == math.floor(r * n), 'iteration ' .. it)
          m = new
          masks.install(l, m)
          densities[it] = masks.density(l, m)
        end
        -- the kept entries are the largest |w| and |b| together
        local w, b = l.linear.weightOrig:view(-1), l.linear.biasOrig
        local mw, mb = m.W:view(-1), m.b
        local lowestKept, highestPruned = math.huge, 0
        for i = 1, w:numel() do
          if mw[i] == 1 then lowestKept = math.min(lowestKept, math.abs(w[i])) else highestPruned = math.max(highestPruned, math.abs(w[i])) end
        end
        for i = 1, b:numel() do
          if mb[i] == 1 then lowestKept = math.min(lowestKept, math.abs(b[i])) else highestPruned = math.max(highestPruned, math.abs(b[i])) end
        end
        assert(highestPruned <= lowestKept)
        return densities[1], densities[3], densities[5], m.b:sum(), masks.connected(l, m), lowestKept
        """, lua)
        let n = Double(25 * 40 + 40)
        var ratio = 0.0
        var expected = [Double]()
        for _ in 1...5 { ratio += 0.3 * (1 - ratio); expected.append(1 - (ratio * n).rounded(.down) / n) }
        XCTAssertEqual(r[0].number!, expected[0], accuracy: 1e-12)
        XCTAssertEqual(r[1].number!, expected[2], accuracy: 1e-12)
        XCTAssertEqual(r[2].number!, expected[4], accuracy: 1e-12)
        XCTAssertEqual(expected[4], pow(0.7, 5), accuracy: 1.0 / n, "density (1 - ratio)^n")
        XCTAssertLessThan(r[3].number!, 40, "some biases were pruned with the weights")
        XCTAssertGreaterThan(r[3].number!, 0)
        XCTAssertGreaterThan(r[4].number!, 0)
    }
}
