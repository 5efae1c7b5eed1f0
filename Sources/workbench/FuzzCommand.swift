import ArgumentParser
import Bridge
import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `workbench fuzz`: seeded mutation fuzzing of the file loaders. The parent process starts
/// a worker (`workbench fuzz --worker ...`) that generates the mutants in order, loads each
/// with the real loader and reports it on stdout; the parent watches the worker's time and
/// memory per input, records a crash when the worker dies, a hang or a runaway when it has
/// to kill it, saves the input, and restarts the worker at the next index.
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Feed the file loaders seeded mutants of valid files; count crashes, hangs and runaway memory.",
        discussion: """
        Formats: \(FuzzCommand.formats.joined(separator: ", ")), or all. Each input is classified as accepted, \
        accepted but wrong (NaN output of a loaded model, counts that disagree with the data), clean error \
        (an error naming the file), error not naming the file, runaway (peak memory for the input above \
        64 MiB + twice the largest valid input consistent with it), crash (the worker died) or hang (over \
        --time-limit). The exit status is 1 when any input crashed, hung or ran away. Mutant i depends only on \
        --seed and i: `--format F --seed S --only i` reproduces it. Planned formats (not fuzzed yet): \
        \(FuzzFormats.planned.map { "\($0.name) (\($0.what))" }.joined(separator: ", ")).

        Examples:
          workbench fuzz --format all --count 300 --seed 1
          workbench fuzz --format safetensors --count 10000 --seed 1 --extra-seed inp/lenet5.safetensors
          workbench fuzz --format safetensors --seed 1 --only 42
          workbench fuzz --format idx-gz --count 2000 --json
        """
    )

    static let formats = FuzzFormats.engine + ["conf"]

    @Option(help: "Format to fuzz: \(FuzzCommand.formats.joined(separator: ", ")), or all.")
    var format: String = "all"
    @Option(help: "Inputs per format.")
    var count: Int = 1000
    @Option(help: "Seed of the mutation generator.")
    var seed: UInt64 = 1
    @Option(name: .customLong("time-limit"), help: "Seconds one input may take before it counts as a hang.")
    var timeLimit: Double = 10
    @Option(name: .customLong("save-crashes"), help: "Folder the crashing, hanging and runaway inputs are written to.")
    var saveCrashes: String = "fuzz-crashes"
    @Option(help: "Run only the input of this index (to reproduce one).")
    var only: Int?
    @Option(name: .customLong("extra-seed"), help: "A further seed file for its format (e.g. inp/lenet5.safetensors); repeatable.")
    var extraSeeds: [String] = []
    @Option(name: .customLong("memory-ceiling"), help: "Address-space limit of the worker in MiB (a guard for the machine).")
    var memoryCeiling: Int = 8192
    @Flag(help: "Print the summary as JSON.")
    var json = false
    @Flag(help: "Print every input's outcome.")
    var verbose = false

    // The worker's side.
    @Flag(help: .hidden) var worker = false
    @Option(help: .hidden) var from: Int = 0
    @Option(help: .hidden) var dir: String?

    func validate() throws {
        if format != "all" && format != SelfTestFuzzTarget.formatName && !Self.formats.contains(format) {
            throw ValidationError("unknown format '\(format)'; known: \(Self.formats.joined(separator: ", ")), all")
        }
        if count < 0 { throw ValidationError("--count must be 0 or more") }
        if timeLimit <= 0 { throw ValidationError("--time-limit must be positive") }
        if let only, only < 0 { throw ValidationError("--only must be an index, 0 or more") }
    }

    func run() throws {
        if worker { return try runWorker() }
        let formats = format == "all" ? Self.formats : [format]
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("workbench-fuzz-\(getpid())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var summaries = [FuzzSummary]()
        for f in formats {
            if !json { FileHandle.standardError.write(Data("fuzzing \(f): \(only.map { "input \($0)" } ?? "\(count) inputs"), seed \(seed)\n".utf8)) }
            summaries.append(try fuzz(f, scratch: scratch))
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try enc.encode(FuzzReport(seed: seed, formats: summaries)), as: UTF8.self))
        } else {
            print(Self.report(summaries, seed: seed))
        }
        if summaries.contains(where: { $0.crashes + $0.hangs + $0.runaway > 0 }) { throw ExitCode.failure }
    }

    // MARK: - Parent

    private func executable() -> String {
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return exe }
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    /// Runs the inputs of one format through workers, restarting after each death.
    private func fuzz(_ name: String, scratch: String) throws -> FuzzSummary {
        var summary = FuzzSummary(format: name)
        let t0 = Date()
        let end = only.map { $0 + 1 } ?? count
        var next = only ?? 0
        while next < end {
            next = try runWorkerProcess(name, from: next, to: end, scratch: scratch, into: &summary)
        }
        summary.seconds = Date().timeIntervalSince(t0)
        return summary
    }

    struct Begin: Codable {
        var index: Int
        var limitBytes: Int
        var baselineBytes: Int
        var path: String
        var mutation: String
    }

    /// One worker from `from`; returns the index to restart at (`to` when done).
    private func runWorkerProcess(_ name: String, from: Int, to: Int, scratch: String, into summary: inout FuzzSummary) throws -> Int {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable())
        var args = ["fuzz", "--worker", "--format", name, "--seed", "\(seed)", "--from", "\(from)", "--count", "\(to)",
                    "--dir", scratch, "--save-crashes", saveCrashes, "--memory-ceiling", "\(memoryCeiling)"]
        for s in extraSeeds { args += ["--extra-seed", s] }
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"
        env["SWIFT_BACKTRACE"] = "enable=no"
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let pid = p.processIdentifier
        let fds = [out.fileHandleForReading.fileDescriptor, err.fileHandleForReading.fileDescriptor]
        var open = [true, true]
        var lineBuffer = [UInt8](), stderrTail = [UInt8]()
        var current: Begin?
        var started = Date()
        var killedFor: FuzzOutcomeKind?
        var killNote = ""
        var lastRSS = 0
        let decoder = JSONDecoder()

        func handle(_ line: String) {
            if line.hasPrefix("@@B "), let b = try? decoder.decode(Begin.self, from: Data(line.dropFirst(4).utf8)) {
                current = b
                started = Date()
                stderrTail.removeAll()
            } else if line.hasPrefix("@@R "), let r = try? decoder.decode(FuzzResult.self, from: Data(line.dropFirst(4).utf8)) {
                current = nil
                record(r, into: &summary)
            }
        }

        while open.contains(true) {
            var pfds = [pollfd]()
            for (i, fd) in fds.enumerated() where open[i] { pfds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            _ = poll(&pfds, nfds_t(pfds.count), 20)
            for pf in pfds where pf.revents != 0 {
                var chunk = [UInt8](repeating: 0, count: 65536)
                let n = read(pf.fd, &chunk, chunk.count)
                let i = fds.firstIndex(of: pf.fd)!
                if n <= 0 { open[i] = false; continue }
                if i == 0 {
                    lineBuffer += chunk[0..<n]
                    while let nl = lineBuffer.firstIndex(of: 0x0a) {
                        handle(String(decoding: lineBuffer[..<nl], as: UTF8.self))
                        lineBuffer.removeSubrange(...nl)
                    }
                } else {
                    stderrTail += chunk[0..<n]
                    if stderrTail.count > 8192 { stderrTail.removeFirst(stderrTail.count - 8192) }
                }
            }
            if let c = current, killedFor == nil {
                let rss = FuzzMemory.status("VmRSS", pid: pid) ?? 0
                lastRSS = max(lastRSS, rss)
                if rss - c.baselineBytes > c.limitBytes {
                    killedFor = .runaway
                    killNote = "resident memory reached \((rss - c.baselineBytes) >> 20) MiB above the start (limit \(c.limitBytes >> 20) MiB); killed"
                    kill(pid, SIGKILL)
                } else if Date().timeIntervalSince(started) > timeLimit {
                    killedFor = .hang
                    killNote = "still running after \(timeLimit) s (resident memory \(max(0, rss - c.baselineBytes) >> 20) MiB above the start); killed"
                    kill(pid, SIGKILL)
                }
            }
        }
        p.waitUntilExit()
        guard let c = current else {
            if p.terminationReason == .exit && p.terminationStatus == 0 { return to }
            let tail = String(decoding: stderrTail, as: UTF8.self)
            throw CLIError("the fuzz worker for \(name) failed outside any input (status \(p.terminationStatus)): \(tail)")
        }
        // The worker died in input c.index.
        let kind = killedFor ?? .crash
        var message = killNote
        if kind == .crash {
            let how = p.terminationReason == .uncaughtSignal ? "signal \(Self.signalName(p.terminationStatus))" : "exit status \(p.terminationStatus)"
            message = "the worker died: \(how)"
            let text = Self.crashText(String(decoding: stderrTail, as: UTF8.self),
                                      signal: p.terminationReason == .uncaughtSignal ? p.terminationStatus : nil)
            if !text.isEmpty { message += ": " + text }
        }
        let saved = save(c.path, format: name, index: c.index)
        let r = FuzzResult(index: c.index, outcome: kind, message: message, mutation: c.mutation, peakDeltaBytes: max(0, lastRSS - c.baselineBytes),
                           peakBytes: lastRSS, limitBytes: c.limitBytes, seconds: Date().timeIntervalSince(started))
        record(r, savedAs: saved, into: &summary)
        return c.index + 1
    }

    /// Moves a dead worker's input into the crash folder.
    private func save(_ path: String, format: String, index: Int) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        try? FileManager.default.createDirectory(atPath: saveCrashes, withIntermediateDirectories: true)
        let target = Self.savedName(saveCrashes, format: format, seed: seed, index: index, path: path)
        try? FileManager.default.removeItem(atPath: target)
        do { try FileManager.default.moveItem(atPath: path, toPath: target) } catch {
            do { try FileManager.default.copyItem(atPath: path, toPath: target) } catch { return nil }
        }
        return target
    }

    static func savedName(_ folder: String, format: String, seed: UInt64, index: Int, path: String) -> String {
        let ext = (path as NSString).pathExtension
        return "\(folder)/\(format)-seed\(seed)-\(index)\(ext.isEmpty ? "" : "." + ext)"
    }

    private func record(_ r: FuzzResult, savedAs: String? = nil, into s: inout FuzzSummary) {
        s.runs += 1
        s.peakBytes = max(s.peakBytes, r.peakBytes)
        if !r.outcome.isFailure && r.seconds > s.slowestSeconds { s.slowestSeconds = r.seconds; s.slowestIndex = r.index }
        switch r.outcome {
        case .accepted: s.accepted += 1
        case .wrong: s.wrong += 1
        case .cleanError: s.cleanErrors += 1
        case .unnamedError: s.unnamedErrors += 1
        case .runaway: s.runaway += 1
        case .crash: s.crashes += 1
        case .hang: s.hangs += 1
        }
        let entry = FuzzFinding(index: r.index, outcome: r.outcome.rawValue, message: r.message, mutation: r.mutation,
                                input: savedAs ?? r.savedAs, peakMB: Double(r.peakDeltaBytes) / 1_048_576, seconds: r.seconds,
                                reproduce: "workbench fuzz --format \(s.format) --seed \(seed) --only \(r.index)"
                                    + extraSeeds.map { " --extra-seed \($0)" }.joined())
        if r.outcome.isFailure {
            s.failures.append(entry)
            if !json { FileHandle.standardError.write(Data((Self.describe(entry, format: s.format) + "\n").utf8)) }
        } else if r.outcome == .unnamedError || r.outcome == .wrong {
            s.notes.append(entry)
        }
        if verbose {
            FileHandle.standardError.write(Data("[\(s.format) #\(r.index)] \(r.outcome.rawValue): \(r.message.prefix(300)) -- \(r.mutation.prefix(300))\n".utf8))
        }
    }

    static func describe(_ f: FuzzFinding, format: String) -> String {
        var s = "[\(format) #\(f.index)] \(f.outcome.uppercased()): \(f.message.prefix(600))\n  mutation: \(f.mutation.prefix(600))"
        if let input = f.input { s += "\n  input: \(input)" }
        return s + "\n  reproduce: \(f.reproduce)"
    }

    static func signalName(_ n: Int32) -> String {
        let names: [Int32: String] = [SIGILL: "SIGILL", SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
                                      SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV", SIGTERM: "SIGTERM"]
        return "\(n) (\(names[n] ?? "?"))"
    }

    /// The telling line of a crashed worker's stderr (the Swift runtime's "Fatal error" or
    /// "Precondition failed" line; stack frames are skipped).
    static func crashText(_ stderr: String, signal: Int32?) -> String {
        let lines = stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let telling = ["Fatal error", "fatal error", "Precondition failed", "Assertion failed", "failed to allocate", "Could not allocate"]
        if let line = lines.first(where: { l in telling.contains { l.contains($0) } }) { return String(line.prefix(400)) }
        let text = lines.first { l in !(l.first?.isNumber ?? false) && !l.hasPrefix("Current stack trace") }.map { String($0.prefix(400)) } ?? ""
        if text.isEmpty, signal == SIGILL { return "(a Swift trap without a message: an arithmetic overflow or a failed check)" }
        return text
    }

    static func report(_ summaries: [FuzzSummary], seed: UInt64) -> String {
        var s = "\n| format | runs | accepted | accepted but wrong | clean errors | errors not naming the file | crashes | hangs | runaway memory | peak memory MB | seconds |\n"
        s += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for m in summaries {
            s += "| \(m.format) | \(m.runs) | \(m.accepted) | \(m.wrong) | \(m.cleanErrors) | \(m.unnamedErrors) | \(m.crashes) | \(m.hangs) | \(m.runaway) | "
                + String(format: "%.0f | %.1f |\n", Double(m.peakBytes) / 1_048_576, m.seconds)
        }
        for m in summaries where !m.failures.isEmpty {
            s += "\n\(m.format): \(m.failures.count) crashing, hanging or runaway input(s):\n"
            for f in m.failures { s += describe(f, format: m.format) + "\n" }
        }
        for m in summaries where !m.notes.isEmpty {
            let unnamed = m.notes.filter { $0.outcome == FuzzOutcomeKind.unnamedError.rawValue }
            let wrong = m.notes.filter { $0.outcome == FuzzOutcomeKind.wrong.rawValue }
            if !unnamed.isEmpty {
                s += "\n\(m.format): \(unnamed.count) error(s) not naming the file, e.g.:\n"
                for f in unnamed.prefix(5) { s += "  #\(f.index): \(f.message.prefix(200)) -- \(f.mutation.prefix(200))\n" }
            }
            if !wrong.isEmpty {
                s += "\n\(m.format): \(wrong.count) input(s) accepted but wrong, e.g.:\n"
                for f in wrong.prefix(5) { s += "  #\(f.index): \(f.message.prefix(200)) -- \(f.mutation.prefix(200))\n" }
            }
        }
        return s
    }

    // MARK: - Worker

    private func runWorker() throws {
        Parallel.setThreads(1)
        var limit = rlimit(rlim_cur: rlim_t(memoryCeiling) << 20, rlim_max: rlim_t(memoryCeiling) << 20)
        _ = setrlimit(Int32(RLIMIT_AS.rawValue), &limit)
        let directory = dir ?? FileManager.default.temporaryDirectory.path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let options = FuzzTargetOptions(directory: directory, extraSeeds: extraSeeds)
        let target: FuzzTarget
        if format == "conf" {
            target = try ConfFuzzTarget()
        } else if format == SelfTestFuzzTarget.formatName {
            target = SelfTestFuzzTarget()
        } else if let t = try FuzzFormats.target(format, options: options) {
            target = t
        } else {
            throw CLIError("no fuzz target for \(format)")
        }
        let runner = FuzzRunner(target: target, seed: seed, directory: directory)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        for i in from..<count {
            let p = try runner.prepare(i)
            let b = Begin(index: i, limitBytes: p.limitBytes, baselineBytes: p.baselineBytes, path: p.path, mutation: p.mutant.description)
            emit("@@B " + String(decoding: try enc.encode(b), as: UTF8.self))
            var r = runner.run(p)
            if r.outcome == .runaway {
                // Measured after the fact (the parent missed the peak): save the input too.
                let m = runner.mutator.mutant(i)
                try? FileManager.default.createDirectory(atPath: saveCrashes, withIntermediateDirectories: true)
                let name = Self.savedName(saveCrashes, format: format, seed: seed, index: i, path: p.path)
                if FileManager.default.createFile(atPath: name, contents: Data(m.bytes)) { r.savedAs = name }
            }
            emit("@@R " + String(decoding: try enc.encode(r), as: UTF8.self))
        }
    }

    private func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
