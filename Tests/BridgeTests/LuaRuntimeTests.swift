import Bridge
import Engine
import Foundation
import XCTest

/// The interpreter itself: running code, `arg`, `require`, and errors in both directions.
final class LuaRuntimeTests: XCTestCase {
    func testRunsAStringAndReturnsItsValues() throws {
        let r = try runLua("return 1 + 2, 'x', true, nil")
        XCTAssertEqual(r.count, 4)
        XCTAssertEqual(r[0].number, 3)
        XCTAssertEqual(r[1].string, "x")
        guard case .boolean(true) = r[2], case .nil = r[3] else { return XCTFail("\(r)") }
    }

    func testRunFileSetsArgLikeTheLuaCommand() throws {
        let dir = try temporaryDirectory(self)
        let script = dir.appendingPathComponent("args.lua")
        try "local a, b = ...\nreturn arg[0], arg[1], arg[2], #arg, a, b".write(to: script, atomically: true, encoding: .utf8)
        let r = try LuaRuntime().run(file: script.path, args: ["-l", "8"])
        XCTAssertEqual(r.map(\.description), ["'\(script.path)'", "'-l'", "'8'", "2.0", "'-l'", "'8'"])
    }

    func testRequireFindsScriptsBesideTheScriptAndInScripts() throws {
        let dir = try temporaryDirectory(self)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("lib"), withIntermediateDirectories: true)
        try "return {answer = 42}".write(to: dir.appendingPathComponent("lib/helper.lua"), atomically: true, encoding: .utf8)
        let scripts = dir.appendingPathComponent("scripts")
        try FileManager.default.createDirectory(at: scripts.appendingPathComponent("models"), withIntermediateDirectories: true)
        try "return 'from scripts'".write(to: scripts.appendingPathComponent("models/tiny.lua"), atomically: true, encoding: .utf8)
        let main = dir.appendingPathComponent("main.lua")
        try "return require('lib.helper').answer, (require('models.tiny'))".write(to: main, atomically: true, encoding: .utf8)
        let r = try LuaRuntime(scriptsDirectory: scripts.path).run(file: main.path)
        XCTAssertEqual(r.first?.number, 42)
        XCTAssertEqual(r.last?.string, "from scripts")
    }

    func testRequireNnAndTorchGiveTheGlobalTables() throws {
        let r = try runLua("local nn = require 'nn'; local torch = require 'torch'; return nn == _G.nn, torch == _G.torch, type(nn.Linear)")
        XCTAssertEqual(r.map(\.description), ["true", "true", "'function'"])
    }

    func testLuaRuntimeErrorReachesSwiftWithFileLineAndTraceback() throws {
        let dir = try temporaryDirectory(self)
        let script = dir.appendingPathComponent("broken.lua")
        try "local function inner()\n  error('boom')\nend\nlocal function outer() inner() end\nouter()\n"
            .write(to: script, atomically: true, encoding: .utf8)
        do {
            try LuaRuntime().run(file: script.path)
            XCTFail("no error")
        } catch let e as LuaError {
            XCTAssertEqual(e.kind, .runtime)
            XCTAssertTrue(e.message.hasSuffix("broken.lua:2: boom"), e.message)
            XCTAssertTrue(e.traceback.hasPrefix("stack traceback:"), e.traceback)
            XCTAssertTrue(e.traceback.contains("broken.lua:2: in "), e.traceback)
            XCTAssertTrue(e.traceback.contains("broken.lua:4: in "), e.traceback)
        }
    }

    func testSyntaxErrorIsReportedWithItsLine() throws {
        let e = luaError("local x = 1\nlocal = 2")
        XCTAssertEqual(e?.kind, .syntax)
        XCTAssertTrue(e?.message.hasPrefix("test:2:") ?? false, e?.message ?? "")
    }

    func testMissingFileIsAFileError() throws {
        XCTAssertThrowsError(try LuaRuntime().run(file: "/nonexistent/x.lua")) { error in
            XCTAssertEqual((error as? LuaError)?.kind, .file)
            XCTAssertTrue("\(error)".contains("cannot open"), "\(error)")
        }
    }

    func testSwiftErrorReachesLuaAsACatchableErrorWithPosition() throws {
        let r = try runLua("""
            local ok, msg = pcall(function() return nn.Linear(0, 3) end)
            return ok, msg
            """)
        XCTAssertEqual(r.first?.description, "false")
        XCTAssertEqual(r.last?.string, "test:1: bad argument #1 to 'nn.Linear' (expected an integer >= 1, got 0)")
    }

    func testEngineErrorReachesLuaWithItsMessage() throws {
        let r = try runLua("""
            local m = nn.Linear(3, 2)
            local ok, msg = pcall(m.forward, m, torch.zeros(4))
            return ok, msg
            """)
        XCTAssertEqual(r.first?.description, "false")
        XCTAssertTrue(r.last?.string?.contains("nn.Linear(3 -> 2): input has 4 features") ?? false, "\(r)")
    }

    func testUncaughtSwiftErrorReachesSwiftWithLuaPositionAndTraceback() throws {
        let e = luaError("local function f()\n  return torch.zeros(2):add('x')\nend\nf()")
        XCTAssertEqual(e?.message, "test:2: bad argument #1 to 'add' (number or tensor expected, got string)")
        XCTAssertTrue(e?.traceback.contains("test:2: in ") ?? false, e?.traceback ?? "")
    }

    func testErrorsInNestedPcallsAndErrorObjects() throws {
        let r = try runLua("""
            local ok, e = pcall(error, {code = 7})
            local ok2, e2 = pcall(function() torch.Tensor(2):fill() end)
            return e.code, e2
            """)
        XCTAssertEqual(r.first?.number, 7)
        XCTAssertEqual(r.last?.string, "test:2: bad argument #1 to 'fill' (number expected, got no value)")
    }

    func testGlobalsCanBeSetAndRead() throws {
        let lua = try LuaRuntime()
        lua.setGlobal("opt", .record(["lr": .number(0.1), "name": .string("x"), "layers": .array([.number(1), .number(4)])]))
        XCTAssertEqual(try evaluate("opt.lr * 10 .. opt.name .. #opt.layers", lua).string, "1.0x2")
        try lua.run(string: "answer = 42")
        XCTAssertEqual(lua.global("answer").number, 42)
    }

    func testStateSurvivesManyErrors() throws {
        let lua = try LuaRuntime()
        for _ in 0..<200 {
            _ = luaError("torch.zeros(-1)", lua)
        }
        XCTAssertEqual(try evaluate("torch.ones(3):sum()", lua).number, 3)
    }
}
