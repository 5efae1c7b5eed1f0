import Kernels
import Foundation

/// Sorting and selection along one dimension: `sort`, `kthvalue`, `topk` (Torch7 semantics).
///
/// Order is a strict total order, so results never depend on the algorithm: values compare
/// as floats with NaN above every number, and equal values are ordered by index (the lower
/// index first, in ascending and descending order alike). Indices are returned 0-based,
/// as floats (exact up to 2²⁴), in tensors shaped like the values.
extension Tensor {
    /// The lanes of dimension `dim`: `outer` lanes before it, `size` elements along it,
    /// `inner` elements between two consecutive elements of one lane (the stride).
    public func lanes(_ dim: Int) throws -> (outer: Int, size: Int, inner: Int) {
        guard dim >= 0 && dim < self.dim else {
            throw EngineError("dimension \(dim + 1) out of range: the tensor of size \(shapeString(shape)) has \(self.dim) dimension\(self.dim == 1 ? "" : "s")")
        }
        let outer = shape[..<dim].reduce(1, *)
        let inner = shape[(dim + 1)...].reduce(1, *)
        return (outer, shape[dim], inner)
    }

    /// Calls `body` with each lane of `dim` copied into (value, index) pairs, and a function
    /// giving the flat position of lane element j (0-based).
    private func forEachLane(_ dim: Int, _ body: (inout [RankedValue], (Int) -> Int) -> Void) throws {
        let (outer, size, inner) = try lanes(dim)
        var lane = [RankedValue](repeating: RankedValue(value: 0, index: 0), count: size)
        let p = data
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * size * inner + i
                for j in 0..<size { lane[j] = RankedValue(value: p[base + j * inner], index: Int32(j)) }
                body(&lane, { base + $0 * inner })
            }
        }
    }

    /// Sorts every lane of `dim` (0-based): values[..., j, ...] in ascending (or descending)
    /// order, and the index each came from.
    public func sorted(along dim: Int, descending: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        let values = Tensor(shape: shape), indices = Tensor(shape: shape)
        let v = values.data, ix = indices.data
        try forEachLane(dim) { lane, position in
            lane.sort(by: descending ? RankedValue.descending : RankedValue.ascending)
            for (j, e) in lane.enumerated() {
                v[position(j)] = e.value
                ix[position(j)] = Float(e.index)
            }
        }
        return (values, indices)
    }

    /// The `k`-th smallest element of every lane of `dim` (k is 1-based, as Torch), and its
    /// index. Results keep `dim` with size 1 (Torch7's shape). O(n) per lane (quickselect).
    public func kthValue(_ k: Int, along dim: Int) throws -> (values: Tensor, indices: Tensor) {
        let (_, size, _) = try lanes(dim)
        guard k >= 1 && k <= size else {
            throw EngineError("kthvalue: k = \(k) out of range 1..\(size) (dimension \(dim + 1) has \(size) elements)")
        }
        var outShape = shape
        outShape[dim] = 1
        let values = Tensor(shape: outShape), indices = Tensor(shape: outShape)
        var n = 0
        try forEachLane(dim) { lane, _ in
            let e = RankedValue.select(&lane, k - 1)
            values[n] = e.value
            indices[n] = Float(e.index)
            n += 1
        }
        return (values, indices)
    }

    /// The `k` smallest (or, with `largest`, largest) elements of every lane of `dim`, sorted
    /// (ascending for smallest, descending for largest), and their indices.
    public func topK(_ k: Int, along dim: Int, largest: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        let (_, size, _) = try lanes(dim)
        guard k >= 0 && k <= size else {
            throw EngineError("topk: k = \(k) out of range 0..\(size) (dimension \(dim + 1) has \(size) elements)")
        }
        var outShape = shape
        outShape[dim] = k
        let values = Tensor(shape: outShape), indices = Tensor(shape: outShape)
        let (_, _, inner) = try lanes(dim)
        let v = values.data, ix = indices.data
        var laneNumber = 0
        try forEachLane(dim) { lane, _ in
            let order = largest ? RankedValue.descending : RankedValue.ascending
            // Partition so that the first k are the k best, then sort only those.
            if k > 0 && k < lane.count { RankedValue.select(&lane, k - 1, by: order) }
            var best = Array(lane.prefix(k))
            best.sort(by: order)
            let o = laneNumber / inner, i = laneNumber % inner
            for j in 0..<k {
                let at = o * k * inner + j * inner + i
                v[at] = best[j].value
                ix[at] = Float(best[j].index)
            }
            laneNumber += 1
        }
        return (values, indices)
    }
}

extension Tensor {
    /// Writes into `out` (shaped like this tensor) 1 at the `k` entries of largest |x| and 0
    /// elsewhere; equal magnitudes go to the lower index. By selection, not a sort: a radix
    /// select over the magnitudes' bit patterns (`Kernels.TopMagnitudes`, two passes over
    /// the data). A NaN entry is an error.
    public func largestMagnitudeMask(keeping k: Int, into out: Tensor) throws {
        guard out.count == count else { throw EngineError("a mask of \(out.count) entries for \(count) values") }
        guard k >= 0 && k <= count else { throw EngineError("cannot keep \(k) of \(count) entries") }
        guard TopMagnitudes.mask(data, count: count, keep: k, into: out.data) else { throw firstNaN() }
    }

    /// The error naming the first NaN entry (1-based), for a tensor known to hold one.
    func firstNaN() -> EngineError {
        let i = (0..<count).first(where: { data[$0].isNaN }) ?? 0
        return EngineError("score \(i + 1) is NaN")
    }
}

/// A value and its index in its lane, with the total orders used by sorting.
struct RankedValue {
    var value: Float
    var index: Int32

    /// a < b: NaN above every number; ties by index.
    static let ascending: (RankedValue, RankedValue) -> Bool = { a, b in
        if a.value < b.value { return true }
        if a.value > b.value { return false }
        let an = a.value.isNaN, bn = b.value.isNaN
        if an != bn { return bn }
        return a.index < b.index
    }

    /// a > b: NaN above every number (so first); ties by index (lower first).
    static let descending: (RankedValue, RankedValue) -> Bool = { a, b in
        if a.value > b.value { return true }
        if a.value < b.value { return false }
        let an = a.value.isNaN, bn = b.value.isNaN
        if an != bn { return an }
        return a.index < b.index
    }

    /// Rearranges `a` so that `a[k]` is the element of rank `k` (0-based) in `order`, every
    /// element before it ranks lower and every element after ranks higher (Hoare's select
    /// with a median-of-three pivot). Returns `a[k]`.
    @discardableResult
    static func select(_ a: inout [RankedValue], _ k: Int,
                       by less: (RankedValue, RankedValue) -> Bool = ascending) -> RankedValue {
        var lo = 0, hi = a.count - 1
        while hi > lo {
            let mid = lo + (hi - lo) / 2
            if less(a[mid], a[lo]) { a.swapAt(mid, lo) }
            if less(a[hi], a[lo]) { a.swapAt(hi, lo) }
            if less(a[hi], a[mid]) { a.swapAt(hi, mid) }
            let pivot = a[mid]
            var i = lo, j = hi
            while i <= j {
                while less(a[i], pivot) { i += 1 }
                while less(pivot, a[j]) { j -= 1 }
                if i <= j {
                    a.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { break }
        }
        return a[k]
    }
}
