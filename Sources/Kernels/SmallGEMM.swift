/// Single-threaded float32 matrix product tuned for the small shapes of LeNet-sized layers
/// (m, n, k from 1 to a few thousand), written with AVX-512-width `SIMD16<Float>` so that a
/// release build (`-Ounchecked -target-cpu native`) runs 16-lane FMAs.
///
/// Computes, exactly as `cblas_sgemm` in row-major order,
///
///     C[m×n] = alpha · op(A) · op(B) + beta · C
///
/// with op(A) = A (m×k, row stride `lda`) or Aᵀ (A stored k×m), and op(B) = B (k×n, row stride
/// `ldb`) or Bᵀ (B stored n×k). When `beta == 0` the old contents of C are never read (so NaN
/// there does not propagate); when `k == 0` or `alpha == 0`, C = beta · C and A, B are not read.
///
/// Blocking scheme (outer-product form, used unless the dot-product form is cheaper):
/// - k is cut into chunks of at most `kChunk` (256); later chunks accumulate into C (beta = 1).
/// - Columns of C are cut into panels of 32 columns (two 16-lane vectors; 64 when C has at
///   most 6 rows), then 16 or 8 (one 8-lane vector) at the ragged end; a panel of op(B) is
///   read as kc rows of contiguous floats. It is used in place when B is not transposed and
///   the panel is full; otherwise it is packed into a per-thread scratch panel: Bᵀ through
///   8×8 in-register transposes, a ragged last panel zero-padded, so the kernel always runs
///   full vectors and only the valid columns of C are stored.
/// - Inside a panel, rows of C go through a register-blocked micro-kernel of 8 rows × 32
///   columns (16 vector accumulators; 6 × 64 = 24 for the wide panels), one broadcast
///   element of op(A) per row and k step (contiguous across rows when A is transposed, so A
///   is never packed); the remaining rows go through one block of 1-7 rows of the same
///   kernel (the last 9-11 rows as two blocks of 4-6).
///
/// Dot-product form (A·Bᵀ with long k or few rows, e.g. Linear forward, the weight gradient
/// of the first convolution): rows of A and of B both run contiguously along k, so a tile of
/// 6 rows of A × 4 rows of B keeps 24 vector partial sums over k, reduced horizontally once
/// at the end. This avoids transposing a large B for few output elements. A cost model
/// (`prefersDotProducts`) chooses between the two forms.
///
/// Speed (Zen 4, one thread, the LeNet-5 shapes): 90-96% of the FMA peak on the larger
/// products. Products with n < 16, m < 4 or k < 8 waste most vector lanes, and Aᵀ·Bᵀ with
/// few rows of C spends most of its time packing Bᵀ: those are slower than OpenBLAS and
/// are better routed to `BLAS.gemm`.
///
/// Thread safety: no shared mutable state; the packing panel is allocated once per thread
/// (thread-local) and reused, so the hot path allocates nothing. Results do not depend on
/// the thread that runs them.
public enum SmallGEMM {
    /// Largest k processed per pass over C (packed panel: kChunk × 32 floats = 32 KiB).
    static let kChunk = 256

