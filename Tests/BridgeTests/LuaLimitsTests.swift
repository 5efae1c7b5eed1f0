import Bridge
import Engine
import Foundation
import XCTest

/// The interpreter's limits: the memory cap (Lua's own allocations), the time limit (a count
/// hook), and errors raised without a message, which still name their place.
final class LuaLimitsTests: XCTestCase {
    func testMemoryCapGivesLuasOrdinaryMemoryError() throws {
        let lua = try LuaRuntime()
        XCTAssertEqual(lua.memoryCap, 0, "no cap unless asked for")
        lua.memoryCap = 16 << 20
        let start = Date()
        let e = luaError("local t = {} for i = 1, 1e9 do t[i] = i .. 'x' end", lua)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        XCTAssertEqual(e?.message, "not enough memory (the script went over the Lua memory cap of 16 MB, -luaMemory; 0 = no cap)")
        // The state is still usable; the garbage is collected.
        lua.collectGarbage()
        XCTAssertLessThan(lua.memoryInUse, 16 << 20)
        XCTAssertEqual(try evaluate("#string.rep('y', 1000)", lua).number, 1000)
        // pcall catches it like any error.
        let r = try lua.run(string: "return pcall(function() return string.rep('z', 64 * 1024 * 1024) end)")
        XCTAssertEqual(r.map(\.description), ["false", "'not enough memory'"])
        lua.memoryCap = 0
        XCTAssertEqual(try evaluate("#string.rep('z', 64 * 1024 * 1024)", lua).number, 64 * 1024 * 1024)
    }

    func testSwiftAllocationsInLuaNeverFailOnTheCap() throws {
        let lua = try LuaRuntime()
        let live = Bridge.liveObjects
        lua.collectGarbage()
        lua.memoryCap = lua.memoryInUse + 64 * 1024
        // totable builds a 200,000-entry table from Swift, far over the cap: Swift is not
        // interrupted (no longjmp through it); the script may then fail on its next allocation.
        do {
            let r = try lua.run(string: "local t = torch.ones(200000):totable() return #t")
            XCTAssertEqual(r.first?.number, 200_000)
        } catch let e as LuaError {
            XCTAssertTrue(e.message.hasPrefix("not enough memory"), e.message)
        }
        lua.memoryCap = 0
        lua.collectGarbage()
        XCTAssertEqual(Bridge.liveObjects, live, "no Swift object leaked")
        XCTAssertEqual(try evaluate("torch.ones(3):sum()", lua).number, 3)
    }

    func testTimeLimitStopsAnEndlessLoop() throws {
        let lua = try LuaRuntime()
        lua.setTimeLimit(seconds: 0.3)
        let start = Date()
        let e = luaError("local x = 0\nwhile true do x = x + 1 end", lua)
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(e?.message, "test:2: script exceeded the time limit of 0.3 s (-luaTimeout)")
        XCTAssertTrue(e?.traceback.contains("test:2:") ?? false, e?.traceback ?? "")
        XCTAssertGreaterThan(elapsed, 0.25)
        XCTAssertLessThan(elapsed, 5)
        XCTAssertTrue(lua.timeLimitExpired)
        // Once expired it strikes at once, and pcall cannot hold it off.
        XCTAssertNotNil(luaError("while true do pcall(function() while true do end end) end", lua))
        lua.setTimeLimit(seconds: nil)
        XCTAssertFalse(lua.timeLimitExpired)
        XCTAssertEqual(try evaluate("1 + 1", lua).number, 2)
    }

    func testTimeLimitReachesCoroutinesAndLuaCalledFromSwift() throws {
        let lua = try LuaRuntime()
        lua.setTimeLimit(seconds: 0.2)
        let e = luaError("coroutine.wrap(function() while true do end end)()", lua)
        XCTAssertTrue(e?.message.contains("script exceeded the time limit of 0.2 s") ?? false, e?.message ?? "")
        // A Lua pruner, called from Swift by wb.prune, that never returns.
        let lua2 = try LuaRuntime()
        lua2.setTimeLimit(seconds: 0.2)
        let e2 = luaError("""
            wb.registerPruner('forever', function(ctx) while true do end end)
            local m = nn.Sequential():add(nn.Linear(4, 3))
            wb.prune(m, 1, 0.5, {pruner = 'forever'})
            """, lua2)
        XCTAssertTrue(e2?.message.contains("script exceeded the time limit of 0.2 s") ?? false, e2?.description ?? "")
    }

    func testThreadCountIsBounded() throws {
        XCTAssertEqual(luaError("wb.threads(100000)")?.message, "test:1: bad argument #1 to 'wb.threads' (thread count must be in 1...256, got 100000)")
        XCTAssertEqual(luaError("wb.threads(-1)")?.message, "test:1: bad argument #1 to 'wb.threads' (thread count must be in 1...256, got -1)")
    }

    func testErrorWithoutAMessageStillNamesItsPlace() throws {
        XCTAssertEqual(luaError("local function f()\n  error()\nend\nf()")?.message, "test:2: (error object is a nil value)")
        XCTAssertEqual(luaError("error(nil)")?.message, "test:1: (error object is a nil value)")
        XCTAssertEqual(luaError("\nerror({code = 1})")?.message, "test:2: (error object is a table value)")
        let e = luaError("error(setmetatable({}, {__tostring = function() return 'custom error' end}))")
        XCTAssertEqual(e?.message, "custom error")
        // An error value that is caught stays the value the script raised.
        XCTAssertEqual(try runLua("local ok, v = pcall(error, {code = 7}) return v.code").first?.number, 7)
    }
}
