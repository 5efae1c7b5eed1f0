import Kernels

/// A convolution's passes over groups of images unfolded side by side, for small output
/// planes. With G images of P positions each, the columns are [K, G·P] and
///
///   forward:   Y_g [nOut, G·P] = W [nOut, K] · columns_g, then scattered to y[b, o, ·]
///   backward:  ∂L/∂W += scale · ∂L/∂Y_g · columns_gᵀ      (one product of depth G·P)
///              ∂L/∂columns_g = Wᵀ · ∂L/∂Y_g               (then folded back per image)
///
/// the same sums as per image, in one product each instead of G thin ones (n = P): per image,
/// W was packed again for every product and ∂L/∂W read and written for a rank-P update.
extension SpatialConvolution {
    /// Output planes of at most this many positions run in groups.
    static let groupedPositions = 64
    /// A group's columns, G·P, aim at least this wide.
    static let groupColumns = 512

    /// G: the images unfolded side by side per product, 1 (per image) for planes wider than
    /// `groupedPositions`, else enough for `groupColumns` columns, at most a chunk's images,
    /// evened out over the chunk's groups (128 images of 3x3 planes: 3 groups of 43, not
    /// 57 + 57 + 14, whose last product would be thin).
    static func imagesPerGroup(positions p: Int, chunkImages: Int) -> Int {
        guard p <= groupedPositions, p > 0, chunkImages > 1 else { return 1 }
        let widest = Swift.min(chunkImages, (groupColumns + p - 1) / p)
        let groups = (chunkImages + widest - 1) / widest
        return (chunkImages + groups - 1) / groups
    }

    /// The forward pass of images `r` (one thread's chunk), `group` at a time.
    func forwardGroups(_ r: Range<Int>, group: Int, _ im2col: Im2Col, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                       w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, rows sparseRows: SparseRows?, _ ws: Workspace,
                       finished: ImagesFinished) {
        let p = im2col.positions, nOut = nOutputPlane, k = kernelSize
        let inSize = nInputPlane * im2col.h * im2col.w
        let col = ws.columns.data, out = ws.rows.data
        for start in stride(from: r.lowerBound, to: r.upperBound, by: group) {
            let n = Swift.min(group, r.upperBound - start), ld = n * p
            im2col.unfold(x + start * inSize, images: n, imageStride: inSize, into: col)
            if let sr = sparseRows {
                sr.multiply(b: col, ldb: ld, n: ld, c: out, ldc: ld, accumulate: false)
            } else {
                BLAS.gemm(m: nOut, n: ld, k: k, a: w, b: col, c: out)
            }
            // y[start + i, o, j] = Y_g[o, i·P + j] + bias[o]
            for i in 0..<n {
                let yb = y + (start + i) * nOut * p
                for o in 0..<nOut {
                    let src = out + o * ld + i * p, dst = yb + o * p
                    let add = bias?[o] ?? 0
                    for j in 0..<p { dst[j] = src[j] + add }
                }
            }
            finished(start..<(start + n))
        }
    }

    /// The backward pass of images `r`, `group` at a time: ∂L/∂W into `gw` and ∂L/∂b into `gb`
    /// (when given), ∂L/∂x into `gi` (when given).
    func backwardGroups(_ r: Range<Int>, group: Int, _ im2col: Im2Col, x: UnsafePointer<Float>, gy: UnsafePointer<Float>,
                        w: UnsafePointer<Float>, gw: UnsafeMutablePointer<Float>?, gb: UnsafeMutablePointer<Float>?,
                        gi: UnsafeMutablePointer<Float>?, scale: Float, _ ws: Workspace) {
        let p = im2col.positions, nOut = nOutputPlane, k = kernelSize
        let inSize = nInputPlane * im2col.h * im2col.w
        let col = ws.columns.data, gcol = ws.gradColumns.data, gyg = ws.rows.data
        for start in stride(from: r.lowerBound, to: r.upperBound, by: group) {
            let n = Swift.min(group, r.upperBound - start), ld = n * p
            // ∂L/∂Y_g[o, i·P + j] = ∂L/∂y[start + i, o, j]
            for i in 0..<n {
                let gyb = gy + (start + i) * nOut * p
                for o in 0..<nOut { (gyg + o * ld + i * p).update(from: gyb + o * p, count: p) }
                if let gb { Self.addBiasGradient(gyb, nOut, p, scale, gb) }
            }
            if let gw {
                im2col.unfold(x + start * inSize, images: n, imageStride: inSize, into: col)
                BLAS.gemm(transB: true, m: nOut, n: k, k: ld, alpha: scale, a: gyg, b: col, beta: 1, c: gw)
            }
            if let gi {
                BLAS.gemm(transA: true, m: k, n: ld, k: nOut, a: w, b: gyg, c: gcol)
                for i in 0..<n { im2col.fold(gcol + i * p, into: gi + (start + i) * inSize, rowStride: ld) }
            }
        }
    }
}
