import Foundation

/// `emp`'s delta-form passes of y = W x + b (see `EmpiricalPruner`): as the scored layer,
/// zeroing W[o, j] changes only unit o, by -W[o, j] x_j; downstream, δy = W δx restricted to
/// the columns of W the perturbation touches.
extension Linear: DeltaScoring, DeltaPropagating {
    var deltaItems: Int { outputSize }
    var deltaWeightsPerItem: Int { inputSize }
    func deltaItemRange(_ item: Int, inputShape: [Int]) -> Range<Int> { item..<(item + 1) }

    /// δy_item = -W[item, j] x_j for each row (one number).
    func initialDelta(_ rows: DeltaRows, item: Int, weights: ArraySlice<Int>, input x: UnsafePointer<Float>,
                      inputShape: [Int]) {
        let inputs = inputSize, d = rows.src, q0 = weights.startIndex
        let w = weightParameter.value.data + item * inputs
        for r in 0..<rows.rows {
            let j = weights[q0 + r % rows.perturbations]
            d[r] = -w[j] * x[rows.example(r) * inputs + j]
        }
    }

    func deltaOutputRange(_ r: Range<Int>, _ step: DeltaStep) -> Range<Int> { 0..<step.outputCount }

    /// δy [rows, out] = δx [rows, k] · W[:, range]ᵀ (one column: a rank-1 update).
    func updateDeltaOutput(_ rows: DeltaRows, range: Range<Int>, _ step: DeltaStep) -> Bool {
        let out = outputSize, inputs = inputSize, k = range.count, src = rows.src, dst = rows.dst
        let w = weightParameter.value.data + range.lowerBound
        if k == 1 {
            for r in 0..<rows.rows {
                let s = src[r], o = dst + r * out
                for j in 0..<out { o[j] = s * w[j * inputs] }
            }
        } else {
            BLAS.gemm(transB: true, m: rows.rows, n: out, k: k, a: src, lda: k, b: w, ldb: inputs, c: dst, ldc: out)
        }
        return true
    }

    /// The last Linear writes the logit changes transposed, [classes, rows], for the loss.
    func updateDeltaLogits(_ rows: DeltaRows, range: Range<Int>, _ step: DeltaStep) -> Bool {
        let out = outputSize, inputs = inputSize, k = range.count, n = rows.rows, src = rows.src, logitsT = rows.logits
        let w = weightParameter.value.data + range.lowerBound
        if k == 1 {
            for j in 0..<out {
                let wj = w[j * inputs], o = logitsT + j * n
                for r in 0..<n { o[r] = src[r] * wj }
            }
        } else {
            BLAS.gemm(transB: true, m: out, n: n, k: k, a: w, lda: inputs, b: src, ldb: k, c: logitsT, ldc: n)
        }
        return true
    }
}
