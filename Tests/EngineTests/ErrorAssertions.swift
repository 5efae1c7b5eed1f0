import XCTest
@testable import Engine

/// The EngineError message of `body`, failing the test when it does not throw one.
func errorMessage(_ body: () throws -> Any, file: StaticString = #filePath, line: UInt = #line) -> String {
    do {
        _ = try body()
        XCTFail("expected an error", file: file, line: line)
    } catch let e as EngineError {
        return e.message
    } catch {
        XCTFail("expected an EngineError, got \(error)", file: file, line: line)
    }
    return ""
}

/// Fails unless `message` contains every one of `parts`.
func assertMessage(_ message: String, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
    for p in parts where !message.contains(p) {
        XCTFail("message does not contain '\(p)': \(message)", file: file, line: line)
    }
}

/// The repository's root folder (for shipped files such as inp/lenet5.safetensors).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
