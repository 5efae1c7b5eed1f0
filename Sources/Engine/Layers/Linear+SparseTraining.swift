import Kernels

/// The sparse path of nn.Linear (A = W_eff as sparse rows, X the batch [n × inputSize], G the
/// output gradient [n × outputSize]); each product splits its work across the threads so that
/// every output element is computed by one thread in a fixed order (the same bits for any
/// thread count):
///   forward:         Y = X Aᵀ (+ b)                       blocks of 32 samples per thread
///   input gradient:  ∂L/∂X = G A = G (Aᵀ)ᵀ                 the same, on Aᵀ's sparse rows
///   weight gradient: ∂L/∂A[r, k] += scale · Σ_s G[s, r] X[s, k] at A's entries only
///                                                         rows of A per thread
extension Linear {
    /// y[s, ·] = (bias or 0) + Σ_k A[·, k] x[s, k] for s < n (rows of x `rows.columns` wide, of
    /// y `rows.rows` wide).
    func multiplySparse(_ rows: SparseRows, _ x: UnsafePointer<Float>, samples n: Int, into y: UnsafeMutablePointer<Float>,
                        bias: UnsafePointer<Float>?) {
        let width = rows.rows, columns = rows.columns, block = SparseRows.block
        if let bias { for r in 0..<n { (y + r * width).update(from: bias, count: width) } }
        let blocks = (n + block - 1) / block
        let cost = 2 * block * rows.nonzeros
        let chunks = Parallel.chunkCount(blocks, costPerItem: cost)
        let perChunk = block * (columns + 1)
        if n >= 4 { _ = sparseScratch.resize([chunks * perChunk]) }
        let scratchBase = sparseScratch.data, accumulate = bias != nil
        Parallel.forChunksIndexed(blocks, costPerItem: cost) { c, r in
            let scratch = scratchBase + (n >= 4 ? c * perChunk : 0)
            rows.multiplyTransposed(x: x, ldx: columns, samples: (r.lowerBound * block)..<Swift.min(r.upperBound * block, n),
                                    c: y, ldc: width, accumulate: accumulate, scratch: scratch)
        }
    }

    /// ∂L/∂x = g A through Aᵀ's sparse rows (built once per backward pass).
    func sparseInputGradient(_ rows: SparseRows, _ g: UnsafePointer<Float>, samples n: Int, into gx: UnsafeMutablePointer<Float>) {
        let t = trainingRowsTransposed ?? rows.transposed()
        trainingRowsTransposed = t
        multiplySparse(t, g, samples: n, into: gx, bias: nil)
    }

    /// ∂L/∂W[r, k] += scale · Σ_s g[s, r] x[s, k] at A's entries (the mask's active ones); the
    /// gradient elsewhere is left as it is (0 after zeroGradParameters).
    func sparseWeightGradient(_ rows: SparseRows, _ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, samples n: Int, scale: Float) {
        let ldt = (n + 7) / 8 * 8
        _ = gradientScratch.resize([(inputSize + outputSize) * ldt])
        let xt = gradientScratch.data, gt = xt + inputSize * ldt
        let inputs = inputSize, outputs = outputSize
        Parallel.forChunks(inputs, costPerItem: 2 * n) { r in
            SparseRows.transpose(x, lds: inputs, samples: n, columns: r, into: xt, ldt: ldt)
        }
        SparseRows.transpose(g, lds: outputs, samples: n, columns: 0..<outputs, into: gt, ldt: ldt)
        let out = weightParameter.grad.data
        let perRow = Swift.max(1, 2 * ldt * rows.nonzeros / Swift.max(outputs, 1))
        Parallel.forChunks(outputs, costPerItem: perRow) { r in
            rows.accumulateEntryGradients(gt: gt, xt: xt, ldt: ldt, rows: r, scale: scale, into: out, ldo: inputs)
        }
    }
}
