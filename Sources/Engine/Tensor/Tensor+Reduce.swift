/// Reductions along one dimension (Torch7's `sum(dim)`, `mean(dim)`, `max(dim)`, `min(dim)`).
/// Results keep the reduced dimension with size 1, as Torch7 does. Dimensions are 0-based
/// here; indices are 0-based floats.
extension Tensor {
    /// out[..., 0, ...] = Σ_j self[..., j, ...], accumulated in double precision.
    public func sum(along dim: Int) throws -> Tensor {
        let (outer, size, inner) = try lanes(dim)
        var s = shape
        s[dim] = 1
        let out = Tensor(shape: s)
        let p = data, q = out.data
        for o in 0..<outer {
            for i in 0..<inner {
                var acc = 0.0
                for j in 0..<size { acc += Double(p[(o * size + j) * inner + i]) }
                q[o * inner + i] = Float(acc)
            }
        }
        return out
    }

    /// out = sum(along: dim) / size of dim.
    public func mean(along dim: Int) throws -> Tensor {
        let out = try sum(along: dim)
        let n = shape[dim]
        if n > 0 { out.scale(by: 1 / Float(n)) }
        return out
    }

    /// The largest value of each lane of `dim` and its index (the first one on ties; NaN
    /// wins, as in Torch).
    public func maxValues(along dim: Int) throws -> (values: Tensor, indices: Tensor) {
        try extreme(along: dim) { a, b in a > b || (a.isNaN && !b.isNaN) }
    }

    /// The smallest value of each lane of `dim` and its index (the first one on ties).
    public func minValues(along dim: Int) throws -> (values: Tensor, indices: Tensor) {
        try extreme(along: dim) { a, b in a < b || (a.isNaN && !b.isNaN) }
    }

    private func extreme(along dim: Int, _ better: (Float, Float) -> Bool) throws -> (values: Tensor, indices: Tensor) {
        let (outer, size, inner) = try lanes(dim)
        guard size > 0 else { throw EngineError("cannot take the max or min of an empty dimension \(dim + 1)") }
        var s = shape
        s[dim] = 1
        let values = Tensor(shape: s), indices = Tensor(shape: s)
        let p = data, v = values.data, ix = indices.data
        for o in 0..<outer {
            for i in 0..<inner {
                var best = p[o * size * inner + i], at = 0
                for j in 1..<Swift.max(size, 1) {
                    let x = p[(o * size + j) * inner + i]
                    if better(x, best) { best = x; at = j }
                }
                v[o * inner + i] = best
                ix[o * inner + i] = Float(at)
            }
        }
        return (values, indices)
    }
}
