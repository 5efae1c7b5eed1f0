import Bridge
import Foundation
import XCTest

/// Every ```lua example of docs/lua-api.md runs without error (each in a fresh runtime, as a
/// script file, with `print` silenced).
final class DocExamplesTests: XCTestCase {
    func testEveryExampleInTheLuaAPIDocumentRuns() throws {
        let doc = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/lua-api.md"), encoding: .utf8)
        let blocks = doc.components(separatedBy: "```lua\n").dropFirst().map { $0.components(separatedBy: "\n```")[0] }
        XCTAssertGreaterThan(blocks.count, 15)
        let dir = try temporaryDirectory(self)
        for (i, block) in blocks.enumerated() {
            let file = dir.appendingPathComponent("example\(i + 1).lua")
            try ("print = function() end\n" + block).write(to: file, atomically: true, encoding: .utf8)
            let lua = try LuaRuntime(scriptsDirectory: repositoryRoot.appendingPathComponent("scripts").path)
            XCTAssertNoThrow(try lua.run(file: file.path), "example \(i + 1):\n\(block)")
        }
    }
}
