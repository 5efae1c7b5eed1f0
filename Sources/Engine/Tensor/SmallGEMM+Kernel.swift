/// The register-blocked outer-product micro-kernel of `SmallGEMM` and the loop over row blocks.
extension SmallGEMM {
    typealias Vec = SIMD16<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Vec {
        UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
    }

    @inline(__always)
    static func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
    }

    /// For one panel of op(B) (k rows of `16 · vectors` contiguous floats, row stride `ldb`),
    /// all m rows of C: blocks of 8 rows, then 6, 4, 2, 1. `columns` (≤ 16 · vectors) of each
    /// row of C are written.
    static func sweepRows(
        transA: Bool, vectors: Int, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
        columns: Int, alpha: Float, beta: Float
    ) {
        // Type arguments so that each call below is a separate specialisation.
        switch (transA, vectors) {
        case (false, 2):
            rowBlocks(GEMMNo.self, GEMMCount2.self, m: m, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      c: c, ldc: ldc, columns: columns, alpha: alpha, beta: beta)
        case (false, _):
            rowBlocks(GEMMNo.self, GEMMCount1.self, m: m, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      c: c, ldc: ldc, columns: columns, alpha: alpha, beta: beta)
        case (true, 2):
            rowBlocks(GEMMYes.self, GEMMCount2.self, m: m, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      c: c, ldc: ldc, columns: columns, alpha: alpha, beta: beta)
        case (true, _):
            rowBlocks(GEMMYes.self, GEMMCount1.self, m: m, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      c: c, ldc: ldc, columns: columns, alpha: alpha, beta: beta)
        }
    }

    static func rowBlocks<ATransposed: GEMMFlag, Vectors: GEMMCount>(
        _: ATransposed.Type, _: Vectors.Type, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
        columns: Int, alpha: Float, beta: Float
    ) {
        // Element (i, p) of op(A) is a[i · rowStep + p · kStep].
        let rowStep = ATransposed.value ? 1 : lda
        var i = 0
        while i + 8 <= m {
            microKernel(GEMMCount8.self, Vectors.self, ATransposed.self, k: k, a: a + i * rowStep,
                        lda: lda, b: b, ldb: ldb, c: c + i * ldc, ldc: ldc, columns: columns,
                        alpha: alpha, beta: beta)
            i += 8
        }
        var left = m - i
        if left >= 6 {
            microKernel(GEMMCount6.self, Vectors.self, ATransposed.self, k: k, a: a + i * rowStep,
                        lda: lda, b: b, ldb: ldb, c: c + i * ldc, ldc: ldc, columns: columns,
                        alpha: alpha, beta: beta)
            i += 6; left -= 6
        }
        if left >= 4 {
            microKernel(GEMMCount4.self, Vectors.self, ATransposed.self, k: k, a: a + i * rowStep,
                        lda: lda, b: b, ldb: ldb, c: c + i * ldc, ldc: ldc, columns: columns,
                        alpha: alpha, beta: beta)
            i += 4; left -= 4
        }
        if left >= 2 {
            microKernel(GEMMCount2.self, Vectors.self, ATransposed.self, k: k, a: a + i * rowStep,
                        lda: lda, b: b, ldb: ldb, c: c + i * ldc, ldc: ldc, columns: columns,
                        alpha: alpha, beta: beta)
            i += 2; left -= 2
        }
        if left >= 1 {
            microKernel(GEMMCount1.self, Vectors.self, ATransposed.self, k: k, a: a + i * rowStep,
                        lda: lda, b: b, ldb: ldb, c: c + i * ldc, ldc: ldc, columns: columns,
                        alpha: alpha, beta: beta)
        }
    }

    /// C[rows × columns] = alpha · Σ_p op(A)[i, p] · P[p, j] + beta · C for one block:
    /// `Rows.value` (≤ 8) rows of op(A) starting at `a` (element (i, p) at a[i·lda + p], or at
    /// a[p·lda + i] when `ATransposed`), panel P of k rows × 16·`Vectors.value` floats (row
    /// stride `ldb`). Accumulators c<row><vector> live in registers; each k step loads 1-2
    /// vectors of P and broadcasts one element of op(A) per row. The shape is given by types
    /// so that every variant is specialised with its unused accumulators folded away.
    static func microKernel<Rows: GEMMCount, Vectors: GEMMCount, ATransposed: GEMMFlag>(
        _: Rows.Type, _: Vectors.Type, _: ATransposed.Type, k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
        columns: Int, alpha: Float, beta: Float
    ) {
        let rows = Rows.value, vectors = Vectors.value
        let rowStep = ATransposed.value ? 1 : lda
        let kStep = ATransposed.value ? lda : 1
        var c00 = Vec(), c01 = Vec(), c10 = Vec(), c11 = Vec()
        var c20 = Vec(), c21 = Vec(), c30 = Vec(), c31 = Vec()
        var c40 = Vec(), c41 = Vec(), c50 = Vec(), c51 = Vec()
        var c60 = Vec(), c61 = Vec(), c70 = Vec(), c71 = Vec()
        var ap = a, bp = b
        for _ in 0..<k {
            let b0 = load(bp)
            let b1 = vectors > 1 ? load(bp + 16) : Vec()
            if rows > 0 { let x = Vec(repeating: ap[0]); c00.addProduct(x, b0); if vectors > 1 { c01.addProduct(x, b1) } }
            if rows > 1 { let x = Vec(repeating: ap[rowStep]); c10.addProduct(x, b0); if vectors > 1 { c11.addProduct(x, b1) } }
            if rows > 2 { let x = Vec(repeating: ap[2 * rowStep]); c20.addProduct(x, b0); if vectors > 1 { c21.addProduct(x, b1) } }
            if rows > 3 { let x = Vec(repeating: ap[3 * rowStep]); c30.addProduct(x, b0); if vectors > 1 { c31.addProduct(x, b1) } }
            if rows > 4 { let x = Vec(repeating: ap[4 * rowStep]); c40.addProduct(x, b0); if vectors > 1 { c41.addProduct(x, b1) } }
            if rows > 5 { let x = Vec(repeating: ap[5 * rowStep]); c50.addProduct(x, b0); if vectors > 1 { c51.addProduct(x, b1) } }
            if rows > 6 { let x = Vec(repeating: ap[6 * rowStep]); c60.addProduct(x, b0); if vectors > 1 { c61.addProduct(x, b1) } }
            if rows > 7 { let x = Vec(repeating: ap[7 * rowStep]); c70.addProduct(x, b0); if vectors > 1 { c71.addProduct(x, b1) } }
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
    static func storeRow(
        _ v0: Vec, _ v1: Vec, vectors: Int, _ row: UnsafeMutablePointer<Float>, _ columns: Int,
        _ alpha: Float, _ beta: Float
    ) {
        if columns == 16 * vectors {
            storeScaled(v0, row, alpha, beta)
            if vectors > 1 { storeScaled(v1, row + 16, alpha, beta) }
            return
        }
        for j in 0..<columns {
            let x = alpha * (j < 16 ? v0[j] : v1[j - 16])
            row[j] = beta == 0 ? x : x + beta * row[j]
        }
    }

    @inline(__always)
    static func storeScaled(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ alpha: Float, _ beta: Float) {
        var r = v * Vec(repeating: alpha)
        if beta != 0 { r.addProduct(Vec(repeating: beta), load(p)) }
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
