import Foundation

// `emp`'s delta-form passes of the elementwise modules (see `EmpiricalPruner`): δy =
// f(a + δ) - f(a) for each perturbed input, a from the unperturbed pass, computed so that tiny
// changes keep their precision (`DeltaMath`). A row of the perturbation covers `range` of the
// example's inputs; the output covers the same range.

extension Tanh: DeltaPropagating {
    /// Tables t = tanh(a) and s = sech²(a) (the latter in double from the pre-activation).
    func deltaTableSizes(_ step: DeltaStep) -> (first: Int, second: Int) { (step.inputCount, step.inputCount) }

    func fillDeltaTables(_ step: DeltaStep, input a: UnsafePointer<Float>, output y: UnsafePointer<Float>, examples: Int,
                         first t: UnsafeMutablePointer<Float>, second sl: UnsafeMutablePointer<Float>) {
        for i in 0..<examples * step.inputCount {
            t[i] = y[i]
            let c = Foundation.cosh(Double(a[i]))
            sl[i] = Float(1 / (c * c))
        }
    }

    /// δy = tanh(a + δ) - tanh(a) by `DeltaMath.tanhDelta`, in place.
    func updateDeltaOutput(_ rows: DeltaRows, range: Range<Int>, _ step: DeltaStep) -> Bool {
        let f = step.inputCount, w = range.count
        for r in 0..<rows.rows {
            let base = rows.example(r) * f + range.lowerBound
            DeltaMath.tanhDelta(rows.src + r * w, t: rows.first + base, slope: rows.second + base, w)
        }
        return false
    }
}

extension Sigmoid: DeltaPropagating {
    /// σ(x) = ½ (1 + tanh(x/2)): tables T = tanh(a/2), S = sech²(a/2).
    func deltaTableSizes(_ step: DeltaStep) -> (first: Int, second: Int) { (step.inputCount, step.inputCount) }

    func fillDeltaTables(_ step: DeltaStep, input a: UnsafePointer<Float>, output y: UnsafePointer<Float>, examples: Int,
                         first t: UnsafeMutablePointer<Float>, second sl: UnsafeMutablePointer<Float>) {
        for i in 0..<examples * step.inputCount {
            let half = Double(a[i]) / 2
            t[i] = Float(Foundation.tanh(half))
            let c = Foundation.cosh(half)
            sl[i] = Float(1 / (c * c))
        }
    }

    /// δy = σ(a + δ) - σ(a) = ½ [tanh((a + δ)/2) - tanh(a/2)], in place.
    func updateDeltaOutput(_ rows: DeltaRows, range: Range<Int>, _ step: DeltaStep) -> Bool {
        let f = step.inputCount, w = range.count
        for r in 0..<rows.rows {
            let base = rows.example(r) * f + range.lowerBound
            let d = rows.src + r * w, tt = rows.first + base, ss = rows.second + base
            for j in 0..<w { d[j] = 0.5 * DeltaMath.tanhDelta(t: tt[j], slope: ss[j], delta: 0.5 * d[j]) }
        }
        return false
    }
}

extension ReLU: DeltaPropagating {
    /// Table a (the input).
    func deltaTableSizes(_ step: DeltaStep) -> (first: Int, second: Int) { (step.inputCount, 0) }

    func fillDeltaTables(_ step: DeltaStep, input a: UnsafePointer<Float>, output y: UnsafePointer<Float>, examples: Int,
                         first t: UnsafeMutablePointer<Float>, second: UnsafeMutablePointer<Float>) {
        t.update(from: a, count: examples * step.inputCount)
    }

    /// δy = max(a + δ, 0) - max(a, 0), in place.
    func updateDeltaOutput(_ rows: DeltaRows, range: Range<Int>, _ step: DeltaStep) -> Bool {
        let f = step.inputCount, w = range.count
        for r in 0..<rows.rows {
            let d = rows.src + r * w, aa = rows.first + rows.example(r) * f + range.lowerBound
            for j in 0..<w {
                let x = aa[j], dj = d[j], moved = x + dj
                d[j] = x > 0 ? (moved > 0 ? dj : -x) : (moved > 0 ? moved : 0)
            }
        }
        return false
    }
}

extension Dropout: DeltaPropagating {
    /// At evaluation y = c x: δy = c δ, in place.
    func updateDeltaOutput(_ rows: DeltaRows, range: Range<Int>, _ step: DeltaStep) -> Bool {
        let c = evaluationScale, src = rows.src
        for i in 0..<rows.rows * range.count { src[i] *= c }
        return false
    }
}
