import ArgumentParser
import Engine
import Foundation

/// `workbench sweep --slurm`'s flags: the job array's resources and submission.
struct SlurmOptions: ParsableArguments {
    @Flag(name: .customLong("slurm"), help: "Run the cells as a Slurm job array: write DIR/sweep.sbatch and submit it with sbatch.")
    var slurm = false
    @Flag(name: .customLong("dry-run"), help: "With --slurm: write DIR/sweep.sbatch, do not submit it.")
    var dryRun = false
    @Flag(name: .customLong("wait"), help: "With --slurm: wait for the job to end (progress from the cells' files), then merge.")
    var wait = false
    @Option(name: .customLong("cells-per-task"), parsing: .unconditional,
            help: ArgumentHelp("Cells of each array task (task k runs cells k*N+1 ... (k+1)*N), \(Self.cellsRange.lowerBound)...\(Self.cellsRange.upperBound).", valueName: "N"))
    var cellsPerTaskText = NumberText(10)
    @Option(name: .customLong("time"), help: ArgumentHelp("Time limit of each array task, in sbatch's format (MM, HH:MM:SS, D-HH:MM...).", valueName: "T"))
    var time = "1:00:00"
    @Option(name: .customLong("mem"), help: ArgumentHelp("Memory of each array task, in sbatch's format (500M, 2G).", valueName: "M"))
    var mem = "1G"
    @Option(name: .customLong("sbatch-arg"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("One more #SBATCH line, e.g. --sbatch-arg=--partition=cpu or --sbatch-arg=--account=proj (repeatable).", valueName: "ARG"))
    var sbatchArgs: [String] = []

    static let cellsRange = 1...1_000_000

    var cellsPerTask: Int { (try? cellsPerTaskText.integer("--cells-per-task", in: Self.cellsRange)) ?? 10 }

    /// Throws a `ValidationError` naming the flag for a value sbatch would not take.
    func check() throws {
        _ = try cellsPerTaskText.integer("--cells-per-task", in: Self.cellsRange)
        if (dryRun || wait) && !slurm { throw ValidationError("--dry-run and --wait go with --slurm") }
        if dryRun && wait { throw ValidationError("--dry-run submits nothing to wait for: give one of --dry-run and --wait") }
        if time.range(of: #"^(\d+-)?\d+(:\d+){0,2}$|^(UNLIMITED|INFINITE)$"#, options: .regularExpression) == nil {
            throw ValidationError("--time must be sbatch's MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS, got '\(time)'")
        }
        if mem.range(of: #"^\d+[KMGT]?$"#, options: .regularExpression) == nil {
            throw ValidationError("--mem must be a size as sbatch takes it (e.g. 500M, 2G), got '\(mem)'")
        }
        for a in sbatchArgs where !a.hasPrefix("-") || a.contains("\n") {
            throw ValidationError("--sbatch-arg must be one sbatch option such as --partition=cpu, got '\(a)'")
        }
    }
}

/// Writes DIR/sweep.sbatch, a job array over chunks of cells (chunk k: cells k*N+1 ...
/// (k+1)*N, only the chunks with cells left to run), submits it with sbatch, and with --wait
/// follows it with squeue until it ends. Each task runs `workbench sweep --task K` on its chunk
/// in one process (model and data loaded once); DIR/slurm/ gets the tasks' output and
/// DIR/slurm/submitted.json what the merge needs to name a failed task.
struct SweepSlurm {
    let options: SlurmOptions
    let folder: String
    let threads: Int
    let scripts: String?

    /// Single-quoted for the shell.
    static func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// 0,1,2,3,7,9,10 → "0-3,7,9-10" (sbatch's --array).
    static func arrayText(_ chunks: [Int]) -> String {
        var parts: [String] = [], k = 0
        while k < chunks.count {
            var j = k
            while j + 1 < chunks.count && chunks[j + 1] == chunks[j] + 1 { j += 1 }
            parts.append(j == k ? "\(chunks[k])" : "\(chunks[k])-\(chunks[j])")
            k = j + 1
        }
        return parts.joined(separator: ",")
    }

