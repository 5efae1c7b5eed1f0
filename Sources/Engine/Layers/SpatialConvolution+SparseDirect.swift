import Kernels

/// Evaluation of a pruned stride-1 convolution straight from its (padded) image, without
/// unfolding it. In padded-width rows (`PaddedWidthConvolution`: outputs computed as oH rows of
/// wp entries of which the first oW are real), the inputs that tap (c, v, u) meets form one
/// contiguous run xp[tap(c, v, u) + ·], so with the sparse rows' columns renamed to their tap
/// offsets the image itself is the right-hand side:
///
///   Y_rows[o, j] = Σ_{(c, v, u): W[o, c, v, u] ≠ 0} W[o, c, v, u] · xp[tap(c, v, u) + j],
///   j < L = (oH − 1)·wp + oW,
///
/// then y[o, i, j] = bias[o] + Y_rows[o, i·wp + j] for j < oW. Each nonzero costs L instead of
/// oH·oW multiply-adds (the wp − oW columns of every row are wasted), but the image (a few KB)
/// stays in L1 where the unfolded columns [K, oH·oW] did not, and the unfolding (K·oH·oW
/// writes per image, as much as the whole sparse product at 70% sparsity) is gone.
///
/// That is the path of the images a thread has left over; whole blocks of them run an image
/// per vector lane (`SampleLaneConvolution`: the same taps on the block's transposed input,
/// the real outputs only, every load a whole vector), 1.3-1.9x faster at LeNet-5's sizes.
extension SpatialConvolution {
    /// Whether the sparse rows run directly on the image: stride 1 (a run per tap).
    var runsSparseDirect: Bool { dW == 1 && dH == 1 }

    /// The padded-width shape of this layer for input `g`, and the run length L.
    func sparseDirectShape(_ g: Geometry) -> (shape: PaddedWidthConvolution.Shape, length: Int) {
        let s = paddedShape(g)
        return (s, (g.oh - 1) * s.wp + g.ow)
    }

    /// Floats of a thread's `columns` (a block's transposed input, or the padded image) and
    /// `rows` (a block's tile of outputs, or one output row of `run` floats).
    func sparseDirectWorkspace(_ g: Geometry) -> (columns: Int, rows: Int) {
        let (s, _) = sparseDirectShape(g)
        return (Swift.max(padW == 0 && padH == 0 ? 0 : s.paddedCount, SampleLaneConvolution.inputCount(s) + 16),
                Swift.max(s.run, SampleLaneConvolution.tileCount + 16))
    }

    /// y for the images `r` from the sparse rows `taps` (columns renamed to tap offsets, by
    /// `sparseDirectTaps`): blocks of `SampleLaneConvolution.lanes` images with their transposed
    /// input in `ws.columns` and a tile of outputs in `ws.rows`, the rest one by one with the
    /// padded image in `ws.columns` and one output row at a time in `ws.rows`.
    func forwardSparseDirect(_ r: Range<Int>, _ taps: SparseRows, _ g: Geometry, x: UnsafePointer<Float>,
                             y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, _ ws: Workspace,
                             finished: ImagesFinished) {
        let (s, length) = sparseDirectShape(g)
        let inSize = nInputPlane * g.h * g.w, outSize = nOutputPlane * g.p
        let padded = padW != 0 || padH != 0
        let xp = ws.columns.data, rows = ws.rows.data
        // whole blocks of images with one image per vector lane, the rest one by one
        let lanes = SampleLaneConvolution.lanes
        var first = r.lowerBound
        // XT and the tile on cache lines (64 bytes), so that no vector of them straddles two
        @inline(__always) func aligned(_ p: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
            UnsafeMutablePointer(bitPattern: (Int(bitPattern: p) + 63) & ~63)!
        }
        let xt = aligned(xp), tile = aligned(rows)
        while r.upperBound - first >= lanes {
            SampleLaneConvolution.forward(taps: taps, s, x: x + first * inSize, inSize: inSize, bias: bias,
                                          y: y + first * outSize, outSize: outSize, xt: xt, tile: tile)
            finished(first..<(first + lanes))
            first += lanes
        }
        for b in first..<r.upperBound {
            var image = x + b * inSize
            if padded {
                PaddedWidthConvolution.pad(image, s, into: xp)
                image = UnsafePointer(xp)
            }
            // row by row, each copied out of its padded width while it is in L1
            let yb = y + b * outSize
            for o in 0..<nOutputPlane {
                taps.multiplyRow(o, b: image, ldb: 1, n: length, into: rows)
                PaddedWidthConvolution.copyOutRow(rows, bias?[o] ?? 0, s, into: yb + o * g.p)
            }
            finished(b..<(b + 1))
        }
    }

    /// The sparse rows of W [nOut, nIn·kH·kW] with column (c, v, u) renamed to its offset in
    /// the padded image, (c·hp + v)·wp + u.
    func sparseDirectTaps(_ rows: SparseRows, _ g: Geometry) -> SparseRows {
        let (s, _) = sparseDirectShape(g)
        return rows.withColumnOffsets { s.tap($0) }
    }
}
