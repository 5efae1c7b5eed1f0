import Bridge
import Engine
import XCTest

/// Userdata retain their Swift objects exactly once and release them when collected, also
/// when errors cross the bridge in both directions.
final class LeakTests: XCTestCase {
    func testObjectsCreatedInALoopAreAllReleased() throws {
        let baseline = Bridge.liveObjects
        let lua = try LuaRuntime()
        try lua.run(string: """
            for i = 1, 1000 do
              local t = torch.rand(3, 4)
              local u = (t + 1) * 2 - t:clone():abs()
              local v, ix = u:view(12):sort(true)
              local mask = v:gt(0.5)
              local s = t:size()
              local m = nn.Sequential():add(nn.Linear(4, 2)):add(nn.Tanh())
              local y = m:forward(t)
              m:backward(t, y)
              local p, g = m:parameters()
              local c = nn.CrossEntropyCriterion()
              c:forward(y, torch.Tensor{1, 2, 1})
              local ok = pcall(function() return m:forward(torch.zeros(5)) end)
              assert(not ok)
            end
            """, chunkName: "loop")
        XCTAssertGreaterThan(Bridge.liveObjects, baseline, "some objects are still waiting for collection")
        try lua.run(string: "collectgarbage('collect'); collectgarbage('collect')")
        XCTAssertEqual(Bridge.liveObjects, baseline)
    }

    func testClosingTheRuntimeReleasesEverything() throws {
        let baseline = Bridge.liveObjects
        weak var weakTensor: Tensor?
        weak var weakModule: Module?
        do {
            let lua = try LuaRuntime()
            try lua.run(string: "keep = {torch.zeros(1000), nn.Linear(10, 10)}")
            weakTensor = try lua.run(string: "return keep[1]").first?.tensor
            weakModule = try lua.run(string: "return keep[2]").first?.module
            XCTAssertNotNil(weakTensor)
            XCTAssertEqual(Bridge.liveObjects, baseline + 2)
        }
        XCTAssertNil(weakTensor, "the tensor was freed with the runtime")
        XCTAssertNil(weakModule)
        XCTAssertEqual(Bridge.liveObjects, baseline)
    }

    func testGarbageCollectionFreesTheSwiftObject() throws {
        let lua = try LuaRuntime()
        weak var weakTensor: Tensor?
        do {
            let t = Tensor(shape: [10])
            weakTensor = t
            lua.setGlobal("t", .tensor(t))
        }
        XCTAssertNotNil(weakTensor, "Lua holds the tensor")
        try lua.run(string: "t = nil; collectgarbage('collect')")
        XCTAssertNil(weakTensor, "collected by Lua, freed in Swift")
    }

    func testCloseReleasesAtOnce() throws {
        let baseline = Bridge.liveObjects
        let lua = try LuaRuntime()
        try lua.run(string: "collectgarbage('stop'); do local t <close> = torch.zeros(5) end", chunkName: "close")
        XCTAssertEqual(Bridge.liveObjects, baseline, "released by __close without a collection")
    }

    func testErrorsInBothDirectionsDoNotGrowLuaMemory() throws {
        let lua = try LuaRuntime()
        let source = """
            for i = 1, 500 do
              pcall(nn.Linear, -1, 2)
              pcall(function() torch.zeros(2):add(torch.zeros(3)) end)
              pcall(function() error('plain Lua error') end)
            end
            collectgarbage('collect')
            """
        func round() throws {
            try lua.run(string: source)
            for _ in 0..<100 { _ = luaError("torch.zeros(2):fill('x')", lua) }
            lua.collectGarbage()
        }
        // Warm up: interned strings, and tables (the string table, the registry) that grow
        // once to their working size, which may take a second round.
        for _ in 0..<2 { try round() }
        let before = lua.memoryInUse
        for _ in 0..<5 { try round() }     // 8,000 errors more: a leak grows with each round
        XCTAssertLessThan(lua.memoryInUse - before, 4096, "Lua memory stays flat across errors")
    }
}
