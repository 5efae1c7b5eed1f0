/// Top-k selection by magnitude, for masks chosen by scores (edge-popup): which k of n float
/// values have the largest |x|, equal magnitudes going to the lower index.
///
/// A float's magnitude orders as its bit pattern with the sign bit cleared (an unsigned
/// integer, for every non-NaN value), so the k-th largest magnitude t is found by a radix
/// select over those patterns: a histogram of the top 11 bits finds the bucket that holds
/// rank k (counted in chunks that can run on several threads); one more pass copies that
/// bucket's patterns aside, and the last 20 bits are resolved on the copy (11, then 9). Two
/// passes over the data, no sort; one when the counting pass copies the bucket because the
/// caller guessed it (TopMagnitudes+Bucket.swift). The mask keeps every
/// |x| ≥ t, then drops the entries with |x| = t from the highest index down until k are kept.
/// The passes over the data are free of branches (they vectorise).
public enum TopMagnitudes {
    /// Entries of a histogram of the top 11 magnitude bits (`countTopDigits`).
    public static let digitCount = 2048

    /// Writes 1 into `mask` at the k entries of `x` (n values) of largest magnitude, 0
    /// elsewhere. 0 ≤ k ≤ n. Returns false, writing nothing, when a value is NaN.
    public static func mask(_ x: UnsafePointer<Float>, count n: Int, keep k: Int, into mask: UnsafeMutablePointer<Float>) -> Bool {
        var counts = [UInt32](repeating: 0, count: digitCount)
        countTopDigits(x, 0..<n, into: &counts)
        guard let t = threshold(x, count: n, keep: k, topDigits: counts) else { return false }
        let kept = writeMask(x, 0..<n, threshold: t, into: mask)
        dropTies(x, count: n, threshold: t, excess: kept - k) { mask[$0] = 0 }
        return true
    }

    /// Chooses the mask anew from scores s and applies it: M = top-k of |s|, W_eff = W ⊙ M,
    /// where W is the effective value where the old mask was 1 and `stored` where it was 0.
    /// Afterwards `stored` holds W everywhere (so it still holds W under the new mask).
    /// Returns false, changing nothing, when a score is NaN. (In one piece; the Engine runs
    /// the same steps split across its threads: `countTopDigits` per chunk, `threshold`,
    /// `reselect(_:_:threshold:…)` per chunk, `dropTies`.)
    public static func reselect(
        scores s: UnsafePointer<Float>, count n: Int, keep k: Int,
        mask m: UnsafeMutablePointer<Float>, effective x: UnsafeMutablePointer<Float>, stored w: UnsafeMutablePointer<Float>
    ) -> Bool {
        var counts = [UInt32](repeating: 0, count: digitCount)
        countTopDigits(s, 0..<n, into: &counts)
        guard let t = threshold(s, count: n, keep: k, topDigits: counts) else { return false }
        let kept = reselect(s, 0..<n, threshold: t, mask: m, effective: x, stored: w)
        dropTies(s, count: n, threshold: t, excess: kept - k) { m[$0] = 0; x[$0] = 0 }
        return true
    }

    // MARK: the steps, each over a range of entries

    /// Adds to counts[d] (`digitCount` entries) the number of entries of x[range] whose
    /// magnitude's top 11 bits are d. Four interleaved histograms, so that runs of equal
    /// digits do not wait on each other's increments.
    public static func countTopDigits(_ x: UnsafePointer<Float>, _ range: Range<Int>, into counts: UnsafeMutablePointer<UInt32>) {
        let bits = patterns(x)
        var h = [UInt32](repeating: 0, count: 4 * digitCount)
        h.withUnsafeMutableBufferPointer { h in
            var i = range.lowerBound
            while i + 4 <= range.upperBound {
                h[Int((bits[i] & 0x7FFF_FFFF) >> 20)] &+= 1
                h[2048 + Int((bits[i + 1] & 0x7FFF_FFFF) >> 20)] &+= 1
                h[4096 + Int((bits[i + 2] & 0x7FFF_FFFF) >> 20)] &+= 1
                h[6144 + Int((bits[i + 3] & 0x7FFF_FFFF) >> 20)] &+= 1
                i += 4
            }
            while i < range.upperBound { h[Int((bits[i] & 0x7FFF_FFFF) >> 20)] &+= 1; i += 1 }
            for b in 0..<2048 { counts[b] = counts[b] &+ h[b] &+ h[2048 + b] &+ h[4096 + b] &+ h[6144 + b] }
        }
    }

