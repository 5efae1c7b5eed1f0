import Bridge
import Engine
import Foundation
import XCTest

/// Runs Lua source in a fresh runtime and gives the chunk's results.
@discardableResult
func runLua(_ source: String, _ runtime: LuaRuntime? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> [LuaValue] {
    let lua = try runtime ?? LuaRuntime()
    return try lua.run(string: source, chunkName: "test")
}

/// The error a Lua chunk raises, or a test failure when it does not raise.
func luaError(_ source: String, _ runtime: LuaRuntime? = nil, file: StaticString = #filePath, line: UInt = #line) -> LuaError? {
    do {
        let lua = try runtime ?? LuaRuntime()
        try lua.run(string: source, chunkName: "test")
        XCTFail("expected a Lua error from: \(source)", file: file, line: line)
    } catch let e as LuaError {
        return e
    } catch {
        XCTFail("expected a LuaError, got \(error)", file: file, line: line)
    }
    return nil
}

/// The value of a one-expression chunk.
func evaluate(_ expression: String, _ runtime: LuaRuntime) throws -> LuaValue {
    try runtime.run(string: "return " + expression, chunkName: "test").first ?? .nil
}

/// The repository root (Tests/BridgeTests/ is two levels below it).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh temporary directory, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bridge-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

func XCTAssertTensor(_ t: Tensor?, shape: [Int], values: [Float], accuracy: Float = 0,
                     file: StaticString = #filePath, line: UInt = #line) {
    guard let t else { return XCTFail("no tensor", file: file, line: line) }
    XCTAssertEqual(t.shape, shape, file: file, line: line)
    XCTAssertEqual(t.count, values.count, file: file, line: line)
    for (a, b) in zip(t.scalars, values) where abs(a - b) > accuracy {
        return XCTFail("\(t.scalars) != \(values)", file: file, line: line)
    }
}
