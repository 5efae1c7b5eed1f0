import Bridge
import Engine
import XCTest

/// An `Interrupted` (Ctrl-C) a Swift function raises into Lua comes back as the cause of the
/// chunk's `LuaError`, so that the command line can tell it by type; other errors have none.
final class InterruptCauseTests: XCTestCase {
    private func runtime() throws -> LuaRuntime {
        let lua = try LuaRuntime()
        lua.register(library: "fake", [
            "interrupt": { _ in throw Interrupted() },
            "fail": { _ in throw EngineError("plain failure") },
            // A chunk run from inside a binding: its error goes on up through the binding.
            "nested": { [unowned lua] _ in
                try lua.run(string: "fake.interrupt()", chunkName: "inner")
                return 0
            },
        ])
        return lua
    }

    func testInterruptedRaisedIntoLuaIsTheCause() throws {
        let lua = try runtime()
        let e = try XCTUnwrap(luaError("local function f() fake.interrupt() end\nf()", lua))
        XCTAssertEqual(e.message, "test:1: interrupted (Ctrl-C)")
        XCTAssertTrue(e.cause is Interrupted)
        let nested = try XCTUnwrap(luaError("fake.nested()", lua))
        XCTAssertTrue(nested.message.hasPrefix("inner:1: interrupted (Ctrl-C)"), nested.message)
        XCTAssertTrue(nested.cause is Interrupted)
    }

    func testOtherErrorsHaveNoCauseAndNoneIsLeftOver() throws {
        let lua = try runtime()
        XCTAssertNil(try XCTUnwrap(luaError("fake.fail()", lua)).cause)
        XCTAssertNotNil(try XCTUnwrap(luaError("fake.interrupt()", lua)).cause)
        // A later failure of the same runtime is its own.
        XCTAssertNil(try XCTUnwrap(luaError("fake.fail()", lua)).cause)
        XCTAssertNil(try XCTUnwrap(luaError("error('from Lua')", lua)).cause)
        // A chunk that caught the interrupt and finished leaves nothing for the next one.
        guard case .boolean(false) = try runLua("return (pcall(fake.interrupt))", lua).first else {
            return XCTFail("pcall catches the interrupt")
        }
        XCTAssertNil(try XCTUnwrap(luaError("fake.fail()", lua)).cause)
        // Equality of LuaErrors ignores the cause.
        XCTAssertEqual(LuaError(message: "m", cause: Interrupted()), LuaError(message: "m"))
    }
}