    /// The pattern every kept entry's magnitude reaches (|x| ≥ t keeps at least k, |x| > t
    /// fewer than k): the magnitude of rank k, 0 (all) for k ≥ n, above every magnitude for
    /// k ≤ 0; `counts` = `countTopDigits` of all n entries. nil when a value is NaN.
    /// `copied(d)` may hand over the patterns of bucket d (top digit d, all of them, in any
    /// order) when the caller has them already (`countTopDigits(_:_:into:copying:into:)`);
    /// otherwise (nil) the bucket is gathered from x. The threshold is the same either way.
    public static func threshold(_ x: UnsafePointer<Float>, count n: Int, keep k: Int, topDigits counts: UnsafePointer<UInt32>,
                                 copied: (UInt32) -> UnsafeBufferPointer<UInt32>? = { _ in nil }) -> UInt32? {
        // NaN patterns (above 0x7F80_0000) all have top digits 0x7F8...0x7FF.
        if (0x7F8..<0x800).contains(where: { counts[$0] != 0 }) && hasNaN(x, count: n) { return nil }
        if k <= 0 { return 0x8000_0000 }
        if k >= n { return 0 }
        let (digit, rank) = bucket(ofRank: k, topDigits: counts)
        if let b = copied(digit) { return resolve(b, top: digit, rank: rank) }
        return kthLargest(x, count: n, rank: k, topDigits: counts)
    }

    /// mask[i] = 1 where |x_i| ≥ t, else 0, for i in range; returns how many are 1.
    public static func writeMask(_ x: UnsafePointer<Float>, _ range: Range<Int>, threshold t: UInt32,
                                 into mask: UnsafeMutablePointer<Float>) -> Int {
        let bits = patterns(x), out = patterns(mask)
        var kept: UInt32 = 0
        for i in range {
            let keep = lanes(ifAtLeast: t, bits[i])
            out[i] = keep & one
            kept &+= keep & 1
        }
        return Int(kept)
    }

    /// `reselect`'s one pass over range with threshold t (M = |s| ≥ t; the stored W, W ⊙ M);
    /// returns how many entries M keeps there.
    public static func reselect(
        _ s: UnsafePointer<Float>, _ range: Range<Int>, threshold t: UInt32,
        mask m: UnsafeMutablePointer<Float>, effective x: UnsafeMutablePointer<Float>, stored w: UnsafeMutablePointer<Float>
    ) -> Int {
        let scores = patterns(s), mask = patterns(m), effective = patterns(x), stored = patterns(w)
        var kept: UInt32 = 0
        for i in range {
            let keep = lanes(ifAtLeast: t, scores[i])
            let open = lanes(ifNonzero: mask[i])
            let weight = (effective[i] & open) | (stored[i] & ~open)
            stored[i] = weight
            effective[i] = weight & keep
            mask[i] = keep & one
            kept &+= keep & 1
        }
        return Int(kept)
    }

    /// The straight-through gradient of scores s that choose a mask M over weights W:
    /// ∂L/∂s_i = ∂L/∂W_eff,i · W_i · sign(s_i), with W_i = W_eff,i where M_i = 1 and the stored
    /// value where M_i = 0 (`mask`/`stored` nil: W = W_eff). The sign is applied to the product
    /// by its bit (exactly a multiplication by ±1), and sign(±0) = 0.
    public static func straightThroughGradient(
        gradient g: UnsafePointer<Float>, effective x: UnsafePointer<Float>, mask m: UnsafePointer<Float>?,
        stored kept: UnsafePointer<Float>?, scores s: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count n: Int
    ) {
        let scores = patterns(s), effective = patterns(x), result = patterns(out)
        @inline(__always) func signed(_ product: Float, _ score: UInt32) -> UInt32 {
            (product.bitPattern ^ (score & 0x8000_0000)) & lanes(ifNonzero: score)
        }
        if let m, let kept {
            let mask = patterns(m), stored = patterns(kept)
            for i in 0..<n {
                let open = lanes(ifNonzero: mask[i])
                let weight = Float(bitPattern: (effective[i] & open) | (stored[i] & ~open))
                result[i] = signed(g[i] * weight, scores[i])
            }
        } else {
            for i in 0..<n { result[i] = signed(g[i] * x[i], scores[i]) }
        }
    }

    // MARK: the selection

