import Kernels

/// The threshold of a scored parameter's top-k (`Parameter`'s reselection): the magnitude
/// pattern t of rank k among the scores' |s|, found with the help of the last selection's,
/// since training moves it little between two steps (`Kernels.TopMagnitudes`):
///
/// 1. a window of the top 22 bits around the last t (moved on by its last move, half-width
///    8 + 2·|last move| in units of 2⁹ patterns): one branch-free counting pass, and t is the
///    (k − above)-th largest pattern of the window when above < k ≤ above + within;
/// 2. otherwise the histogram of the top 11 bits, whose pass also copies the bucket that held
///    the last t (`countTopDigits(_:_:into:copying:into:)`), resolved on the copy when the
///    k-th magnitude is still in that bucket, else gathered in one more pass.
///
/// Every way gives the same t (an integer count decides it, never a rounding), for any split
/// of the passes across the engine's threads.
struct ScoreSelection {
    private var lastBucket: UInt32?
    private var lastPrefix: Int?
    private var lastMove = 0
    /// One slot per score: each chunk of a counting pass copies into its own range's slots.
    private var copy: [UInt32] = []
    /// Selections the window decided (for inspection).
    private(set) var windowHits = 0

    /// t for k of the n scores x (0 ≤ k ≤ n, as `TopMagnitudes.threshold`); nil when a score is NaN.
    mutating func threshold(_ x: UnsafePointer<Float>, count n: Int, keep k: Int) -> UInt32? {
        if copy.count != n { copy = [UInt32](repeating: 0, count: n) }
        guard k > 0 && k < n else { return counted(x, n, k) }
        let t = aroundLast(x, n, k) ?? counted(x, n, k)
        if let t { record(t) }
        return t
    }

    private mutating func record(_ t: UInt32) {
        let q = Int(t >> 9)
        lastMove = lastPrefix.map { q - $0 } ?? 0
        lastPrefix = q
        lastBucket = t >> 20
    }

    /// Step 1; nil when the window does not hold rank k (or a score is NaN).
    private mutating func aroundLast(_ x: UnsafePointer<Float>, _ n: Int, _ k: Int) -> UInt32? {
        guard let last = lastPrefix else { return nil }
        let centre = last + lastMove, half = Swift.min(8 + 2 * abs(lastMove), 4096)
        let lo = Swift.max(0, centre - half), hi = Swift.min((1 << 22) - 1, centre + half)
        guard lo <= hi else { return nil }
        let chunks = Parallel.chunkCount(n, costPerItem: 2)
        var parts = [(above: Int, within: Int, nan: Bool)](repeating: (0, 0, false), count: chunks)
        let t: UInt32? = copy.withUnsafeMutableBufferPointer { c in
            let base = c.baseAddress!
            parts.withUnsafeMutableBufferPointer { pp in
                Parallel.forChunksIndexed(n, costPerItem: 2) { chunk, range in
                    pp[chunk] = TopMagnitudes.countAround(x, range, window: UInt32(lo), UInt32(hi), into: base + range.lowerBound)
                }
            }
            let above = parts.reduce(0) { $0 + $1.above }, within = parts.reduce(0) { $0 + $1.within }
            guard !parts.contains(where: { $0.nan }), above < k, k <= above + within else { return nil }
            let size = Self.sideBySide(base, parts.map { $0.within }, n)
            var window = Array(UnsafeBufferPointer(start: base, count: size))
            window.sort(by: >)
            return window[k - above - 1]
        }
        if t != nil { windowHits += 1 }
        return t
    }

    /// Step 2 (and k ≤ 0, k ≥ n, NaN: `TopMagnitudes.threshold`).
    private mutating func counted(_ x: UnsafePointer<Float>, _ n: Int, _ k: Int) -> UInt32? {
        let chunks = Parallel.chunkCount(n, costPerItem: 4), digits = TopMagnitudes.digitCount
        let guess = n > 0 ? lastBucket : nil
        var counts = [UInt32](repeating: 0, count: chunks * digits)
        var copied = [Int](repeating: 0, count: chunks)
        return copy.withUnsafeMutableBufferPointer { c in
            let base = c.baseAddress
            counts.withUnsafeMutableBufferPointer { h in
                copied.withUnsafeMutableBufferPointer { cc in
                    Parallel.forChunksIndexed(n, costPerItem: 4) { chunk, range in
                        let into = h.baseAddress! + chunk * digits
                        if let d = guess, let base {
                            cc[chunk] = TopMagnitudes.countTopDigits(x, range, into: into, copying: d, into: base + range.lowerBound)
                        } else {
                            TopMagnitudes.countTopDigits(x, range, into: into)
                        }
                    }
                }
                for chunk in 1..<Swift.max(chunks, 1) {
                    for d in 0..<digits { h[d] &+= h[chunk * digits + d] }
                }
            }
            return TopMagnitudes.threshold(x, count: n, keep: k, topDigits: counts) { digit in
                guard digit == guess, let base else { return nil }
                return UnsafeBufferPointer(start: base, count: Self.sideBySide(base, copied, n))
            }
        }
    }

    /// Puts the chunks' copies (chunk c's lengths[c] patterns at the start of its range of n)
    /// side by side from `base` (each moves down, never past a later one); returns their total.
    private static func sideBySide(_ base: UnsafeMutablePointer<UInt32>, _ lengths: [Int], _ n: Int) -> Int {
        var end = 0
        for (chunk, length) in lengths.enumerated() {
            let from = Parallel.chunkRange(chunk, of: lengths.count, n).lowerBound
            for j in 0..<length { base[end + j] = base[from + j] }
            end += length
        }
        return end
    }
}
