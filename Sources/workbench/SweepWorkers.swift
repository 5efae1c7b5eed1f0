import Engine
import Foundation

/// `workbench sweep --jobs N`: N worker processes (`workbench sweep --worker --out DIR`), each
/// loading the model and data once, the cells handed out one at a time as workers free up.
/// The protocol is a line each way: the parent writes a cell's index on the worker's stdin;
/// the worker answers on stdout `@sweep ready <start-up s>`, `@sweep done <index> <s>` or
/// `@sweep failed <index> <why>` (scripts/sweep.lua); closing its stdin ends it. A worker that
/// dies is reported with the cell it had (and its last error lines); the others go on.
final class SweepWorkers {
    private let folder: String
    private let jobs: Int

    init(folder: String, jobs: Int) {
        self.folder = folder
        self.jobs = jobs
    }

    /// This executable, for the processes the sweep starts.
    static var executable: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path }

    /// The environment of a process the sweep starts: this one's, with the scripts folder.
    static func environment(scripts: String?) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        if let scripts { env["WORKBENCH_SCRIPTS"] = (scripts as NSString).standardizingPath }
        return env
    }

    /// One worker process and what it has said.
    private final class Worker {
        let id: Int
        let process = Process()
        let input = Pipe(), output = Pipe(), errors = Pipe()
        var cell: (index: Int, name: String)?
        var ready = false
        var errorText = Data()
        let errorsRead = DispatchSemaphore(value: 0)
        init(id: Int) { self.id = id }
    }

    /// The events of all workers, in arrival order: a line of a worker's stdout, or its end (nil).
    private let condition = NSCondition()
    private var events: [(worker: Int, line: String?)] = []

    private func post(_ worker: Int, _ line: String?) {
        condition.lock()
        events.append((worker, line))
        condition.signal()
        condition.unlock()
    }

    /// The next event, or nil after `timeout` seconds.
    private func next(timeout: Double) -> (worker: Int, line: String?)? {
        condition.lock()
        defer { condition.unlock() }
        if events.isEmpty { _ = condition.wait(until: Date().addingTimeInterval(timeout)) }
        return events.isEmpty ? nil : events.removeFirst()
    }

    /// Reads `pipe` line by line on a thread of its own, posting each line and then the end.
    private func read(_ pipe: Pipe, of worker: Int) {
        Thread {
            var buffer = Data()
            let handle = pipe.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let nl = buffer.firstIndex(of: 10) {
                    self.post(worker, String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self))
                    buffer.removeSubrange(buffer.startIndex...nl)
                }
            }
            if !buffer.isEmpty { self.post(worker, String(decoding: buffer, as: UTF8.self)) }
            self.post(worker, nil)
        }.start()
    }

    /// The last lines a worker wrote to stderr.
    private func lastErrors(_ w: Worker) -> String {
        let lines = String(decoding: w.errorText, as: UTF8.self).split(separator: "\n").suffix(3)
        return lines.isEmpty ? "no error output" : lines.joined(separator: " | ")
    }

    /// Runs the plan's cells on the workers; throws, listing the cells that failed, if any did.
    func run(_ plan: SweepPlan, scripts: String?) throws {
        signal(SIGPIPE, SIG_IGN)   // a worker that died must not take the parent with it
        let count = min(jobs, plan.cells.count)
        var workers: [Worker] = []
        for id in 0..<count {
            let w = Worker(id: id)
            w.process.executableURL = URL(fileURLWithPath: Self.executable)
            w.process.arguments = ["sweep", "--worker", "--out", folder]
            w.process.environment = Self.environment(scripts: scripts)
            w.process.standardInput = w.input
            w.process.standardOutput = w.output
            w.process.standardError = w.errors
            try w.process.run()
            read(w.output, of: id)
            let errors = w.errors
            Thread {
                w.errorText = errors.fileHandleForReading.readDataToEndOfFile()
                w.errorsRead.signal()
            }.start()
            workers.append(w)
        }
        print("Workers: \(count) processes of \(plan.cells.count) cells")
        let bar = SweepProgress(total: plan.cells.count)
        var queue = plan.cells[...]
        var failures: [String] = [], startups: [Double] = []
        var running = count, done = 0
        func give(_ w: Worker) {
            guard let c = queue.popFirst() else {
                w.cell = nil
                try? w.input.fileHandleForWriting.close()
                return
            }
            w.cell = c
            do {
                try w.input.fileHandleForWriting.write(contentsOf: Data("\(c.index)\n".utf8))
            } catch {
                queue.insert(c, at: queue.startIndex)   // it is dying: the cell goes to another one
                w.cell = nil
            }
        }
        while running > 0 {
            if Interrupt.requested {
                for w in workers where w.process.isRunning { w.process.terminate() }
                throw Interrupted()
            }
            guard let (id, line) = next(timeout: 0.2) else { continue }
            let w = workers[id]
            guard let line else {
                w.process.waitUntilExit()
                w.errorsRead.wait()
                running -= 1
                if let c = w.cell {
                    failures.append("cell \(c.name): worker \(id + 1) stopped (\(status(w.process))) while running it: \(lastErrors(w))")
                } else if !w.ready || w.process.terminationStatus != 0 {
                    failures.append("worker \(id + 1) stopped (\(status(w.process))): \(lastErrors(w))")
                }
                continue
            }
            let words = line.split(separator: " ", maxSplits: 3).map(String.init)
            guard words.first == "@sweep", words.count >= 2 else { print(line); continue }
            switch words[1] {
            case "ready":
                w.ready = true
                startups.append(Double(words.count > 2 ? words[2] : "") ?? 0)
                give(w)
            case "done", "failed":
                if words[1] == "failed" { failures.append(words.count > 3 ? words[3] : line) }
                done += 1
                bar.update(done)
                give(w)
            default:
                print(line)
            }
        }
        if !startups.isEmpty {
            print("Worker start-up (process start, model and data load): " + startups.map { String(format: "%.2f s", $0) }.joined(separator: ", "))
        }
        fflush(stdout)
        if !queue.isEmpty { failures.append("\(queue.count) cells not run: no worker was left to run them") }
        if !failures.isEmpty {
            throw CLIError("\(failures.count) failure\(failures.count == 1 ? "" : "s") in the sweep in \(folder) (cells with a result are kept; "
                           + "run the same command again to redo the others):\n" + failures.joined(separator: "\n"))
        }
    }

    private func status(_ p: Process) -> String {
        p.terminationReason == .uncaughtSignal ? "killed by signal \(p.terminationStatus)" : "exit status \(p.terminationStatus)"
    }
}
