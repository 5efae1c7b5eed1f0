/// The register-blocked outer-product micro-kernel of `SmallGEMM` and the loop over row blocks.
extension SmallGEMM {
    typealias Vec = SIMD16<Float>
    typealias Vec8 = SIMD8<Float>

    @inline(__always)
    static func load<V: SIMD>(_ p: UnsafePointer<Float>, as _: V.Type = Vec.self) -> V where V.Scalar == Float {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always)
    static func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// For one panel of op(B) (k rows of `width` = 32, 16 or 8 contiguous floats, row stride
    /// `ldb`), all m rows of C: blocks of 8 rows, then 6, 4, 2, 1. `columns` (≤ width) of
    /// each row of C are written.
    static func sweepRows(
        transA: Bool, width: Int, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
        columns: Int, alpha: Float, beta: Float
    ) {
        // Type arguments so that each call below is a separate specialisation.
        switch (transA, width) {
        case (false, 32):
            rowBlocks(GEMMNo.self, Vec.self, GEMMCount2.self, m: m, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      c: c, ldc: ldc, columns: columns, alpha: alpha, beta: beta)
        case (false, 16):
            rowBlocks(GEMMNo.self, Vec.self, GEMMCount1.self, m: m, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      c: c, ldc: ldc, columns: columns, alpha: alpha, beta: beta)
        case (false, _):
            rowBlocks(GEMMNo.self, Vec8.self, GEMMCount1.self, m: m, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      c: c, ldc: ldc, columns: columns, alpha: alpha, beta: beta)
        case (true, 32):
            rowBlocks(GEMMYes.self, Vec.self, GEMMCount2.self, m: m, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      c: c, ldc: ldc, columns: columns, alpha: alpha, beta: beta)
        case (true, 16):
            rowBlocks(GEMMYes.self, Vec.self, GEMMCount1.self, m: m, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      c: c, ldc: ldc, columns: columns, alpha: alpha, beta: beta)
        case (true, _):
            rowBlocks(GEMMYes.self, Vec8.self, GEMMCount1.self, m: m, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      c: c, ldc: ldc, columns: columns, alpha: alpha, beta: beta)
        }
    }

    static func rowBlocks<ATransposed: GEMMFlag, V: SIMD, Vectors: GEMMCount>(
        _: ATransposed.Type, _: V.Type, _: Vectors.Type, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
        columns: Int, alpha: Float, beta: Float
    ) where V.Scalar == Float {
        // Element (i, p) of op(A) is a[i · rowStep + p · kStep].
        let rowStep = ATransposed.value ? 1 : lda
        var i = 0
        while i + 8 <= m {
            microKernel(GEMMCount8.self, V.self, Vectors.self, ATransposed.self, k: k, a: a + i * rowStep,
                        lda: lda, b: b, ldb: ldb, c: c + i * ldc, ldc: ldc, columns: columns,
                        alpha: alpha, beta: beta)
            i += 8
        }
        var left = m - i
        if left >= 6 {
            microKernel(GEMMCount6.self, V.self, Vectors.self, ATransposed.self, k: k, a: a + i * rowStep,
                        lda: lda, b: b, ldb: ldb, c: c + i * ldc, ldc: ldc, columns: columns,
                        alpha: alpha, beta: beta)
            i += 6; left -= 6
        }
        if left >= 4 {
            microKernel(GEMMCount4.self, V.self, Vectors.self, ATransposed.self, k: k, a: a + i * rowStep,
                        lda: lda, b: b, ldb: ldb, c: c + i * ldc, ldc: ldc, columns: columns,
                        alpha: alpha, beta: beta)
            i += 4; left -= 4
        }
        if left >= 2 {
            microKernel(GEMMCount2.self, V.self, Vectors.self, ATransposed.self, k: k, a: a + i * rowStep,
                        lda: lda, b: b, ldb: ldb, c: c + i * ldc, ldc: ldc, columns: columns,
                        alpha: alpha, beta: beta)
            i += 2; left -= 2
        }
        if left >= 1 {
            microKernel(GEMMCount1.self, V.self, Vectors.self, ATransposed.self, k: k, a: a + i * rowStep,
                        lda: lda, b: b, ldb: ldb, c: c + i * ldc, ldc: ldc, columns: columns,
                        alpha: alpha, beta: beta)
        }
    }

