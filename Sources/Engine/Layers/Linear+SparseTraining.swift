import Kernels

/// The sparse path of nn.Linear (A = W_eff as sparse rows, X the batch [n × inputSize], G the
/// output gradient [n × outputSize]); each product splits its work across the threads so that
/// every output element is computed by one thread in a fixed order (the same bits for any
/// thread count):
///   forward:         Y = X Aᵀ (+ b)                       groups of 8 samples per thread
///   input gradient:  ∂L/∂X = G A = G (Aᵀ)ᵀ                 the same, on Aᵀ's sparse rows
///   weight gradient: ∂L/∂A[r, k] += scale · Σ_s G[s, r] X[s, k] at A's entries only
///                                                         rows of A per thread
/// In training the products read the batches transposed (Xᵀ, Gᵀ: each sample's value of one
/// column side by side), and each is transposed once per pass, by the threads of the product
/// that first needs it (each its own share): Xᵀ in the forward pass serves the weight gradient
/// too, Gᵀ of the input gradient serves it as well.
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

    /// The same product from the batch transposed, xt[k · ldt + s] = x[s, k] (`TransposedBatch`),
    /// the samples split across the threads in groups of 8 (a batch of 100: 48 and 52, where
    /// blocks of 32 would give 64 and 36).
    /// With `transposing`, each thread first transposes the samples it multiplies (one region
    /// for both; its share of xᵀ is read by no other thread).
    func multiplySparse(_ rows: SparseRows, transposed xt: UnsafePointer<Float>, ldt: Int, samples n: Int,
                        into y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?,
                        transposing pending: TransposedBatch.Transposition? = nil) {
        let width = rows.rows
        if let bias { for r in 0..<n { (y + r * width).update(from: bias, count: width) } }
        let groups = (n + 7) / 8
        let accumulate = bias != nil
        let cost = 2 * 8 * rows.nonzeros + (pending.map { 2 * 8 * $0.width } ?? 0)
        Parallel.forChunks(groups, costPerItem: cost) { r in
            let samples = (r.lowerBound * 8)..<Swift.min(r.upperBound * 8, n)
            pending?.run(samples)
            rows.multiplyTransposed(xt: xt, ldt: ldt, samples: samples, c: y, ldc: width, accumulate: accumulate)
        }
    }

    /// y = x Aᵀ (+ b) from xᵀ, transposed (unless it is the batch last transposed) by the
    /// threads as they multiply.
    func multiplySparseTransposing(_ rows: SparseRows, _ x: UnsafePointer<Float>, _ batch: inout TransposedBatch, samples n: Int,
                                   into y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?) {
        let (xt, pending) = batch.prepare(x, width: rows.columns, samples: n)
        multiplySparse(rows, transposed: xt, ldt: batch.ldt, samples: n, into: y, bias: bias, transposing: pending)
    }

    /// ∂L/∂x = g A through Aᵀ's sparse rows (built once per backward pass), from gᵀ.
    func sparseInputGradient(_ rows: SparseRows, _ g: UnsafePointer<Float>, samples n: Int, into gx: UnsafeMutablePointer<Float>) {
        let t = trainingRowsTransposed ?? rows.transposed()
        trainingRowsTransposed = t
        multiplySparseTransposing(t, g, &gradOutputTransposed, samples: n, into: gx, bias: nil)
    }

    /// ∂L/∂W[r, k] += scale · Σ_s g[s, r] x[s, k] at A's entries (the mask's active ones); the
    /// gradient elsewhere is left as it is (0 after zeroGradParameters). xᵀ and gᵀ are the
    /// forward pass's and the input gradient's when they were made from these buffers.
    func sparseWeightGradient(_ rows: SparseRows, _ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, samples n: Int, scale: Float) {
        let xt = inputTransposed.make(x, width: inputSize, samples: n)
        // gᵀ's row r is g's column r: a thread transposes the rows of A it is given, when the
        // input gradient has not made gᵀ already (the lowest layer has none).
        let (gt, pending) = gradOutputTransposed.prepare(g, width: outputSize, samples: n)
        let ldt = inputTransposed.ldt, length = (n + 7) / 8 * 8
        let out = weightParameter.grad.data, inputs = inputSize, outputs = outputSize
        let perRow = Swift.max(1, 2 * length * rows.nonzeros / Swift.max(outputs, 1)) + (pending == nil ? 0 : 2 * n)
        Parallel.forChunks(outputs, costPerItem: perRow) { r in
            pending?.run(columns: r)
            rows.accumulateEntryGradients(gt: gt, xt: xt, ldt: ldt, length: length, rows: r, scale: scale, into: out, ldo: inputs)
        }
    }
}

