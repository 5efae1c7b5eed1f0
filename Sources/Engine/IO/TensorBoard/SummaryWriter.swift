import Foundation

/// A TensorBoard event file writer for scalars, as PyTorch's `SummaryWriter(log_dir)`:
/// creates `directory` (and parents), opens `events.out.tfevents.<unix time>.<host>.<pid>.<n>`
/// in it (the name TensorBoard looks for; n counts the writers of this process), writes the
/// `file_version` event, then one TFRecord-framed `Event` per `scalar(tag, value, step)`.
/// Each record goes to the file in one unbuffered write, so a reader (or a run stopped
/// midway) sees every record written so far, whole.
public final class SummaryWriter {
    /// The event file's path.
    public let path: String
    private var handle: FileHandle?
    private let clock: () -> Double
    private static let counterLock = NSLock()
    nonisolated(unsafe) private static var counter = 0

    /// Opens a new event file in `directory`. `clock` gives the wall time in seconds since
    /// 1970 (the events' `wall_time`).
    public init(directory: String, clock: @escaping () -> Double = { Date().timeIntervalSince1970 }) throws {
        self.clock = clock
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw EngineError("SummaryWriter: cannot create the log folder \(directory): \(error.localizedDescription)")
        }
        Self.counterLock.lock()
        let n = Self.counter
        Self.counter += 1
        Self.counterLock.unlock()
        let host = ProcessInfo.processInfo.hostName.replacingOccurrences(of: "/", with: "_")
        let name = String(format: "events.out.tfevents.%010d.%@.%d.%d", Int(clock()), host, Int(getpid()), n)
        path = (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw EngineError("SummaryWriter: cannot create the event file \(path)")
        }
        handle = h
        try write(EventProtobuf.fileVersion(wallTime: clock()))
    }

    deinit { close() }

    /// Appends the scalar `value` under `tag` at `step`. Throws after `close()` or for an
    /// empty tag.
    public func scalar(_ tag: String, _ value: Double, step: Int) throws {
        guard !tag.isEmpty else { throw EngineError("SummaryWriter: a scalar needs a non-empty tag") }
        try write(EventProtobuf.scalar(tag: tag, value: Float(value), step: Int64(step), wallTime: clock()))
    }

    /// Closes the file; later `scalar` calls throw. Closing twice is allowed.
    public func close() {
        try? handle?.close()
        handle = nil
    }

    public var isClosed: Bool { handle == nil }

    private func write(_ event: [UInt8]) throws {
        guard let handle else { throw EngineError("SummaryWriter: \(path) is closed") }
        do {
            try handle.write(contentsOf: Data(TFRecord.frame(event)))
        } catch {
            throw EngineError("SummaryWriter: cannot write to \(path): \(error.localizedDescription)")
        }
    }
}
