import ArgumentParser
import Bridge
import Engine
import Foundation

/// An error the command line reports as one line, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Whether `error` is the stop after Ctrl-C: the Engine's `Interrupted`, thrown in Swift or
/// carried through Lua as a `LuaError`'s cause.
func isInterruption(_ error: any Error) -> Bool {
    error is Interrupted || (error as? LuaError)?.cause is Interrupted
}

/// Runs `body`, turning engine and Lua errors into one clear message and exit status 1
/// (an interrupt gives "workbench: interrupted (Ctrl-C)" and 130).
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch let e where isInterruption(e) {
        FileHandle.standardError.write("workbench: \(Interrupt.message)\n".data(using: .utf8)!)
        throw ExitCode(130)
    } catch {
        FileHandle.standardError.write("workbench: error: \(error)\n".data(using: .utf8)!)
        throw ExitCode.failure
    }
}
