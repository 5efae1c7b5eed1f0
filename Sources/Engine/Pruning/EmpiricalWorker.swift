import Foundation

/// One thread's share of `emp`: for each of its items (output unit or channel of the scored
/// layer), the exact loss change of zeroing each of the item's weights, for a block of
/// scoring examples, accumulated per weight.
///
/// Rows are (example, weight) pairs, example-major: row = e·Q + q for Q weights. A row holds the
/// perturbation of the activations it changes: a flat per-example index range, which starts as
/// the item's unit (Linear) or output plane (convolution) and widens downstream.
final class EmpiricalWorker {
    private let target: EmpiricalTarget
    private let steps: [DeltaStep]
    private let classes: Int
    let maxRows: Int
    private let width: Int, extended: Int, columnCount: Int, planeMajorCount: Int
    private let bufferA, bufferB, extendedBuffer, columns, planeMajor, logitsT: UnsafeMutablePointer<Float>
    private let zTarget, rowSum, rowMax, rowLoss: UnsafeMutablePointer<Float>

    /// Buffers for at most `maxRows` rows of the widest state the steps produce.
    init(target: EmpiricalTarget, steps: [DeltaStep], classes: Int, maxRows: Int, sizes: EmpiricalBufferSizes) {
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
        /// Block-local example of row r.
        @inline(__always) func example(_ r: Int) -> Int { e0 + r / perturbations }
    }

