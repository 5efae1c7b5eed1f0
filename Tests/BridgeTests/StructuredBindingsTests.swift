import Bridge
import Engine
import XCTest

/// wb.pruneStructured, wb.unitScores and structured criteria written in Lua.
final class StructuredBindingsTests: XCTestCase {
    func testPruneStructuredReturnsTheThinnerModelEqualToTheMaskedOne() throws {
        let out = try runLua("""
            torch.manualSeed(3)
            local m = nn.Sequential():add(nn.View(12)):add(nn.Linear(12, 8)):add(nn.ReLU()):add(nn.Linear(8, 3))
            m:evaluate()
            local thin, r = wb.pruneStructured(m, 2, 0.5, {criterion = 'l2'})
            local x = torch.randn(4, 12)
            -- the masked model: the consumer's columns of the removed units set to 0
            local w = m:get(4).weight
            for _, u in ipairs(r.removed) do for o = 1, 3 do w[o][u] = 0 end end
            local diff = (thin:forward(x) - m:forward(x)):abs():max()
            return tostring(thin), r.units, r.remaining, #r.removed, diff, r.criterion
            """)
        guard case .string(let listing) = out[0] else { return XCTFail("\(out)") }
        XCTAssertTrue(listing.contains("nn.Linear(12 -> 4)") && listing.contains("nn.Linear(4 -> 3)"), listing)
        XCTAssertEqual(out[1...3].map(\.number), [8, 4, 4])
        XCTAssertLessThanOrEqual(try XCTUnwrap(out[4].number), 1e-6)
        guard case .string("l2") = out[5] else { return XCTFail("\(out[5])") }
    }

    func testALuaCriterionScoresUnits() throws {
        let out = try runLua("""
            wb.registerPruner('rowsum', function(ctx) return ctx.weight:sum(2):view(-1) end, {structure = 'unit'})
            local m = nn.Sequential():add(nn.Linear(3, 4)):add(nn.Tanh()):add(nn.Linear(4, 2))
            local w = m:get(1).weight
            w:fill(1); w[2]:fill(-1); w[4]:fill(0.5)
            local s = wb.unitScores(m, 1, {criterion = 'rowsum'})
            local thin, r = wb.pruneStructured(m, 1, 0.5, {criterion = 'rowsum'})
            return s[2], r.removed[1], r.removed[2], #wb.structuredCriteria()
            """)
        XCTAssertEqual(out.map(\.number), [-3, 2, 4, 6])
    }

    func testErrorsNameTheProblem() throws {
        let m = "local m = nn.Sequential():add(nn.Linear(3, 4)):add(nn.Tanh()):add(nn.Linear(4, 2))\n"
        XCTAssertTrue(luaError(m + "wb.pruneStructured(m, 1, 1)")?.message.contains("would remove all of them") ?? false)
        XCTAssertTrue(luaError(m + "wb.pruneStructured(m, 3, 0.5)")?.message.contains("its outputs are the model's outputs") ?? false)
        XCTAssertTrue(luaError(m + "wb.pruneStructured(m, 1, 0.5, {criterion = 'mag'})")?.message.contains("unknown structured criterion 'mag'") ?? false)
        XCTAssertTrue(luaError("wb.registerPruner('x', function() end, {structure = 'row'})")?.message.contains("structure must be 'weight' or 'unit'") ?? false)
    }
}