    /// C[m×n] = alpha · op(A) · op(B) + beta · C, row-major, same contract as `cblas_sgemm`.
    /// With `rowBias` (beta must be 0), C[i, j] = alpha · (op(A) · op(B))[i, j] + rowBias[i]:
    /// the same bits as filling row i of C with rowBias[i] and taking beta = 1, without that
    /// pass over C (the outer form adds the bias as it stores the first chunk of k; the other
    /// paths fill the rows first).
    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, rowBias: UnsafePointer<Float>? = nil
    ) {
        if m <= 0 || n <= 0 { return }
        precondition(rowBias == nil || beta == 0, "SmallGEMM: a row bias replaces beta · C")
        let dot = !transA && transB && k > 0 && alpha != 0 && prefersDotProducts(m: m, n: n, k: k)
        var beta = beta
        if let rowBias, dot || k <= 0 || alpha == 0 {
            fillRows(m: m, n: n, rowBias, c: c, ldc: ldc)
            beta = 1
        }
        if k <= 0 || alpha == 0 {
            scale(m: m, n: n, beta: beta, c: c, ldc: ldc)
            return
        }
        if dot {
            dotProductGEMM(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                           beta: beta, c: c, ldc: ldc)
            return
        }
        outerProductGEMM(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                         a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, rowBias: rowBias)
    }

    /// Row i of C [m × n] = bias[i].
    public static func fillRows(m: Int, n: Int, _ bias: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m { (c + i * ldc).update(repeating: bias[i], count: n) }
    }

    /// The outer-product form (see the type's documentation); m, n, k ≥ 1.
    static func outerProductGEMM(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, rowBias: UnsafePointer<Float>? = nil
    ) {
        let scratch = GEMMScratch.panel
        var p0 = 0, chunkBeta = beta
        while p0 < k {
            let kc = Swift.min(kChunk, k - p0)
            let aChunk = transA ? a + p0 * lda : a + p0
            var j0 = 0
            while j0 < n {
                let left = n - j0
                let width = panelWidth(columnsLeft: left, packed: transB, rows: m)
                let columns = Swift.min(width, left)
                let panel: UnsafePointer<Float>, panelStride: Int
                if transB {
                    packTransposed(b + j0 * ldb + p0, ldb: ldb, k: kc, columns: columns, width: width,
                                   into: scratch)
                    panel = UnsafePointer(scratch); panelStride = width
                } else if columns < width {
                    packPadded(b + p0 * ldb + j0, ldb: ldb, k: kc, columns: columns, into: scratch)
                    panel = UnsafePointer(scratch); panelStride = width
                } else {
                    panel = b + p0 * ldb + j0; panelStride = ldb
                }
                sweepRows(transA: transA, width: width, m: m, k: kc, a: aChunk, lda: lda,
                          b: panel, ldb: panelStride, c: c + j0, ldc: ldc, columns: columns,
                          alpha: alpha, beta: chunkBeta, rowBias: p0 == 0 ? rowBias : nil)
                j0 += columns
            }
            p0 += kc
            chunkBeta = 1
        }
    }

    /// Width of the next column panel: 64, 32, 16 or 8 columns. Packed panels (Bᵀ) take 32
    /// while more than 24 columns are left, then 16 or 8 zero-padded; panels read in place
    /// take the widest full width (64 only when C has at most 6 rows, so that the kernel
    /// still keeps 24 accumulators), and only the last < 8 columns are packed, zero-padded
    /// to 8. Without wide vectors (`wideVectors`), panels are 16 columns, then 8. Either way a ragged end costs at most one 16-lane or one 8-lane vector per row
    /// and k.
    @inline(__always)
    static func panelWidth(columnsLeft left: Int, packed: Bool, rows: Int) -> Int {
        if !wideVectors { return left > 8 && (packed || left >= 16) ? 16 : 8 }
        if packed { return left > 24 ? 32 : left > 8 ? 16 : 8 }
        if rows <= 6 && left >= 64 { return 64 }
        return left >= 32 ? 32 : left >= 16 ? 16 : 8
    }

    /// C = beta · C (C = 0 when beta == 0, whatever C held).
    static func scale(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 {
                row.update(repeating: 0, count: n)
            } else if beta != 1 {
                for j in 0..<n { row[j] *= beta }
            }
        }
    }

    /// Whether the dot-product form beats packing Bᵀ for C = A·Bᵀ, from a cost model per
    /// element of C in FMA-cycles, fitted to measurements on Zen 4 (and the dot form's cost
    /// refitted for the narrow shapes of `wideVectors` = false on Zen 3, and for
    /// `fullRateWideVectors` on Zen 5):
    /// - dot: k/16 vector FMAs (1.3 FMA-cycles each on Zen 5, where its 10 loads per 24 FMAs
    ///   from L2 bound it: 150-190 GFLOP/s on one core against the outer form's 200-240 from
    ///   32 rows of C up, e.g. LeNet-5's fc1, 2400 → 120, 153 against 227 at 128 rows), the
    ///   k mod 16 scalar products, ~9 to reduce and store;
    /// - outer: k/16 · (padded width / n) vector FMAs, plus packing Bᵀ (~0.45 per element
    ///   of B) shared by the m rows of C.
    /// So the dot form wins for long k, few rows of C or a narrow, ragged n.
    static func prefersDotProducts(m: Int, n: Int, k: Int) -> Bool {
        var padded = 0, left = n
        while left > 0 {
            let width = panelWidth(columnsLeft: left, packed: true, rows: m)
            padded += width
            left -= Swift.min(width, left)
        }
        let vectors = Float(k) / 16
        // Without wide vectors the dot tiles are 3 × 2 (load-bound): measured on Zen 3, twice
        // the outer form's cost per vector of k (LeNet-300-100's and LeNet-5's Linear shapes).
        let dot = vectors * (wideVectors ? (fullRateWideVectors ? 1.3 : 1.04) : 2.1) + 1.1 * Float(k % 16) + 9
        let outer = vectors * 1.05 * Float(padded) / Float(n) + 0.45 * Float(k) / Float(m) + 0.6
        return dot < outer
    }
}
