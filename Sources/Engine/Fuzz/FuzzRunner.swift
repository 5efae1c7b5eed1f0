import Foundation

/// Peak memory of this process, from /proc/self/status; the peak (VmHWM) is reset to the
/// current resident size by writing "5" to /proc/self/clear_refs (Linux 4.0 and later).
public enum FuzzMemory {
    /// A field of /proc/<pid>/status ("VmRSS", "VmHWM") in bytes.
    public static func status(_ field: String, pid: Int32? = nil) -> Int? {
        let path = pid.map { "/proc/\($0)/status" } ?? "/proc/self/status"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let digits = line.dropFirst(field.count + 1).filter(\.isNumber)
            return Int(digits).map { $0 * 1024 }
        }
        return nil
    }

    public static var resident: Int { status("VmRSS") ?? 0 }
    public static var peak: Int { status("VmHWM") ?? 0 }

    /// Resets the peak to the current resident size; false when the kernel refuses.
    @discardableResult
    public static func resetPeak() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        do { try h.write(contentsOf: Data("5".utf8)) } catch { return false }
        return true
    }
}

/// The result of one input, as the worker reports it to the parent.
public struct FuzzResult: Codable {
    public var index: Int
    public var outcome: FuzzOutcomeKind
    public var message: String
    public var mutation: String
    /// Peak resident memory during the input, above the resident size before it.
    public var peakDeltaBytes: Int
    /// Peak resident memory of the process during the input.
    public var peakBytes: Int
    public var limitBytes: Int
    public var seconds: Double
    /// Where the input was saved, for failures.
    public var savedAs: String?

    public init(index: Int, outcome: FuzzOutcomeKind, message: String, mutation: String, peakDeltaBytes: Int, peakBytes: Int,
                limitBytes: Int, seconds: Double) {
        self.index = index
        self.outcome = outcome
        self.message = message
        self.mutation = mutation
        self.peakDeltaBytes = peakDeltaBytes
        self.peakBytes = peakBytes
        self.limitBytes = limitBytes
        self.seconds = seconds
    }
}

/// Runs mutants of one target in this process: writes the mutant to a file, resets the
/// memory peak, loads it, classifies. Crashes and hangs need the parent process (the fuzz
/// command) watching this one.
public final class FuzzRunner {
    /// The fixed part of every input's memory allowance.
    public static let baseAllowance = 64 << 20
    /// `validSize` is capped here: no dataset or model the workbench takes is larger.
    public static let largestValidInput = 256 << 20

    public let target: FuzzTarget
    public let mutator: FuzzMutator
    public let directory: String

    public init(target: FuzzTarget, seed: UInt64, directory: String) {
        self.target = target
        self.mutator = FuzzMutator(seeds: target.seeds, schedule: target.schedule, seed: seed)
        self.directory = directory
    }

    public func path(_ index: Int) -> String { "\(directory)/\(target.name)-\(index).\(target.fileExtension)" }

    public func limit(_ mutant: FuzzMutant) -> Int { Self.baseAllowance + 2 * target.validSize(mutant.bytes) }

    /// Mutant `index`, written to its file.
    public struct Prepared {
        public let mutant: FuzzMutant
        public let path: String
        public let limitBytes: Int
        public var baselineBytes: Int
    }

    public func prepare(_ index: Int) throws -> Prepared {
        let m = mutator.mutant(index)
        let p = path(index)
        guard FileManager.default.createFile(atPath: p, contents: Data(m.bytes)) else { throw FuzzError("cannot write \(p)") }
        let limit = limit(m)
        FuzzMemory.resetPeak()
        return Prepared(mutant: m, path: p, limitBytes: limit, baselineBytes: FuzzMemory.resident)
    }

    /// Runs a prepared input, deletes its file, and classifies the outcome (runaway when
    /// the peak memory above the baseline exceeds the limit).
    public func run(_ p: Prepared) -> FuzzResult {
        let t0 = DispatchTime.now().uptimeNanoseconds
        var outcome: FuzzOutcome
        do {
            outcome = try autoreleasepool { try target.run(path: p.path, mutant: p.mutant) }
        } catch {
            let message = "\(error)"
            outcome = FuzzOutcome(message.contains(p.path) ? .cleanError : .unnamedError, message)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let peak = FuzzMemory.peak
        let delta = Swift.max(0, peak - p.baselineBytes)
        try? FileManager.default.removeItem(atPath: p.path)
        if delta > p.limitBytes {
            outcome = FuzzOutcome(.runaway, "peak memory \(delta >> 20) MiB above the start, limit \(p.limitBytes >> 20) MiB; the input then gave: "
                                  + "\(outcome.kind.rawValue) \(outcome.message)")
        }
        return FuzzResult(index: p.mutant.index, outcome: outcome.kind, message: String(outcome.message.prefix(2000)),
                          mutation: p.mutant.description, peakDeltaBytes: delta, peakBytes: peak, limitBytes: p.limitBytes, seconds: seconds)
    }
}

#if !canImport(ObjectiveC)
@inline(__always) func autoreleasepool<T>(_ body: () throws -> T) rethrows -> T { try body() }
#endif
