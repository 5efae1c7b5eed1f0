import Foundation

/// One thread's share of `emp`: for each of its items (output unit or channel of the scored
/// layer), the exact loss change of zeroing each of the item's weights, for a block of
/// scoring examples, accumulated per weight.
///
/// Rows are (example, weight) pairs, example-major: row = e·Q + q for Q weights. A row holds the
/// perturbation of the activations it changes: a flat per-example index range, which starts as
/// the item's unit (Linear) or output plane (convolution) and widens downstream.
final class EmpiricalWorker {
    private let target: any DeltaScoring
    private let steps: [DeltaStep]
    private let classes: Int
    let maxRows: Int
    private let width: Int, extended: Int, columnCount: Int, planeMajorCount: Int
    private let bufferA, bufferB, extendedBuffer, columns, planeMajor, logitsT: UnsafeMutablePointer<Float>
    private let zTarget, rowSum, rowMax, rowLoss: UnsafeMutablePointer<Float>

    /// Buffers for at most `maxRows` rows of the widest state the steps produce.
    init(target: any DeltaScoring, steps: [DeltaStep], classes: Int, maxRows: Int, sizes: EmpiricalBufferSizes) {
        self.target = target
        self.steps = steps
        self.classes = classes
        self.maxRows = maxRows
        width = sizes.width; extended = sizes.extended; columnCount = sizes.columns; planeMajorCount = sizes.planeMajor
        func buffer(_ perRow: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, perRow * maxRows))
            p.initialize(repeating: 0, count: Swift.max(1, perRow * maxRows))
            return p
        }
        bufferA = buffer(width); bufferB = buffer(width)
        extendedBuffer = buffer(extended); columns = buffer(columnCount); planeMajor = buffer(planeMajorCount)
        logitsT = buffer(classes)
        zTarget = buffer(1); rowSum = buffer(1); rowMax = buffer(1); rowLoss = buffer(1)
    }

    deinit {
        for p in [bufferA, bufferB, extendedBuffer, columns, planeMajor, logitsT, zTarget, rowSum, rowMax, rowLoss] {
            p.deallocate()
        }
    }

    /// Adds Σ_e [ℓ_e(W with W_{item, j} = 0) - ℓ_e(W)] over the block's examples to
    /// `sums[j]` for each j in `weights` (indices within the item's row of W).
    func accumulate(item: Int, weights: [Int], tables: EmpiricalBaseTables, sums: UnsafeMutablePointer<Double>) {
        let q = weights.count
        guard q > 0 else { return }
        let qBlock = Swift.min(q, maxRows)
        let eBlock = Swift.max(1, maxRows / qBlock)
        var q0 = 0
        while q0 < q {
            let qc = Swift.min(qBlock, q - q0)
            var e0 = 0
            while e0 < tables.count {
                let ec = Swift.min(eBlock, tables.count - e0)
                let chunk = Chunk(e0: e0, examples: ec, q0: q0, perturbations: qc)
                processChunk(chunk, item: item, weights: weights, tables: tables, sums: sums)
                e0 += ec
            }
            q0 += qc
        }
    }

    struct Chunk {
        let e0: Int, examples: Int, q0: Int, perturbations: Int
        var rows: Int { examples * perturbations }
    }

    private func processChunk(_ chunk: Chunk, item: Int, weights: [Int], tables: EmpiricalBaseTables,
                              sums: UnsafeMutablePointer<Double>) {
        var src = bufferA, dst = bufferB
        func rows(first: UnsafePointer<Float>, second: UnsafePointer<Float>) -> DeltaRows {
            DeltaRows(rows: chunk.rows, e0: chunk.e0, perturbations: chunk.perturbations, src: src, dst: dst,
                      extended: extendedBuffer, columns: columns, planeMajor: planeMajor, logits: logitsT,
                      first: first, second: second)
        }
        let input = tables.targetInput
        target.initialDelta(rows(first: input.data, second: input.data), item: item,
                            weights: weights[chunk.q0..<(chunk.q0 + chunk.perturbations)],
                            input: input.data, inputShape: Array(input.shape.dropFirst()))
        var range = target.deltaItemRange(item, inputShape: Array(input.shape.dropFirst()))
        var logitsReady = false
        for (s, step) in steps.enumerated() {
            let out = step.outputRange(range)
            let r = rows(first: tables.first[s].data, second: tables.second[s].data)
            if s == steps.count - 1 && step.module.updateDeltaLogits(r, range: range, step) {
                logitsReady = true
            } else if step.module.updateDeltaOutput(r, range: range, step) {
                swap(&src, &dst)
            }
            range = out
        }
        if !logitsReady { transposeToLogits(chunk, range: range, src: src) }
        lossChange(chunk, tables: tables)
        // Σ over the chunk's examples, in example order, per weight.
        let qc = chunk.perturbations
        for e in 0..<chunk.examples {
            let l = rowLoss + e * qc
            for k in 0..<qc { sums[weights[chunk.q0 + k]] += Double(l[k]) }
        }
    }

    /// [rows, range] → [classes, rows] with zeros outside the range.
    private func transposeToLogits(_ chunk: Chunk, range: Range<Int>, src: UnsafePointer<Float>) {
        let rows = chunk.rows, w = range.count
        logitsT.update(repeating: 0, count: classes * rows)
        for (j, k) in range.enumerated() {
            let o = logitsT + k * rows
            for r in 0..<rows { o[r] = src[r * w + j] }
        }
    }

    /// Per row, with d_k = δz_k - δz_t and the example's softmax p:
    ///
    ///   Δℓ = log Σ_k p_k e^{δz_k} - δz_t = log1p(Σ_{k≠t} p_k expm1(d_k)),
    ///
    /// accurate when the change is tiny; rows with a d_k above 60 use the shifted double form.
    private func lossChange(_ chunk: Chunk, tables: EmpiricalBaseTables) {
        let rows = chunk.rows, qc = chunk.perturbations
        let probs = tables.probabilities.data
        for e in 0..<chunk.examples {
            let ex = chunk.e0 + e, t = tables.targets[ex]
            let r0 = e * qc
            let zt = zTarget + r0, sum = rowSum + r0, mx = rowMax + r0, loss = rowLoss + r0
            let target = logitsT + t * rows + r0
            for q in 0..<qc { zt[q] = target[q]; sum[q] = 0; mx[q] = 0 }
            let p = probs + ex * classes
            for k in 0..<classes where k != t {
                let pk = p[k], z = logitsT + k * rows + r0
                for q in 0..<qc {
                    let d = z[q] - zt[q]
                    sum[q] += pk * DeltaMath.expm1(d)
                    mx[q] = Swift.max(mx[q], d)
                }
            }
            for q in 0..<qc { loss[q] = DeltaMath.log1p(sum[q]) }
            for q in 0..<qc where mx[q] > 60 {
                var m = 0.0
                for k in 0..<classes { m = Swift.max(m, Double(logitsT[k * rows + r0 + q] - zt[q])) }
                var s = 0.0
                for k in 0..<classes { s += Double(p[k]) * Foundation.exp(Double(logitsT[k * rows + r0 + q] - zt[q]) - m) }
                loss[q] = Float(m + Foundation.log(s))
            }
        }
    }
}

/// Floats per row each worker buffer needs (maxima over the items' perturbation paths).
struct EmpiricalBufferSizes {
    var width = 1, extended = 0, columns = 0, planeMajor = 0

    var perRow: Int { 2 * width + extended + columns + planeMajor }
}
