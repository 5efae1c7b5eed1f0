import ArgumentParser
import Bridge
import Engine
import Foundation

// The options that more than one command takes, each declared once and used through
// `@OptionGroup`: the flow (`PruneCommand`) and `run` both take `-threads`, `-luaMemory` and
// `-luaTimeout`; `freezeout` takes `-threads` too (spelled `--threads` there). Their values
// are checked by the group's `check()`, with the checks of
// NumericFlags.swift, so every command gives the same message for the same bad value. The
// commands call `check()` from their `validate()`: the groups have no `validate()` of their
// own because ArgumentParser runs that while decoding, before it sets the parsed arguments
// aside, and then reads `-threads` as bundled short flags with `-h` in them: a bad value
// would print the help instead of the error.

/// Two threads by default (the machine the targets are set for), at most the cores present.
let defaultThreads = max(1, min(2, ProcessInfo.processInfo.activeProcessorCount))

/// `-threads N` (or `--threads N`, the spelling of the double-dash commands): the engine's
/// worker threads.
struct ThreadOptions: ParsableArguments {
    @Option(name: [.customLong("threads", withSingleDash: true), .customLong("threads")], parsing: .unconditional,
            help: ArgumentHelp("Threads for the engine, \(Limits.threads.lowerBound)...\(Limits.threads.upperBound).", valueName: "threads"))
    var threadsText = NumberText(defaultThreads)

    /// The value: `check()` has accepted it.
    var threads: Int { (try? threadsText.integer("-threads", in: Limits.threads)) ?? defaultThreads }

    /// Throws a `ValidationError` naming the flag, the value and the range.
    func check() throws {
        _ = try threadsText.integer("-threads", in: Limits.threads)
    }

    /// Sets the engine's thread count.
    func apply() { Parallel.setThreads(threads) }
}

/// `-luaMemory MB` and `-luaTimeout S`: the limits of the Lua interpreter.
struct LuaLimitOptions: ParsableArguments {
    @Option(name: .customLong("luaMemory", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp(
                "Cap on the Lua interpreter's own memory in MB, \(Limits.luaMemoryMB.lowerBound)...\(Limits.luaMemoryMB.upperBound) (0: no cap); tensors are not counted.",
                valueName: "MB"))
    var luaMemoryText = NumberText(Limits.defaultLuaMemoryMB)
    @Option(name: .customLong("luaTimeout", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("Stop the Lua script with an error after S seconds, 0...\(Int(Limits.maxLuaTimeout)) (0: no limit).",
                               valueName: "S"))
    var luaTimeoutText = NumberText(0)

    /// The values: `check()` has accepted them.
    var memoryMB: Int { (try? luaMemoryText.integer("-luaMemory", in: Limits.luaMemoryMB)) ?? Limits.defaultLuaMemoryMB }
    var timeout: Double { (try? luaTimeoutText.real("-luaTimeout", "", { _ in true })) ?? 0 }

    /// Throws a `ValidationError` naming the flag, the value and the range.
    func check() throws {
        _ = try luaMemoryText.integer("-luaMemory", in: Limits.luaMemoryMB, note: " MB (0: no cap)")
        _ = try luaTimeoutText.real("-luaTimeout", "a number of seconds in [0, \(Int(Limits.maxLuaTimeout))] (0: no limit)") {
            $0 >= 0 && $0 <= Limits.maxLuaTimeout
        }
    }

    /// Sets the memory cap and starts the time limit.
    func apply(to lua: LuaRuntime) {
        lua.memoryCap = memoryMB * 1_048_576
        lua.setTimeLimit(seconds: timeout > 0 ? timeout : nil)
    }
}

/// `-tensorboard DIR` (or `--tensorboard DIR`): TensorBoard event files of the run's scalars
/// (losses, errors, what was pruned) in DIR, through `wb.SummaryWriter`; the scripts get it as
/// `opt.tensorboard` (absent without the flag) and open it with scripts/lib/tensorboard.lua.
struct TensorBoardOptions: ParsableArguments {
    @Option(name: [.customLong("tensorboard", withSingleDash: true), .customLong("tensorboard")],
            help: ArgumentHelp("Also write TensorBoard event files of the run's scalars into DIR (view: tensorboard --logdir DIR).",
                               valueName: "DIR"))
    var tensorboard: String?

    /// Throws a `ValidationError` for an empty folder name.
    func check() throws {
        if let dir = tensorboard, dir.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("-tensorboard needs a folder name")
        }
    }

    /// Adds `tensorboard = DIR` to the script's options when the flag was given.
    func add(to options: inout [String: LuaValue]) {
        if let dir = tensorboard { options["tensorboard"] = .string(dir) }
    }
}
