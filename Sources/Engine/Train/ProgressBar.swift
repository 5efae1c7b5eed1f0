import Foundation

/// Progress of a long loop, printed in the reference tool's (xlua) style on a terminal:
///   ` [==============> 40/79 ..............] Tot: 4s912ms | Step: 124ms`
/// and as plain lines (every 10% and at the end) when the output is not a terminal.
public final class ProgressBar {
    private let total: Int
    private let width = 30
    private let start = DispatchTime.now().uptimeNanoseconds
    private var last = DispatchTime.now().uptimeNanoseconds
    private var lastPercentShown = -1
    private let isTerminal: Bool
    private let output: FileHandle
    public var enabled: Bool

    public init(total: Int, output: FileHandle = .standardOutput, enabled: Bool = true) {
        self.total = Swift.max(total, 1)
        self.output = output
        self.enabled = enabled
        isTerminal = isatty(output.fileDescriptor) != 0
    }

    /// Formats nanoseconds as Torch's xlua did: `9s735ms`, `124ms`, `1m05s`.
    public static func format(_ ns: UInt64) -> String {
        let ms = Int(ns / 1_000_000)
        if ms < 1000 { return "\(ms)ms" }
        let s = ms / 1000
        if s < 60 { return "\(s)s\(String(format: "%03d", ms % 1000))ms" }
        let m = s / 60
        if m < 60 { return "\(m)m\(String(format: "%02d", s % 60))s" }
        return "\(m / 60)h\(String(format: "%02d", m % 60))m"
    }

    /// Reports that `done` of `total` steps are complete.
    public func update(_ done: Int) {
        guard enabled else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        let step = now - last
        last = now
        let tot = Self.format(now - start), st = Self.format(step)
        if isTerminal {
            let filled = width * done / total
            let label = " \(done)/\(total) "
            var bar = [Character](repeating: ".", count: width)
            for i in 0..<filled { bar[i] = "=" }
            if filled < width { bar[filled] = ">" } else { bar[width - 1] = ">" }
            let mid = Swift.max(0, (width - label.count) / 2)
            let barString = String(bar[..<mid]) + label + String(bar[Swift.min(width, mid + label.count)...])
            write("\r [\(barString)] Tot: \(tot) | Step: \(st)   " + (done >= total ? "\n" : ""))
        } else {
            let percent = 100 * done / total
            if done >= total || percent / 10 > lastPercentShown / 10 {
                lastPercentShown = percent
                write(" [\(done)/\(total)] Tot: \(tot) | Step: \(st)\n")
            }
        }
    }

    private func write(_ s: String) { output.write(s.data(using: .utf8)!) }
}
