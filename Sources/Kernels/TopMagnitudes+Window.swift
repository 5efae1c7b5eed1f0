/// A counting pass for a guessed threshold, for `TopMagnitudes`' selection when the k-th
/// magnitude is known roughly (the last selection's, a training step ago): over a window of
/// the top 22 bits of the magnitude patterns, q = p >> 9 in [lo, hi], it counts the entries
/// above the window (q > hi) and within it, and copies the patterns within it. When
/// above < k ≤ above + within, the k-th magnitude is the (k − above)-th largest of the copy,
/// and no histogram was made: the counts are branch-free and vectorise; only a block of 64
/// entries that holds a pattern of the window is copied from, one pattern at a time.
extension TopMagnitudes {
    /// The counts of x[range] against the window [lo, hi] of q = |x|'s pattern >> 9 (lo ≤ hi <
    /// 2²²), the patterns within it copied to copy[0..<within] in index order (`copy` has room
    /// for range.count), and whether a value is NaN (a magnitude pattern above infinity's).
    public static func countAround(_ x: UnsafePointer<Float>, _ range: Range<Int>, window lo: UInt32, _ hi: UInt32,
                                   into copy: UnsafeMutablePointer<UInt32>) -> (above: Int, within: Int, nan: Bool) {
        let bits = patterns(x), block = 64
        var above = 0, within = 0, nan: UInt32 = 0, i = range.lowerBound
        while i < range.upperBound {
            let stop = Swift.min(i + block, range.upperBound)
            var a: UInt32 = 0, w: UInt32 = 0
            for j in i..<stop {
                let p = bits[j] & 0x7FFF_FFFF, q = p >> 9
                a &+= (hi &- q) >> 31                              // 1 when q > hi (|q − hi| < 2²²)
                w &+= 1 ^ (((q &- lo) | (hi &- q)) >> 31)          // 1 when lo ≤ q ≤ hi
                nan |= 1 ^ ((p &- 0x7F80_0001) >> 31)              // 1 when p > infinity's
            }
            if w != 0 {
                var end = within
                for j in i..<stop {
                    let p = bits[j] & 0x7FFF_FFFF, q = p >> 9
                    if q >= lo && q <= hi { copy[end] = p; end += 1 }
                }
            }
            above += Int(a)
            within += Int(w)
            i = stop
        }
        return (above, within, nan != 0)
    }
}
