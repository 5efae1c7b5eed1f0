/// The bucket step of `TopMagnitudes`' radix select, in pieces a caller can run separately: the
/// bucket of the top-11-bit histogram that holds a rank, the resolution of the last 20 bits on a
/// copy of that bucket, and a counting pass that also copies one chosen bucket aside. A caller
/// that guesses the bucket of rank k before counting (the one of the previous selection: the
/// k-th magnitude rarely leaves it between two steps of training) gets its copy from the
/// counting pass and needs no second pass over the data; a wrong guess costs only the copy.
extension TopMagnitudes {
    /// The top digit d of the magnitude of rank `rank` (1-based, 1 ≤ rank ≤ Σ counts) from the
    /// top, and its rank among the entries of digit d: rank − Σ_{d' > d} counts[d'].
    public static func bucket(ofRank rank: Int, topDigits counts: UnsafePointer<UInt32>) -> (digit: UInt32, rank: Int) {
        var remaining = rank, digit = digitCount - 1
        while Int(counts[digit]) < remaining { remaining -= Int(counts[digit]); digit -= 1 }
        return (UInt32(digit), remaining)
    }

    /// The magnitude pattern of rank `rank` (1-based) from the top among `bucket`, the patterns
    /// (sign bit cleared) of one bucket of top digit `top`, in any order: the next 11 bits
    /// (bits 9-19), then the last 9, each by a histogram of the patterns that agree with the
    /// prefix found so far. 1 ≤ rank ≤ bucket.count.
    public static func resolve(_ bucket: UnsafeBufferPointer<UInt32>, top: UInt32, rank: Int) -> UInt32 {
        var histogram = [UInt32](repeating: 0, count: digitCount)
        var remaining = rank, prefix = top << 20
        for (shift, width) in [(UInt32(9), UInt32(11)), (UInt32(0), UInt32(9))] {
            let digitMask = (UInt32(1) << width) - 1, high = shift + width
            for b in 0..<digitCount { histogram[b] = 0 }
            for p in bucket where p >> high == prefix >> high { histogram[Int((p >> shift) & digitMask)] += 1 }
            var d = Int(digitMask)
            while Int(histogram[d]) < remaining { remaining -= Int(histogram[d]); d -= 1 }
            prefix |= UInt32(d) << shift
        }
        return prefix
    }

    /// `countTopDigits(x, range, into: counts)`, and in the same pass the magnitude patterns of
    /// x[range] whose top 11 bits are `digit` (< `digitCount`) copied to copy[0..<c] in index order (`copy` has
    /// room for range.count); returns c. Branch-free: every pattern is written at the end of
    /// the copy, which grows by one when it is in the bucket.
    public static func countTopDigits(_ x: UnsafePointer<Float>, _ range: Range<Int>, into counts: UnsafeMutablePointer<UInt32>,
                                      copying digit: UInt32, into copy: UnsafeMutablePointer<UInt32>) -> Int {
        let bits = patterns(x)
        var h = [UInt32](repeating: 0, count: 4 * digitCount)
        var end = 0
        h.withUnsafeMutableBufferPointer { h in
            var i = range.lowerBound
            while i + 4 <= range.upperBound {
                let p0 = bits[i] & 0x7FFF_FFFF, p1 = bits[i + 1] & 0x7FFF_FFFF
                let p2 = bits[i + 2] & 0x7FFF_FFFF, p3 = bits[i + 3] & 0x7FFF_FFFF
                h[Int(p0 >> 20)] &+= 1
                h[2048 + Int(p1 >> 20)] &+= 1
                h[4096 + Int(p2 >> 20)] &+= 1
                h[6144 + Int(p3 >> 20)] &+= 1
                copy[end] = p0; end &+= Int(inBucket(p0, digit))
                copy[end] = p1; end &+= Int(inBucket(p1, digit))
                copy[end] = p2; end &+= Int(inBucket(p2, digit))
                copy[end] = p3; end &+= Int(inBucket(p3, digit))
                i += 4
            }
            while i < range.upperBound {
                let p = bits[i] & 0x7FFF_FFFF
                h[Int(p >> 20)] &+= 1
                copy[end] = p; end &+= Int(inBucket(p, digit))
                i += 1
            }
            for b in 0..<digitCount { counts[b] = counts[b] &+ h[b] &+ h[2048 + b] &+ h[4096 + b] &+ h[6144 + b] }
        }
        return end
    }
}
