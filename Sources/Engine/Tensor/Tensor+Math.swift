import Foundation

/// Elementwise and reduction operations. Loops run over raw buffers so that the release
/// build vectorises them; none allocates unless it returns a new tensor.
extension Tensor {
    /// Every element = v; a large tensor is filled by the engine's threads, each its own part
    /// (so the part a thread then writes is already in its cache, e.g. a gradient's rows).
    public func fill(_ v: Float) {
        let p = data
        guard count >= 131_072 else { return p.update(repeating: v, count: count) }   // below ~0.5 MB one thread is as fast
        Parallel.forChunks(count, costPerItem: 1) { r in (p + r.lowerBound).update(repeating: v, count: r.count) }
    }
    public func zero() { fill(0) }

    /// self = self * a
    public func scale(by a: Float) {
        let p = data
        for i in 0..<count { p[i] *= a }
    }

    /// self = self + a (every element)
    public func addScalar(_ a: Float) {
        let p = data
        for i in 0..<count { p[i] += a }
    }

    /// self = self + alpha * x
    public func add(_ x: Tensor, alpha: Float = 1) {
        precondition(x.count == count, "add: \(x.count) vs \(count) elements")
        let p = data, q = x.data
        if alpha == 1 { for i in 0..<count { p[i] += q[i] } } else { for i in 0..<count { p[i] += alpha * q[i] } }
    }

    /// self = self ⊙ x (elementwise product)
    public func cmul(_ x: Tensor) {
        precondition(x.count == count, "cmul: \(x.count) vs \(count) elements")
        let p = data, q = x.data
        for i in 0..<count { p[i] *= q[i] }
    }

    /// self = self ⊘ x (elementwise quotient)
    public func cdiv(_ x: Tensor) {
        precondition(x.count == count, "cdiv: \(x.count) vs \(count) elements")
        let p = data, q = x.data
        for i in 0..<count { p[i] /= q[i] }
    }

    /// self = |self|
    public func absInPlace() {
        let p = data
        for i in 0..<count { p[i] = Swift.abs(p[i]) }
    }

    /// Σ self, accumulated in double precision in index order (deterministic).
    public func sum() -> Double {
        let p = data
        var s = 0.0
        for i in 0..<count { s += Double(p[i]) }
        return s
    }

    public func mean() -> Double { count == 0 ? 0 : sum() / Double(count) }

    public func maxValue() -> Float {
        var m = -Float.infinity
        let p = data
        for i in 0..<count where p[i] > m { m = p[i] }
        return m
    }

    public func minValue() -> Float {
        var m = Float.infinity
        let p = data
        for i in 0..<count where p[i] < m { m = p[i] }
        return m
    }

    /// Σ self ⊙ x in double precision.
    public func dot(_ x: Tensor) -> Double {
        precondition(x.count == count)
        let p = data, q = x.data
        var s = 0.0
        for i in 0..<count { s += Double(p[i]) * Double(q[i]) }
        return s
    }

    /// Number of elements equal to zero.
    public func zeroCount() -> Int {
        let p = data
        var n = 0
        for i in 0..<count { n &+= p[i] == 0 ? 1 : 0 }   // branch-free: it vectorises
        return n
    }

    /// Largest |self - other| elementwise.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(other.count == count)
        let p = data, q = other.data
        var m: Float = 0
        for i in 0..<count { m = Swift.max(m, Swift.abs(p[i] - q[i])) }
        return m
    }
}