    /// The magnitude pattern of rank `rank` (1-based, 1 ≤ rank ≤ n) from the top, by radix
    /// select, given the counts of the top 11 bits (`countTopDigits`): the bucket that holds
    /// the rank (`bucket(ofRank:)`) is copied aside (`gather`) and resolved on the copy
    /// (`resolve`).
    static func kthLargest(_ x: UnsafePointer<Float>, count n: Int, rank: Int, topDigits counts: UnsafePointer<UInt32>) -> UInt32 {
        let (top, remaining) = bucket(ofRank: rank, topDigits: counts)
        let size = Int(counts[Int(top)])
        var copy = [UInt32](repeating: 0, count: size + gatherBlock)
        return copy.withUnsafeMutableBufferPointer { b in
            let found = gather(x, count: n, digit: top, size: size, into: b.baseAddress!)
            return resolve(UnsafeBufferPointer(rebasing: b[..<found]), top: top, rank: remaining)
        }
    }

    /// Patterns are gathered in blocks of this many (`gather`), the slack its copy needs.
    static let gatherBlock = 64

    /// Copies the magnitude patterns of x whose top 11 bits are `digit` (`size` of them, as
    /// `countTopDigits` counted) into `copy` (room for size + `gatherBlock`); returns how many
    /// it copied (at most size). Without branches: each pattern is written at the end of the
    /// copy, which grows by one when it is in the bucket; blocks of 64 with 64 slots of slack,
    /// so that the end is checked against the count the caller gave once per block (not per
    /// pattern: that would make a chain of dependent steps).
    static func gather(_ x: UnsafePointer<Float>, count n: Int, digit top: UInt32, size: Int, into b: UnsafeMutablePointer<UInt32>) -> Int {
        let bits = patterns(x)
        var end = 0, i = 0
        while i < n && end <= size {
            let stop = Swift.min(i + gatherBlock, n)
            for j in i..<stop {
                let p = bits[j] & 0x7FFF_FFFF
                b[end] = p
                end &+= Int(inBucket(p, top))
            }
            i = stop
        }
        return Swift.min(end, size)
    }

    /// Whether a value is NaN (a magnitude pattern above infinity's).
    static func hasNaN(_ x: UnsafePointer<Float>, count n: Int) -> Bool {
        let bits = patterns(x)
        var above: UInt32 = 0
        for i in 0..<n { above |= lanes(ifAtLeast: 0x7F80_0001, bits[i]) }
        return above != 0
    }

    /// Undoes the keeping of the `excess` entries with |x| = t of highest index (`drop(i)`):
    /// after a pass that kept every |x| ≥ t, the ties go to the lower index.
    @inline(__always)
    public static func dropTies(_ x: UnsafePointer<Float>, count n: Int, threshold t: UInt32, excess: Int, drop: (Int) -> Void) {
        let bits = patterns(x)
        var excess = excess, i = n - 1
        while excess > 0 && i >= 0 {
            if bits[i] & 0x7FFF_FFFF == t { drop(i); excess -= 1 }
            i -= 1
        }
    }

    // MARK: branch-free lanes
    //
    // The passes compute on bit patterns with integer arithmetic only (no comparisons, no
    // selects), so that the compiler turns every loop into vector code.

    /// 1.0's bit pattern.
    static let one: UInt32 = 0x3F80_0000

    /// All ones when |x| ≥ t (x's pattern, t ≤ 2³¹), else 0: |x| − t is below 2³¹ in magnitude,
    /// so its top bit is the sign of the difference.
    @inline(__always) static func lanes(ifAtLeast t: UInt32, _ x: UInt32) -> UInt32 {
        (((x & 0x7FFF_FFFF) &- t) >> 31) &- 1
    }

    /// 1 when the magnitude pattern p (below 2³¹) has top 11 bits `digit`, else 0: the digits
    /// differ by less than 2¹¹, so (difference − 1)'s top bit is set only when it is 0.
    @inline(__always) static func inBucket(_ p: UInt32, _ digit: UInt32) -> UInt32 {
        ((p >> 20 ^ digit) &- 1) >> 31
    }

    /// All ones when the float of pattern x is not ±0, else 0.
    @inline(__always) static func lanes(ifNonzero x: UInt32) -> UInt32 {
        0 &- ((0 &- (x & 0x7FFF_FFFF)) >> 31)
    }

    @inline(__always) static func patterns(_ p: UnsafePointer<Float>) -> UnsafePointer<UInt32> {
        UnsafeRawPointer(p).assumingMemoryBound(to: UInt32.self)
    }
    @inline(__always) static func patterns(_ p: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<UInt32> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt32.self)
    }
}
