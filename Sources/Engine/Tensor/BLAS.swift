import Kernels
import COpenBLAS

/// Thin, shape-checked wrappers over OpenBLAS (row-major).
public enum BLAS {
    /// C[m×n] = alpha · op(A) · op(B) + beta · C, with op(A) of shape m×k and op(B) k×n; with
    /// `rowBias` (beta = 0), + rowBias[i] on row i instead (`SmallGEMM.gemm`).
    /// `lda`, `ldb`, `ldc` default to the packed row strides. Single-threaded: the engine
    /// parallelises across images or rows itself (`Parallel`).
    ///
    /// Routed to the engine's own kernels (`SmallGEMM`) for the shapes where they beat Debian's
    /// OpenBLAS 0.3.21 (all dimensions at least 16, or few rows of C against long n and k as in
    /// the first LeNet layer), and to OpenBLAS otherwise (n < 16, e.g. a 10-class output layer;
    /// tiny m or k; both operands transposed with few rows).
    @inline(__always)
    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil, rowBias: UnsafePointer<Float>? = nil
    ) {
        if m == 0 || n == 0 { return }
        let la = lda ?? (transA ? m : k), lb = ldb ?? (transB ? k : n), lc = ldc ?? n
        if prefersSmallGEMM(transA: transA, transB: transB, m: m, n: n, k: k) {
            SmallGEMM.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: la,
                           b: b, ldb: lb, beta: beta, c: c, ldc: lc, rowBias: rowBias)
        } else {
            var beta = beta
            if let rowBias { SmallGEMM.fillRows(m: m, n: n, rowBias, c: c, ldc: lc); beta = 1 }
            openBLAS(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: la,
                     b: b, ldb: lb, beta: beta, c: c, ldc: lc)
        }
    }

    /// The routing rule of `gemm`, from a sweep of 144 shapes (single thread, both builds of
    /// OpenBLAS's kernels): SmallGEMM is at least 0.89x OpenBLAS there, and 1.05-1.2x on the
    /// LeNet shapes (2-3.8x against the Haswell-pinned kernels on few-row shapes).
    ///
    /// Products with an operand of more than 2¹⁸ floats (1 MiB, beyond L2: the larger
    /// convolutions' and LeNet-5's 2400 → 120 products) go to OpenBLAS, which packs its operands
    /// into cache blocks where SmallGEMM reads A in place: 1.2-1.9x faster there on a Zen 3
    /// (`bench --gemm`), unless SmallGEMM runs 16-lane vectors against OpenBLAS's 8-lane ones.
    @inline(__always)
    static func prefersSmallGEMM(transA: Bool, transB: Bool, m: Int, n: Int, k: Int) -> Bool {
        guard n >= 16, k >= 16, m >= 4 else { return false }
        if (m * k > 1 << 18 || k * n > 1 << 18) && (openBLASUsesAVX512 || !SmallGEMM.wideVectors) { return false }
        if transA && transB && m < 64 { return false }
        return m >= 16 || ((n >= 256 || k >= 256) && !openBLASUsesAVX512)
    }

    /// Whether OpenBLAS picked AVX-512 kernels: then they match SmallGEMM on few-row shapes
    /// (LeNet's first layer); pinned to AVX2 (`OPENBLAS_CORETYPE=Haswell`) they are 2-4x slower.
    static let openBLASUsesAVX512: Bool = {
        let core = coreName.lowercased()
        return ["skylakex", "cooperlake", "sapphirerapids"].contains { core.contains($0) }
    }()

    /// cblas_sgemm itself (row-major), bypassing the routing.
    @inline(__always)
    public static func openBLAS(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Sets the number of OpenBLAS threads (does not affect the engine's own loops).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var threads: Int { Int(openblas_get_num_threads()) }
    /// The kernel family OpenBLAS picked (e.g. "Haswell", "Cooperlake").
    public static var coreName: String { String(cString: openblas_get_corename()) }
}