    /// An executable of PATH, or nil.
    static func onPath(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// The batch script of the array `chunks`.
    func batchScript(chunks: [Int], dir: String, cells: Int) -> String {
        let cwd = FileManager.default.currentDirectoryPath
        var lines = [
            "#!/bin/bash",
            "# workbench sweep: \(cells) cells of \(dir) left to run, \(options.cellsPerTask) a task (task k: cells k*\(options.cellsPerTask)+1 ...).",
            "# Written by `workbench sweep --slurm`; submit: sbatch \(dir)/sweep.sbatch; then: workbench sweep --merge \(dir)",
            "#SBATCH --job-name=workbench-sweep",
            "#SBATCH --array=\(Self.arrayText(chunks))",
            "#SBATCH --cpus-per-task=\(threads)",
            "#SBATCH --time=\(options.time)",
            "#SBATCH --mem=\(options.mem)",
            "#SBATCH --output=\(dir)/slurm/%A_%a.out",
            "#SBATCH --chdir=\(cwd)",
        ]
        lines += options.sbatchArgs.map { "#SBATCH \($0)" }
        lines.append("started=$(date +%s.%N)")
        if let scripts { lines.append("export WORKBENCH_SCRIPTS=\(Self.quoted((scripts as NSString).standardizingPath))") }
        lines.append("exec \(Self.quoted(SweepWorkers.executable)) sweep --task \"$SLURM_ARRAY_TASK_ID\" --cells-per-task \(options.cellsPerTask) "
                     + "--out \(Self.quoted(dir)) --started \"$started\"")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Runs a command; its status and standard output and error.
    static func command(_ path: String, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        final class Box { var data = Data() }
        let errData = Box()
        let errDone = DispatchSemaphore(value: 0)
        Thread { errData.data = err.fileHandleForReading.readDataToEndOfFile(); errDone.signal() }.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        errDone.wait()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData.data, as: UTF8.self))
    }

    func run(_ plan: SweepPlan) throws {
        let dir = URL(fileURLWithPath: folder).standardizedFileURL.path
        let chunks = Array(Set(plan.cells.map { ($0.index - 1) / options.cellsPerTask })).sorted()
        if chunks.isEmpty {
            print("Every cell has a result: nothing to submit.")
            return
        }
        try FileManager.default.createDirectory(atPath: dir + "/slurm", withIntermediateDirectories: true)
        let scriptPath = dir + "/sweep.sbatch"
        try AtomicFile.write(Array(batchScript(chunks: chunks, dir: dir, cells: plan.cells.count).utf8), to: scriptPath)
        var record: [String: Any] = ["cellsPerTask": options.cellsPerTask, "array": chunks]
        func save() throws {
            try AtomicFile.write(Array(try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])), to: dir + "/slurm/submitted.json")
        }
        try save()
        let what = "\(chunks.count) array task\(chunks.count == 1 ? "" : "s") (--array=\(Self.arrayText(chunks))) for \(plan.cells.count) cells"
        if options.dryRun {
            print("Wrote \(scriptPath): \(what). Submit it with: sbatch \(scriptPath); then: workbench sweep --merge \(folder)")
            return
        }
        guard let sbatch = Self.onPath("sbatch") else {
            throw CLIError("--slurm: sbatch is not on PATH (install Slurm's client, e.g. apt-get install slurm-wlm, or run where Slurm is); "
                           + "\(scriptPath) is written: --dry-run only writes it")
        }
        let r = try Self.command(sbatch, ["--parsable", scriptPath])
        let job = r.out.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard r.status == 0, !job.isEmpty else {
            throw CLIError("sbatch \(scriptPath) failed (exit status \(r.status)): \(r.err.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        record["job"] = job
        try save()
        print("Submitted job \(job): \(what); output in \(dir)/slurm/")
        if options.wait { try wait(job: job, plan: plan, dir: dir) } else { print("When it has run: workbench sweep --merge \(folder)") }
    }

    /// Follows `job` with squeue until it has left the queue, drawing the progress of its cells.
    func wait(job: String, plan: SweepPlan, dir: String) throws {
        guard let squeue = Self.onPath("squeue") else { throw CLIError("--wait: squeue is not on PATH") }
        let bar = SweepProgress(total: plan.cells.count)
        var failures = 0
        while true {
            if Interrupt.requested {
                print("\nStopped waiting; job \(job) goes on. Collect it later with: workbench sweep --merge \(folder)")
                throw Interrupted()
            }
            let done = plan.cells.filter { FileManager.default.fileExists(atPath: "\(dir)/cells/\($0.name).csv") }.count
            if done != bar.done { bar.update(done) }
            let r = try Self.command(squeue, ["-h", "-j", job, "-o", "%i"])
            if r.status == 0 && r.out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { break }
            if r.status != 0 {
                if r.err.contains("Invalid job id") { break }
                failures += 1
                if failures > 20 { throw CLIError("--wait: squeue keeps failing: \(r.err.trimmingCharacters(in: .whitespacesAndNewlines))") }
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        let done = plan.cells.filter { FileManager.default.fileExists(atPath: "\(dir)/cells/\($0.name).csv") }.count
        if done != bar.done { bar.update(done) }
        print("Job \(job) has ended.")
    }
}
