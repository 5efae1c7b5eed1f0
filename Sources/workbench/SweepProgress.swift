import Foundation

/// The progress bar of a sweep whose cells run in other processes (`--jobs N`, `--slurm
/// --wait`): cells done of those to run, the time so far and the time left at the mean pace of
/// the cells done, redrawn in place on a terminal, else a line every 10% and at the end.
/// (scripts/lib/sweep/progress.lua draws the same bar for `--jobs 1`.)
final class SweepProgress {
    private let total: Int
    private let start = Date()
    private let terminal = isatty(STDOUT_FILENO) != 0
    private var shown = -1
    private(set) var done = 0

    init(total: Int) { self.total = max(total, 1) }

    /// 75 → "1m15s", 5.2 → "5s".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, s % 3600 / 60)
    }

    /// Reports `done` cells done.
    func update(_ done: Int) {
        self.done = done
        let elapsed = Date().timeIntervalSince(start)
        let width = 30, filled = width * min(done, total) / total
        let left = done > 0 && done < total ? ", about \(Self.duration(elapsed / Double(done) * Double(total - done))) left" : ""
        let line = " [\(String(repeating: "=", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(total) cells, \(Self.duration(elapsed))\(left)"
        if terminal {
            print("\r" + line + "   ", terminator: done >= total ? "\n" : "")
        } else if done >= total || (100 * done / total) / 10 > shown / 10 {
            shown = 100 * done / total
            print(line)
        }
        fflush(stdout)
    }
}
