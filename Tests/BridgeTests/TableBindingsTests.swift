import Bridge
import Engine
import XCTest

/// Table modules in Lua: m:forward(table) gives a Lua table, m:backward(input, gradTable),
/// tostring as Torch prints them, and pruning a layer inside a container from Lua.
final class TableBindingsTests: XCTestCase {
    func testForwardAndBackwardWithTables() throws {
        let out = try runLua("""
            local c = nn.ConcatTable():add(nn.Identity()):add(nn.MulConstant(2))
            local x = torch.Tensor({{1, 2}})
            local y = c:forward(x)
            local p = nn.ParallelTable():add(nn.Identity()):add(nn.MulConstant(3))
            local z = p:forward(y)
            local g = p:backward(y, {torch.ones(1, 2), torch.ones(1, 2)})
            local s = nn.CAddTable():forward(z)
            local nested = nn.SelectTable(-1):forward({x, {x, y[2]}})
            return #y, y[2][1][2], z[2][1][1], g[2][1][1], s[1][2], torch.type(nested), nested[2][1][1],
                   torch.type(c.output), #c.output
            """)
        XCTAssertEqual(out.map { $0.number ?? -1 }.prefix(5), [2, 4, 6, 3, 2 + 12])
        XCTAssertEqual(out[5].string, "table")
        XCTAssertEqual(out[6].number, 2)
        XCTAssertEqual(out[7].string, "table")
        XCTAssertEqual(out[8].number, 2)
    }

    func testBadTablesAreLuaErrors() {
        XCTAssertTrue(luaError("nn.CAddTable():forward({torch.ones(2), torch.ones(3)})")?.message
            .contains("nn.CAddTable: input 2 has size 3, input 1 has 2") ?? false)
        XCTAssertTrue(luaError("nn.CAddTable():forward({torch.ones(2), 'x'})")?.message
            .contains("entry 2 of the table is a string, expected a tensor or a table of tensors") ?? false)
        XCTAssertTrue(luaError("local t = {}; t[1] = t; nn.Identity():forward(t)")?.message.contains("nested more than 64 deep") ?? false)
        XCTAssertTrue(luaError("""
            local c = nn.ConcatTable():add(nn.Identity()):add(nn.Identity())
            local x = torch.ones(2); c:forward(x); c:backward(x, {torch.ones(2)})
            """)?.message.contains("does not match the output of the last forward") ?? false)
    }

    func testTostringAsTorch() throws {
        let out = try runLua("""
            return tostring(nn.Sequential():add(nn.ConcatTable():add(nn.Identity()):add(nn.Sequential():add(nn.Tanh())))
                                         :add(nn.JoinTable(1, 3))),
                   tostring(nn.SpatialAveragePooling(2, 2, 2, 2)), tostring(nn.SpatialZeroPadding(1, 1, 0, 0)),
                   tostring(nn.SelectTable(-1)), tostring(nn.CAddTable(true)), tostring(nn.ParallelTable():add(nn.Identity()))
            """)
        XCTAssertEqual(out[0].string, """
            nn.Sequential {
              [input -> (1) -> (2) -> output]
              (1): nn.ConcatTable {
                input
                  |`-> (1): nn.Identity
                   `-> (2): nn.Sequential {
                         [input -> (1) -> output]
                         (1): nn.Tanh
                       }
                   ... -> output
              }
              (2): nn.JoinTable
            }
            """)
        XCTAssertEqual(out[1].string, "nn.SpatialAveragePooling(2x2, 2,2)")
        XCTAssertEqual(out[2].string, "nn.SpatialZeroPadding(l=1, r=1, t=0, b=0)")
        XCTAssertEqual(out[3].string, "nn.SelectTable(-1)")
        XCTAssertEqual(out[4].string, "nn.CAddTable")
        XCTAssertEqual(out[5].string, "nn.ParallelTable {\n  input\n     `-> (1): nn.Identity\n     ... -> output\n}")
    }

    /// wb.layers numbers the leaves; wb.prune with a Lua criterion prunes inside a ConcatTable.
    func testLuaCriterionPrunesInsideAContainer() throws {
        let lua = try LuaRuntime(scriptsDirectory: repositoryRoot.appendingPathComponent("scripts").path)
        let out = try runLua("""
            local net = loadfile(wb.scriptsDirectory() .. '/models/resnet-cifar.lua')(8)
            local layers, paths = wb.layers(net)
            local conv = layers[4]
            wb.registerPruner('absw', function(ctx) return ctx.weight:clone():abs() end)
            local retained = wb.prune(net, 4, 0.25, {pruner = 'absw'})
            local zeros = 0
            for i = 1, conv.weight:nElement() do if conv.weight:view(-1)[i] == 0 then zeros = zeros + 1 end end
            return #layers, paths[4], torch.type(conv), retained, zeros, conv.weight:nElement()
            """, lua)
        XCTAssertEqual(out[1].string, "4.1.1.1")
        XCTAssertEqual(out[2].string, "nn.SpatialConvolution")
        XCTAssertEqual(out[3].number ?? 0, 0.75, accuracy: 1e-9)
        XCTAssertEqual(out[4].number, Double(Int((0.25 * (out[5].number ?? 0)).rounded())))
    }
}
