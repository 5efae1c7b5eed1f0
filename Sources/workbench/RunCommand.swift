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

    @OptionGroup var engine: ThreadOptions
    @OptionGroup var luaLimits: LuaLimitOptions

    @Argument(help: "The Lua script to run.")
    var script: String

    @Argument(parsing: .captureForPassthrough, help: "Arguments given to the script (in `arg`).")
    var args: [String] = []

    func validate() throws {
        try engine.check()
        try luaLimits.check()
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: script) else {
            throw CLIError("no such script: \(script)")
        }
        engine.apply()
        try runReportingErrors {
            let lua = try LuaRuntime()
            luaLimits.apply(to: lua)
            try lua.run(file: script, args: args)
        }
    }
}