/// A batch B [n × width] transposed for the sparse products, T[k · ldt + s] = B[s, k], zero
/// for n ≤ s < ldt, with ldt = n rounded up to a block of 32 samples (`SparseRows.block`).
/// Kept with the buffer and sample count it was made from: `make` transposes only when asked
/// for another batch. (A layer's input and output gradient are not changed between its
/// forward and backward passes, as in Torch; the layer forgets both at every forward pass.)
struct TransposedBatch {
    private var storage = Tensor()
    private var source: (UnsafePointer<Float>, width: Int, samples: Int)?
    private(set) var ldt = 0
    /// The layout (width, ldt) of the storage's last transpose and the s from which every
    /// column of it is 0 up to ldt: the next transpose in that layout zeroes only what lies
    /// between its own n and that s (nothing when n ≥ s, as batch after batch of one size).
    private var padded: (width: Int, ldt: Int, from: Int)?

    mutating func forget() { source = nil }

    /// Bᵀ of `b` [n × width], transposed now unless it was the last one made.
    mutating func make(_ b: UnsafePointer<Float>, width: Int, samples n: Int) -> UnsafePointer<Float> {
        let (t, pending) = prepare(b, width: width, samples: n)
        if let pending {
            Parallel.forChunks(width, costPerItem: 2 * n) { r in pending.run(columns: r) }
        }
        return t
    }

    /// Bᵀ's storage laid out for `b` [n × width] (ldt set), and the transposition that fills it,
    /// to be run over all the samples (or all the columns) before Bᵀ is read; nil when b is
    /// the batch last made. The batch counts as made from here on.
    mutating func prepare(_ b: UnsafePointer<Float>, width: Int, samples n: Int) -> (UnsafePointer<Float>, Transposition?) {
        let stride = (n + SparseRows.block - 1) / SparseRows.block * SparseRows.block
        if let s = source, s.0 == b, s.width == width, s.samples == n { return (UnsafePointer(storage.data), nil) }
        ldt = stride
        let before = storage.data
        _ = storage.resize([width * stride])
        let t = storage.data
        var padEnd = stride
        if let p = padded, p.width == width, p.ldt == stride, t == before { padEnd = Swift.max(n, p.from) }
        source = (b, width, n)
        padded = (width, stride, n)
        return (UnsafePointer(t), Transposition(source: b, width: width, samples: n, into: t, ldt: stride, padEnd: padEnd))
    }

    /// T[k · ldt + s] = B[s, k] for s < n, and T = 0 for n ≤ s < padEnd (the padding not
    /// known to be 0 already), in parts that touch disjoint entries of T.
    struct Transposition {
        let source: UnsafePointer<Float>, width: Int, samples: Int
        let into: UnsafeMutablePointer<Float>, ldt: Int, padEnd: Int

        /// The columns r of T, every sample and the padding.
        func run(columns r: Range<Int>) {
            SparseRows.transpose(source, lds: width, samples: samples, columns: r, into: into, ldt: ldt, zeroingUpTo: padEnd)
        }

        /// The samples r (from a multiple of 8) of every column; the padding with the last ones.
        func run(_ r: Range<Int>) {
            let s0 = r.lowerBound
            SparseRows.transpose(source + s0 * width, lds: width, samples: r.count, columns: 0..<width, into: into + s0, ldt: ldt,
                                 zeroingUpTo: r.upperBound == samples ? padEnd - s0 : r.count)
        }
    }
}
