import ArgumentParser
import Bridge
import Engine
import Foundation

/// `workbench run FILE.lua [args...]`: runs a Lua script with the workbench API, its
/// arguments in `arg` (arg[0] is the script) and in `...`, as the `lua` command does.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a Lua script with the workbench API (nn, torch, wb).",
        discussion: """
        Examples:
          workbench run scripts/examples/prune-fc-iteratively.lua
          workbench run -threads 1 scripts/examples/custom-criterion.lua
          workbench run -luaMemory 512 -luaTimeout 60 my-script.lua arg1 arg2

        The flags go before the script; what follows the script is given to it (in `arg`).
        -luaMemory caps the memory of the Lua interpreter itself (tables, strings; tensors \
        are Engine memory and are not counted): over it the script gets Lua's "not enough \
        memory" error. -luaTimeout stops the script with an error once S seconds have passed \
        (checked between Lua instructions: a long wb.train call ends its current batch's \
        callback or its return first).
        """
    )

    @Option(name: .customLong("threads", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("Threads for the engine, \(Limits.threads.lowerBound)...\(Limits.threads.upperBound).", valueName: "threads"))
    var threadsText = NumberText(defaultThreads)
    @Option(name: .customLong("luaMemory", withSingleDash: true), parsing: .unconditional, help: LuaLimits.memoryHelp)
    var luaMemoryText = NumberText(Limits.defaultLuaMemoryMB)
    @Option(name: .customLong("luaTimeout", withSingleDash: true), parsing: .unconditional, help: LuaLimits.timeoutHelp)
    var luaTimeoutText = NumberText(0)
    var luaLimits: LuaLimits { LuaLimits(memoryText: luaMemoryText, timeoutText: luaTimeoutText) }

    var threads: Int { (try? threadsText.integer("-threads", in: Limits.threads)) ?? defaultThreads }

    @Argument(help: "The Lua script to run.")
    var script: String

    @Argument(parsing: .captureForPassthrough, help: "Arguments given to the script (in `arg`).")
    var args: [String] = []

    mutating func validate() throws {
        _ = try threadsText.integer("-threads", in: Limits.threads)
        try luaLimits.validate()
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: script) else {
            throw CLIError("no such script: \(script)")
        }
        Parallel.setThreads(threads)
        try runReportingErrors {
            let lua = try LuaRuntime()
            luaLimits.apply(to: lua)
            try lua.run(file: script, args: args)
        }
    }
}

/// Two threads by default (the machine the targets are set for), at most the cores present.
let defaultThreads = max(1, min(2, ProcessInfo.processInfo.activeProcessorCount))

/// An error the command line reports as one line, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Runs `body`, turning engine and Lua errors into one clear message and exit status 1
/// (an interrupt gives 130).
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as EngineError where e.message.hasSuffix(Interrupt.message) {
        FileHandle.standardError.write("workbench: \(Interrupt.message)\n".data(using: .utf8)!)
        throw ExitCode(130)
    } catch let e as LuaError where e.message.contains(Interrupt.message) {
        FileHandle.standardError.write("workbench: \(Interrupt.message)\n".data(using: .utf8)!)
        throw ExitCode(130)
    } catch let e as ExitCode {
        throw e
    } catch {
        FileHandle.standardError.write("workbench: error: \(error)\n".data(using: .utf8)!)
        throw ExitCode.failure
    }
}