    /// C[rows × columns] = alpha · Σ_p op(A)[i, p] · P[p, j] + beta · C for one block:
    /// `Rows.value` (≤ 8) rows of op(A) starting at `a` (element (i, p) at a[i·lda + p], or at
    /// a[p·lda + i] when `ATransposed`), panel P of k rows × `Vectors.value` vectors V of 16
    /// or 8 floats (row stride `ldb`). Accumulators c<row><vector> live in registers; each k step loads 1-2
    /// vectors of P and broadcasts one element of op(A) per row. The shape is given by types
    /// so that every variant is specialised with its unused accumulators folded away.
    static func microKernel<Rows: GEMMCount, V: SIMD, Vectors: GEMMCount, ATransposed: GEMMFlag>(
        _: Rows.Type, _: V.Type, _: Vectors.Type, _: ATransposed.Type, k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
        columns: Int, alpha: Float, beta: Float
    ) where V.Scalar == Float {
        let rows = Rows.value, vectors = Vectors.value, lanes = V.scalarCount
        let rowStep = ATransposed.value ? 1 : lda
        let kStep = ATransposed.value ? lda : 1
        var c00 = V(), c01 = V(), c10 = V(), c11 = V()
        var c20 = V(), c21 = V(), c30 = V(), c31 = V()
        var c40 = V(), c41 = V(), c50 = V(), c51 = V()
        var c60 = V(), c61 = V(), c70 = V(), c71 = V()
        var ap = a, bp = b
        for _ in 0..<k {
            let b0: V = load(bp, as: V.self)
            let b1: V = vectors > 1 ? load(bp + lanes, as: V.self) : V()
            if rows > 0 { let x = V(repeating: ap[0]); c00.addProduct(x, b0); if vectors > 1 { c01.addProduct(x, b1) } }
            if rows > 1 { let x = V(repeating: ap[rowStep]); c10.addProduct(x, b0); if vectors > 1 { c11.addProduct(x, b1) } }
            if rows > 2 { let x = V(repeating: ap[2 * rowStep]); c20.addProduct(x, b0); if vectors > 1 { c21.addProduct(x, b1) } }
            if rows > 3 { let x = V(repeating: ap[3 * rowStep]); c30.addProduct(x, b0); if vectors > 1 { c31.addProduct(x, b1) } }
            if rows > 4 { let x = V(repeating: ap[4 * rowStep]); c40.addProduct(x, b0); if vectors > 1 { c41.addProduct(x, b1) } }
            if rows > 5 { let x = V(repeating: ap[5 * rowStep]); c50.addProduct(x, b0); if vectors > 1 { c51.addProduct(x, b1) } }
            if rows > 6 { let x = V(repeating: ap[6 * rowStep]); c60.addProduct(x, b0); if vectors > 1 { c61.addProduct(x, b1) } }
            if rows > 7 { let x = V(repeating: ap[7 * rowStep]); c70.addProduct(x, b0); if vectors > 1 { c71.addProduct(x, b1) } }
            ap += kStep
            bp += ldb
        }
        if rows > 0 { storeRow(c00, c01, vectors: vectors, c, columns, alpha, beta) }
        if rows > 1 { storeRow(c10, c11, vectors: vectors, c + ldc, columns, alpha, beta) }
        if rows > 2 { storeRow(c20, c21, vectors: vectors, c + 2 * ldc, columns, alpha, beta) }
        if rows > 3 { storeRow(c30, c31, vectors: vectors, c + 3 * ldc, columns, alpha, beta) }
        if rows > 4 { storeRow(c40, c41, vectors: vectors, c + 4 * ldc, columns, alpha, beta) }
        if rows > 5 { storeRow(c50, c51, vectors: vectors, c + 5 * ldc, columns, alpha, beta) }
        if rows > 6 { storeRow(c60, c61, vectors: vectors, c + 6 * ldc, columns, alpha, beta) }
        if rows > 7 { storeRow(c70, c71, vectors: vectors, c + 7 * ldc, columns, alpha, beta) }
    }

    /// row[0..<columns] = alpha · (v0 ++ v1) + beta · row (row not read when beta == 0).
    @inline(__always)
    static func storeRow<V: SIMD>(
        _ v0: V, _ v1: V, vectors: Int, _ row: UnsafeMutablePointer<Float>, _ columns: Int,
        _ alpha: Float, _ beta: Float
    ) where V.Scalar == Float {
        let lanes = V.scalarCount
        if columns == lanes * vectors {
            storeScaled(v0, row, alpha, beta)
            if vectors > 1 { storeScaled(v1, row + lanes, alpha, beta) }
            return
        }
        for j in 0..<columns {
            let x = alpha * (j < lanes ? v0[j] : v1[j - lanes])
            row[j] = beta == 0 ? x : x + beta * row[j]
        }
    }

    @inline(__always)
    static func storeScaled<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>, _ alpha: Float, _ beta: Float)
    where V.Scalar == Float {
        var r = v * V(repeating: alpha)
        if beta != 0 { r.addProduct(V(repeating: beta), load(p, as: V.self)) }
        store(r, p)
    }
}

/// Compile-time integers and flags as types: generic kernels specialised on them have their
/// shape constant-folded (unused accumulators and branches disappear).
protocol GEMMCount { static var value: Int { get } }
enum GEMMCount1: GEMMCount { static var value: Int { 1 } }
enum GEMMCount2: GEMMCount { static var value: Int { 2 } }
enum GEMMCount4: GEMMCount { static var value: Int { 4 } }
enum GEMMCount6: GEMMCount { static var value: Int { 6 } }
enum GEMMCount8: GEMMCount { static var value: Int { 8 } }

protocol GEMMFlag { static var value: Bool { get } }
enum GEMMYes: GEMMFlag { static var value: Bool { true } }
enum GEMMNo: GEMMFlag { static var value: Bool { false } }