    private func processChunk(_ chunk: Chunk, item: Int, weights: [Int], tables: EmpiricalBaseTables,
                              sums: UnsafeMutablePointer<Double>) {
        var src = bufferA, dst = bufferB
        var range = initialPerturbation(chunk, item: item, weights: weights, tables: tables, into: src)
        var logitsReady = false
        for (s, step) in steps.enumerated() {
            let last = s == steps.count - 1
            let out = step.outputRange(range)
            switch step.kind {
            case .tanh:
                let t = tables.first[s].data, sl = tables.second[s].data, f = step.inputCount
                let w = range.count
                for r in 0..<chunk.rows {
                    let base = chunk.example(r) * f + range.lowerBound
                    DeltaMath.tanhDelta(src + r * w, t: t + base, slope: sl + base, w)
                }
            case .sigmoid:
                let t = tables.first[s].data, sl = tables.second[s].data, f = step.inputCount
                let w = range.count
                for r in 0..<chunk.rows {
                    let base = chunk.example(r) * f + range.lowerBound
                    let d = src + r * w, tt = t + base, ss = sl + base
                    for j in 0..<w { d[j] = 0.5 * DeltaMath.tanhDelta(t: tt[j], slope: ss[j], delta: 0.5 * d[j]) }
                }
            case .relu:
                let a = tables.first[s].data, f = step.inputCount
                let w = range.count
                for r in 0..<chunk.rows {
                    let d = src + r * w, aa = a + chunk.example(r) * f + range.lowerBound
                    for j in 0..<w {
                        let x = aa[j], dj = d[j], moved = x + dj
                        d[j] = x > 0 ? (moved > 0 ? dj : -x) : (moved > 0 ? moved : 0)
                    }
                }
            case .scale(let c):
                let n = chunk.rows * range.count
                for i in 0..<n { src[i] *= c }
            case .reshape:
                break
            case .maxPool(let pool):
                maxPool(pool, step: step, s: s, chunk: chunk, range: range, src: src, dst: dst, tables: tables)
                swap(&src, &dst)
            case .linear(let lin):
                if last {
                    linearToLogits(lin, chunk: chunk, range: range, src: src)
                    logitsReady = true
                } else {
                    linear(lin, chunk: chunk, range: range, src: src, dst: dst)
                    swap(&src, &dst)
                }
            case .convolution(let conv):
                convolution(conv, step: step, chunk: chunk, range: range, src: src, dst: dst)
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

    /// δ of the scored layer's output for each row: Linear: δy_item = -W[item, j] x_j (one
    /// number); convolution: δy[item, i, j] = -W[item, c, v, u] x[c, i·dH+v-padH, j·dW+u-padW]
    /// over the item's output plane. Returns the flat range of the output it occupies.
    private func initialPerturbation(_ chunk: Chunk, item: Int, weights: [Int], tables: EmpiricalBaseTables,
                                     into d: UnsafeMutablePointer<Float>) -> Range<Int> {
        let x = tables.targetInput.data
        switch target {
        case .linear(let lin):
            let inputs = lin.inputSize
            let w = lin.weightParameter.value.data + item * inputs
            for r in 0..<chunk.rows {
                let j = weights[chunk.q0 + r % chunk.perturbations]
                d[r] = -w[j] * x[chunk.example(r) * inputs + j]
            }
            return item..<(item + 1)
        case .convolution(let conv):
            let inputShape = Array(tables.targetInput.shape.dropFirst())
            let g = ConvolutionGeometry(conv, height: inputShape[1], width: inputShape[2])
            let kk = g.kernelArea, p = g.p
            let w = conv.weightParameter.value.data + item * g.nIn * kk
            let exampleSize = g.nIn * g.h * g.w
            for r in 0..<chunk.rows {
                let j = weights[chunk.q0 + r % chunk.perturbations]
                let c = j / kk, v = (j / g.kW) % g.kH, u = j % g.kW
                let scale = -w[j]
                let plane = x + chunk.example(r) * exampleSize + c * g.h * g.w
                let out = d + r * p
                for i in 0..<g.oh {
                    let y = i * g.dH + v - g.padH
                    let o = out + i * g.ow
                    if y < 0 || y >= g.h {
                        o.update(repeating: 0, count: g.ow)
                        continue
                    }
                    let line = plane + y * g.w
                    for jj in 0..<g.ow {
                        let xx = jj * g.dW + u - g.padW
                        o[jj] = (xx >= 0 && xx < g.w) ? scale * line[xx] : 0
                    }
                }
            }
            return (item * p)..<((item + 1) * p)
        }
    }

    /// Widens each row of `src` (range r of a [C, H, W] activation) to whole planes [c0, c1),
    /// zero elsewhere; returns the buffer holding whole planes (src itself when r is aligned).
    private func wholePlanes(_ chunk: Chunk, range r: Range<Int>, shape: [Int],
                             src: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        let (c0, c1) = DeltaStep.planes(r, shape: shape)
        let hw = shape[shape.count - 2] * shape[shape.count - 1]
        if r.lowerBound == c0 * hw && r.upperBound == c1 * hw { return src }
        let wide = (c1 - c0) * hw, offset = r.lowerBound - c0 * hw, w = r.count
        for row in 0..<chunk.rows {
            let o = extendedBuffer + row * wide
            o.update(repeating: 0, count: wide)
            (o + offset).update(from: src + row * w, count: w)
        }
        return extendedBuffer
    }

    /// δy = max over the window of ((x_i - y) + δ_i), per output position of the planes in use.
    private func maxPool(_ pool: SpatialMaxPooling, step: DeltaStep, s: Int, chunk: Chunk, range: Range<Int>,
                         src: UnsafeMutablePointer<Float>, dst: UnsafeMutablePointer<Float>, tables: EmpiricalBaseTables) {
        let inShape = step.inputShape, outShape = step.outputShape
        let h = inShape[inShape.count - 2], w = inShape[inShape.count - 1]
        let oh = outShape[outShape.count - 2], ow = outShape[outShape.count - 1]
        let (c0, c1) = DeltaStep.planes(range, shape: inShape)
        let source = wholePlanes(chunk, range: range, shape: inShape, src: src)
        let hw = h * w, op = oh * ow, planes = c1 - c0
        let inF = step.inputCount, outF = step.outputCount
        let xTable = tables.first[s].data, yTable = tables.second[s].data
        let (kH, kW, dH, dW, padH, padW) = (pool.kH, pool.kW, pool.dH, pool.dW, pool.padH, pool.padW)
        for r in 0..<chunk.rows {
            let e = chunk.example(r)
            for c in 0..<planes {
                let x = xTable + e * inF + (c0 + c) * hw, y = yTable + e * outF + (c0 + c) * op
                let d = source + (r * planes + c) * hw, o = dst + (r * planes + c) * op
                for i in 0..<oh {
                    let y0 = Swift.max(i * dH - padH, 0), y1 = Swift.min(i * dH - padH + kH, h)
                    for j in 0..<ow {
                        let x0 = Swift.max(j * dW - padW, 0), x1 = Swift.min(j * dW - padW + kW, w)
                        let base = y[i * ow + j]
                        var m = -Float.infinity
                        for yy in y0..<y1 {
                            for xx in x0..<x1 {
                                let at = yy * w + xx
                                m = Swift.max(m, (x[at] - base) + d[at])
                            }
                        }
                        o[i * ow + j] = m
                    }
                }
            }
        }
    }

    /// δy [rows, out] = δx [rows, k] · W[:, range]ᵀ.
    private func linear(_ lin: Linear, chunk: Chunk, range: Range<Int>, src: UnsafePointer<Float>,
                        dst: UnsafeMutablePointer<Float>) {
        let out = lin.outputSize, inputs = lin.inputSize, k = range.count
        let w = lin.weightParameter.value.data + range.lowerBound
        if k == 1 {
            for r in 0..<chunk.rows {
                let s = src[r], o = dst + r * out
                for j in 0..<out { o[j] = s * w[j * inputs] }
            }
        } else {
            BLAS.gemm(transB: true, m: chunk.rows, n: out, k: k, a: src, lda: k, b: w, ldb: inputs, c: dst, ldc: out)
        }
    }

    /// The last Linear writes the logit changes transposed, [classes, rows], for the loss.
    private func linearToLogits(_ lin: Linear, chunk: Chunk, range: Range<Int>, src: UnsafePointer<Float>) {
        let out = lin.outputSize, inputs = lin.inputSize, k = range.count, rows = chunk.rows
        let w = lin.weightParameter.value.data + range.lowerBound
        if k == 1 {
            for j in 0..<out {
                let wj = w[j * inputs], o = logitsT + j * rows
                for r in 0..<rows { o[r] = src[r] * wj }
            }
        } else {
            BLAS.gemm(transB: true, m: out, n: rows, k: k, a: w, lda: inputs, b: src, ldb: k, c: logitsT, ldc: rows)
        }
    }

    /// δy = W[:, planes in use] * δx (a convolution over the perturbed input planes only).
    private func convolution(_ conv: SpatialConvolution, step: DeltaStep, chunk: Chunk, range: Range<Int>,
                             src: UnsafeMutablePointer<Float>, dst: UnsafeMutablePointer<Float>) {
        let inShape = step.inputShape
        let g = ConvolutionGeometry(conv, height: inShape[inShape.count - 2], width: inShape[inShape.count - 1])
        let (c0, c1) = DeltaStep.planes(range, shape: inShape)
        let planes = c1 - c0, kk = g.kernelArea, rows = chunk.rows, p = g.p
        let source = wholePlanes(chunk, range: range, shape: inShape, src: src)
        g.unfold(source, count: rows, examplePlanes: planes, firstPlane: 0, planes: planes, into: columns)
        BLAS.gemm(m: g.nOut, n: rows * p, k: planes * kk,
                  a: conv.weightParameter.value.data + c0 * kk, lda: g.nIn * kk,
                  b: columns, c: planeMajor)
        for o in 0..<g.nOut {
            for r in 0..<rows {
                (dst + (r * g.nOut + o) * p).update(from: planeMajor + (o * rows + r) * p, count: p)
            }
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
