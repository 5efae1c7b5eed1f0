import Bridge
import Engine
import XCTest

/// Effective and stored weights, scores and their files, from Lua.
final class ReparametrisationBindingsTests: XCTestCase {
    func testStoredWeightsComeBackAndAssignmentSetsThem() throws {
        let lua = try LuaRuntime()
        try lua.run(string: """
            m = nn.Linear(2, 2)
            m.weight:copy(torch.Tensor{{1, -2}, {3, -4}})
            m:setMask(torch.Tensor{{1, 0}, {0, 1}})
            eff = m.weight:clone(); orig = m.weightOrig
            m:removeMask(); back = m.weight:clone()
            m:setMask(torch.Tensor{{1, 0}, {0, 1}})
            m.weight = torch.Tensor{{5, 6}, {7, 8}}
            eff2 = m.weight:clone(); orig2 = m.weightOrig
            """, chunkName: "stored")
        XCTAssertTensor(try evaluate("eff", lua).tensor, shape: [2, 2], values: [1, 0, 0, -4])
        XCTAssertTensor(try evaluate("orig", lua).tensor, shape: [2, 2], values: [1, -2, 3, -4])
        XCTAssertTensor(try evaluate("back", lua).tensor, shape: [2, 2], values: [1, -2, 3, -4])
        XCTAssertTensor(try evaluate("eff2", lua).tensor, shape: [2, 2], values: [5, 0, 0, 8])
        XCTAssertTensor(try evaluate("orig2", lua).tensor, shape: [2, 2], values: [5, 6, 7, 8])
    }

    func testScoresChooseTheMaskAndTrainWithTheirGradient() throws {
        let lua = try LuaRuntime()
        try lua.run(string: """
            torch.manualSeed(2)
            net = nn.Sequential():add(nn.Linear(4, 6)):add(nn.Tanh()):add(nn.Linear(6, 2))
            fc = net:get(1)
            fc:setScores(torch.Tensor(6, 4):uniform(-1, 1), 0.5)
            kept0 = fc.mask:sum()
            x, y = torch.randn(8, 4), torch.Tensor{1, 2, 1, 2, 1, 2, 1, 2}
            c = nn.CrossEntropyCriterion()
            net:zeroGradParameters()
            out = net:forward(x); c:forward(out, y); net:backward(x, c:backward(out, y))
            direct = fc.gradWeight:clone():cmul(fc.weightOrig):cmul(fc.scores:clone():sign())
            diff = (fc.gradScores - direct):abs():max()
            before = fc.scores:clone()
            net:updateParameters(0.5)
            moved = (fc.scores - before):abs():max()
            fc.keptFraction = 0.25
            net:forward(x)
            kept1 = fc.mask:sum()
            """, chunkName: "scores")
        XCTAssertEqual(try evaluate("kept0", lua).number, 12)
        XCTAssertEqual(try evaluate("diff", lua).number, 0)
        XCTAssertGreaterThan(try evaluate("moved", lua).number ?? 0, 0)
        XCTAssertEqual(try evaluate("kept1", lua).number, 6)
        XCTAssertTrue(luaError("fc:setMask(fc.mask)", lua)?.message.contains("chosen by its scores") ?? false)
        XCTAssertTrue(luaError("fc:setScores(torch.ones(3), 0.5)", lua)?.message.contains("3 scores") ?? false)
        XCTAssertTrue(luaError("fc:setScores(torch.ones(6, 4), 1.5)", lua)?.message.contains("between 0 and 1") ?? false)
        XCTAssertTrue(luaError("fc.scores = torch.ones(6, 4)", lua)?.message.contains("cannot be replaced") ?? false)
        XCTAssertTrue(luaError("nn.Linear(2, 2).keptFraction = 0.5", lua)?.message.contains("has no scores") ?? false)
    }

    func testSaveModelWritesOriginalsOnlyWhenAsked() throws {
        let dir = try temporaryDirectory(self)
        let lua = try LuaRuntime()
        try lua.run(string: """
            torch.manualSeed(3)
            net = nn.Sequential():add(nn.Linear(4, 3)):add(nn.Tanh()):add(nn.Linear(3, 2))
            wb.prune(net, 1, 0.5)
            net:get(3):setScores(torch.Tensor(2, 3):uniform(-1, 1), 0.5)
            wb.saveModel(net, '\(dir.path)/plain.safetensors')
            wb.saveModel(net, '\(dir.path)/full.safetensors', nil, {originals = true})
            again = wb.loadModel('\(dir.path)/full.safetensors')
            same = (again:get(1).weightOrig - net:get(1).weightOrig):abs():max() == 0
               and (again:get(3).scores - net:get(3).scores):abs():max() == 0
               and (again:get(3).mask - net:get(3).mask):abs():max() == 0
            """, chunkName: "files")
        XCTAssertEqual(try evaluate("same", lua).description, "true")
        let plain = try SafetensorsFile(contentsOf: dir.appendingPathComponent("plain.safetensors").path).entries.map(\.name)
        let full = try SafetensorsFile(contentsOf: dir.appendingPathComponent("full.safetensors").path).entries.map(\.name)
        XCTAssertFalse(plain.contains { $0.hasSuffix("_orig") })
        XCTAssertTrue(plain.contains("2.weight_scores"))
        XCTAssertTrue(full.contains("0.weight_orig") && full.contains("2.weight_orig"))
        XCTAssertTrue(luaError("wb.saveModel(net, '\(dir.path)/x', nil, {original = true})", lua)?.message.contains("original") ?? false)
    }
}
