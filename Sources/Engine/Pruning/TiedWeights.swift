import Foundation

/// Tied weights (HashedNet-like, the DSR seed's `--tied`): a layer of n weights reads B shared
/// values, position i the value h(i) ∈ 0..<B. The gradient of a value is the sum over its
/// positions, ∂L/∂θ_b = Σ_{h(i)=b} ∂L/∂W_i (summed in position order, so the same bits as a
/// scatter-add), optionally divided by the count n_b of its positions, plus λ·sign(θ_b) for an
/// L1 term; every position then gets its value's gradient, so that an elementwise optimiser
/// moves the positions of a value identically and they stay one value.
public final class TiedWeights {
    /// h(i) for each position i (0-based values).
    public let buckets: [Int32]
    /// B, the number of values.
    public let values: Int
    /// n_b, the positions of each value.
    public let counts: [Float]
    /// The last position of each value (where the L1 term reads its sign).
    private let last: [Int32]
    /// Σ per value, reused each step.
    private var sums: [Float]

    /// `buckets[i]` = h(i), each in 0..<values, every value used at least once.
    public init(buckets: [Int], values: Int) throws {
        guard values >= 1 else { throw EngineError("tied weights need at least one value, got \(values)") }
        var counts = [Float](repeating: 0, count: values)
        for (i, b) in buckets.enumerated() {
            guard b >= 0 && b < values else {
                throw EngineError("tied weights: position \(i + 1) maps to value \(b + 1), outside 1...\(values)")
            }
            counts[b] += 1
        }
        if let unused = counts.firstIndex(of: 0) {
            throw EngineError("tied weights: value \(unused + 1) has no position")
        }
        var last = [Int32](repeating: 0, count: values)
        for (i, b) in buckets.enumerated() { last[b] = Int32(i) }
        self.buckets = buckets.map { Int32($0) }
        self.values = values
        self.counts = counts
        self.last = last
        sums = [Float](repeating: 0, count: values)
    }

    /// g_i ← G_{h(i)} with G_b = Σ_{h(i)=b} g_i (÷ n_b when `rescale`) + λ·sign(θ_b), θ_b the
    /// value of b read from `weight` at its last position (as an indexCopy of W would read it;
    /// its positions are equal). The sums are one pass in position order (adds into B sums
    /// that stay in the cache); every position then reads its own, split across the threads.
    public func sumGradients(_ gradient: Tensor, weight: Tensor, rescale: Bool, l1: Float) throws {
        let n = buckets.count
        guard gradient.count == n, weight.count == n else {
            throw EngineError("tied weights of \(n) positions, given a gradient of \(gradient.count) and a weight of \(weight.count)")
        }
        let g = gradient.data, w = weight.data
        sums.withUnsafeMutableBufferPointer { s in
            buckets.withUnsafeBufferPointer { h in
            counts.withUnsafeBufferPointer { c in
            last.withUnsafeBufferPointer { l in
                s.update(repeating: 0)
                for i in 0..<n { s[Int(h[i])] += g[i] }
                if rescale { for b in 0..<values { s[b] /= c[b] } }
                if l1 > 0 {
                    for b in 0..<values {
                        let v = w[Int(l[b])]
                        s[b] += l1 * (v > 0 ? 1 : v < 0 ? -1 : 0)
                    }
                }
                let sp = s.baseAddress!, hp = h.baseAddress!
                Parallel.forChunks(n, costPerItem: 2) { range in
                    for i in range { g[i] = sp[Int(hp[i])] }
                }
            }}}
        }
    }
}
