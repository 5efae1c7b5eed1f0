/// Top-k selection by magnitude, for masks chosen by scores (edge-popup): which k of n float
/// values have the largest |x|, equal magnitudes going to the lower index.
///
/// A float's magnitude orders as its bit pattern with the sign bit cleared (an unsigned
/// integer, for every non-NaN value), so the k-th largest magnitude t is found by a radix
/// select over those patterns: a histogram of the top 11 bits finds the bucket that holds
/// rank k, then the next 11 bits within that bucket, then the last 10: three passes over the
/// data, no sort, no copy. The mask keeps every |x| > t and the entries with |x| = t in index
/// order until k are kept.
public enum TopMagnitudes {
    /// Writes 1 into `mask` at the k entries of `x` (n values, no NaN) of largest magnitude,
    /// 0 elsewhere. 0 ≤ k ≤ n.
    public static func mask(_ x: UnsafePointer<Float>, count n: Int, keep k: Int, into mask: UnsafeMutablePointer<Float>) {
        if k <= 0 { mask.update(repeating: 0, count: n); return }
        if k >= n { mask.update(repeating: 1, count: n); return }
        let bits = UnsafeRawPointer(x).assumingMemoryBound(to: UInt32.self)
        let t = kthLargest(bits, count: n, rank: k)
        var above = 0
        for i in 0..<n {
            let keep = bits[i] & 0x7FFF_FFFF > t
            mask[i] = keep ? 1 : 0
            above &+= keep ? 1 : 0
        }
        var ties = k - above, i = 0
        while ties > 0 && i < n {
            if bits[i] & 0x7FFF_FFFF == t { mask[i] = 1; ties -= 1 }
            i += 1
        }
    }

    /// The straight-through gradient of scores s that choose a mask M over weights W:
    /// ∂L/∂s_i = ∂L/∂W_eff,i · W_i · sign(s_i), with W_i = W_eff,i where M_i = 1 and the stored
    /// value where M_i = 0 (`mask`/`stored` nil: W = W_eff).
    public static func straightThroughGradient(
        gradient g: UnsafePointer<Float>, effective x: UnsafePointer<Float>, mask m: UnsafePointer<Float>?,
        stored kept: UnsafePointer<Float>?, scores s: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count n: Int
    ) {
        if let m, let kept {
            for i in 0..<n {
                let w = m[i] != 0 ? x[i] : kept[i]
                let sign: Float = s[i] == 0 ? 0 : Float(signOf: s[i], magnitudeOf: 1)
                out[i] = g[i] * w * sign
            }
        } else {
            for i in 0..<n {
                let sign: Float = s[i] == 0 ? 0 : Float(signOf: s[i], magnitudeOf: 1)
                out[i] = g[i] * x[i] * sign
            }
        }
    }

    /// The magnitude pattern of rank `rank` (1-based) from the top, by radix select.
    static func kthLargest(_ bits: UnsafePointer<UInt32>, count n: Int, rank: Int) -> UInt32 {
        var prefix: UInt32 = 0, remaining = rank
        var histogram = [Int](repeating: 0, count: 2048)
        // (shift of the digit, its width) from the top of the 31 magnitude bits.
        for (shift, width) in [(UInt32(20), UInt32(11)), (UInt32(9), UInt32(11)), (UInt32(0), UInt32(9))] {
            for b in 0..<histogram.count { histogram[b] = 0 }
            let digitMask = (UInt32(1) << width) - 1
            let high = shift + width            // bits above the digit must equal the prefix
            histogram.withUnsafeMutableBufferPointer { h in
                for i in 0..<n {
                    let m = bits[i] & 0x7FFF_FFFF
                    if high >= 31 || (m >> high) == (prefix >> high) { h[Int((m >> shift) & digitMask)] += 1 }
                }
            }
            var digit = Int(digitMask)
            while histogram[digit] < remaining { remaining -= histogram[digit]; digit -= 1 }
            prefix |= UInt32(digit) << shift
        }
        return prefix
    }
}
