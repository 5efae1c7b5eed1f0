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

    /// For one panel of op(B) (k rows of `width` = 64, 32, 16 or 8 contiguous floats, row
    /// stride `ldb`), all m rows of C: blocks of 8 rows (6 for width 64, and for width 16
    /// without wide vectors), then one block of the remaining rows. `columns` (≤ width) of
    /// each row of C are written.
    static func sweepRows(
        transA: Bool, width: Int, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
        columns: Int, alpha: Float, beta: Float, rowBias: UnsafePointer<Float>? = nil
    ) {
        // Type arguments so that each call below is a separate specialisation.
        @inline(__always)
        func sweep<V: SIMD, Vectors: GEMMCount>(_: V.Type, _: Vectors.Type) where V.Scalar == Float {
            if transA {
                rowBlocks(GEMMYes.self, V.self, Vectors.self, m: m, k: k, a: a, lda: lda, b: b, ldb: ldb,
                          c: c, ldc: ldc, columns: columns, alpha: alpha, beta: beta, rowBias: rowBias)
            } else {
                rowBlocks(GEMMNo.self, V.self, Vectors.self, m: m, k: k, a: a, lda: lda, b: b, ldb: ldb,
                          c: c, ldc: ldc, columns: columns, alpha: alpha, beta: beta, rowBias: rowBias)
            }
        }
        if !wideVectors {   // 8-lane accumulators: panels of 16 (6-row blocks) or 8 columns
            if width == 16 { sweep(Vec8.self, GEMMCount2.self) } else { sweep(Vec8.self, GEMMCount1.self) }
            return
        }
        switch width {
        case 64: sweep(Vec.self, GEMMCount4.self)
        case 32: sweep(Vec.self, GEMMCount2.self)
        case 16: sweep(Vec.self, GEMMCount1.self)
        default: sweep(Vec8.self, GEMMCount1.self)
        }
    }

    static func rowBlocks<ATransposed: GEMMFlag, V: SIMD, Vectors: GEMMCount>(
        _: ATransposed.Type, _: V.Type, _: Vectors.Type, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
        columns: Int, alpha: Float, beta: Float, rowBias: UnsafePointer<Float>?
    ) where V.Scalar == Float {
        // Element (i, p) of op(A) is a[i · rowStep + p · kStep].
        let rowStep = ATransposed.value ? 1 : lda
        @inline(__always)
        func block<Rows: GEMMCount>(_ rows: Rows.Type, at i: Int) {
            microKernel(Rows.self, V.self, Vectors.self, ATransposed.self, k: k, a: a + i * rowStep,
                        lda: lda, b: b, ldb: ldb, c: c + i * ldc, ldc: ldc, columns: columns,
                        alpha: alpha, beta: beta, rowBias: rowBias.map { $0 + i })
        }
        var i = 0
        // 64-column panels, and 16-column ones of 8-lane vectors: blocks of at most 6 rows
        if Vectors.value > 2 || (V.scalarCount == 8 && Vectors.value == 2) {
            while m - i >= 6 { block(GEMMCount6.self, at: i); i += 6 }
        } else {
            // Blocks of 8 rows; the last 9-11 rows become 5 + 4, 5 + 5 or 6 + 5, so that no
            // block is left with too few accumulators to hide the FMA latency.
            while m - i >= 12 || m - i == 8 { block(GEMMCount8.self, at: i); i += 8 }
            switch m - i {
            case 9: block(GEMMCount5.self, at: i); i += 5
            case 10: block(GEMMCount5.self, at: i); i += 5
            case 11: block(GEMMCount6.self, at: i); i += 6
            default: break
            }
        }
        switch m - i {
        case 7: block(GEMMCount7.self, at: i)
        case 6: block(GEMMCount6.self, at: i)
        case 5: block(GEMMCount5.self, at: i)
        case 4: block(GEMMCount4.self, at: i)
        case 3: block(GEMMCount3.self, at: i)
        case 2: block(GEMMCount2.self, at: i)
        case 1: block(GEMMCount1.self, at: i)
        default: break
        }
    }

    /// C[rows × columns] = alpha · Σ_p op(A)[i, p] · P[p, j] + beta · C for one block:
    /// `Rows.value` (≤ 8) rows of op(A) starting at `a` (element (i, p) at a[i·lda + p], or at
    /// a[p·lda + i] when `ATransposed`), panel P of k rows × `Vectors.value` (1, 2 or 4)
    /// vectors V of 16 or 8 floats (row stride `ldb`). Accumulators c<row><vector> live in
    /// registers (at most 6 rows with 4 vectors: 24 accumulators); each k step loads the
    /// vectors of P and broadcasts one element of op(A) per row. The shape is given by types
    /// so that every variant is specialised with its unused accumulators folded away. With
    /// `rowBias` (and beta = 0), row r of the block is alpha · Σ + rowBias[r]: the bits of
    /// filling the row with rowBias[r] and taking beta = 1.
    static func microKernel<Rows: GEMMCount, V: SIMD, Vectors: GEMMCount, ATransposed: GEMMFlag>(
        _: Rows.Type, _: V.Type, _: Vectors.Type, _: ATransposed.Type, k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
        columns: Int, alpha: Float, beta: Float, rowBias: UnsafePointer<Float>?
    ) where V.Scalar == Float {
        let rows = Rows.value, vectors = Vectors.value, lanes = V.scalarCount
        assert(rows <= 6 || vectors <= 2, "SmallGEMM: 7-8 rows take at most 2 vectors")
        let rowStep = ATransposed.value ? 1 : lda
        let kStep = ATransposed.value ? lda : 1
        var c00 = V(), c01 = V(), c02 = V(), c03 = V(), c10 = V(), c11 = V(), c12 = V(), c13 = V()
        var c20 = V(), c21 = V(), c22 = V(), c23 = V(), c30 = V(), c31 = V(), c32 = V(), c33 = V()
        var c40 = V(), c41 = V(), c42 = V(), c43 = V(), c50 = V(), c51 = V(), c52 = V(), c53 = V()
        var c60 = V(), c61 = V(), c70 = V(), c71 = V()
        var ap = a, bp = b
        for _ in 0..<k {
            let b0: V = load(bp, as: V.self)
            let b1: V = vectors > 1 ? load(bp + lanes, as: V.self) : V()
            let b2: V = vectors > 2 ? load(bp + 2 * lanes, as: V.self) : V()
            let b3: V = vectors > 2 ? load(bp + 3 * lanes, as: V.self) : V()
            /// Row r of the block: accumulators += op(A)[r, p] · (b0 b1 b2 b3).
            @inline(__always)
            func update(_ r: Int, _ t0: inout V, _ t1: inout V, _ t2: inout V, _ t3: inout V) {
                let x = V(repeating: ap[r * rowStep])
                t0.addProduct(x, b0)
                if vectors > 1 { t1.addProduct(x, b1) }
                if vectors > 2 { t2.addProduct(x, b2); t3.addProduct(x, b3) }
            }
            if rows > 0 { update(0, &c00, &c01, &c02, &c03) }
            if rows > 1 { update(1, &c10, &c11, &c12, &c13) }
            if rows > 2 { update(2, &c20, &c21, &c22, &c23) }
            if rows > 3 { update(3, &c30, &c31, &c32, &c33) }
            if rows > 4 { update(4, &c40, &c41, &c42, &c43) }
            if rows > 5 { update(5, &c50, &c51, &c52, &c53) }
            if rows > 6 { update(6, &c60, &c61, &c02, &c03) }   // rows 7-8 only with ≤ 2 vectors
            if rows > 7 { update(7, &c70, &c71, &c02, &c03) }
            ap += kStep
            bp += ldb
        }
        @inline(__always)
        func finish(_ r: Int, _ t0: V, _ t1: V, _ t2: V, _ t3: V) {
            storeRow(t0, t1, t2, t3, vectors: vectors, c + r * ldc, columns, alpha, beta, bias: rowBias?[r])
        }
        if rows > 0 { finish(0, c00, c01, c02, c03) }
        if rows > 1 { finish(1, c10, c11, c12, c13) }
        if rows > 2 { finish(2, c20, c21, c22, c23) }
        if rows > 3 { finish(3, c30, c31, c32, c33) }
        if rows > 4 { finish(4, c40, c41, c42, c43) }
        if rows > 5 { finish(5, c50, c51, c52, c53) }
        if rows > 6 { finish(6, c60, c61, c02, c03) }
        if rows > 7 { finish(7, c70, c71, c02, c03) }
    }

    /// row[0..<columns] = alpha · (v0 v1 v2 v3)[0..<columns] + beta · row, using the first
    /// `vectors` (1, 2 or 4) vectors (row not read when beta == 0); with `bias` (beta = 0),
    /// alpha · (v0 v1 v2 v3) + bias, rounded once as the fma of beta = 1 with a row filled with
    /// the bias would round it.
    @inline(__always)
    static func storeRow<V: SIMD>(
        _ v0: V, _ v1: V, _ v2: V, _ v3: V, vectors: Int, _ row: UnsafeMutablePointer<Float>,
        _ columns: Int, _ alpha: Float, _ beta: Float, bias: Float? = nil
    ) where V.Scalar == Float {
        let lanes = V.scalarCount
        if columns == lanes * vectors {
            storeScaled(v0, row, alpha, beta, bias)
            if vectors > 1 { storeScaled(v1, row + lanes, alpha, beta, bias) }
            if vectors > 2 { storeScaled(v2, row + 2 * lanes, alpha, beta, bias); storeScaled(v3, row + 3 * lanes, alpha, beta, bias) }
            return
        }
        for j in 0..<columns {
            let vector = j / lanes, lane = j % lanes
            let x = alpha * (vector == 0 ? v0[lane] : vector == 1 ? v1[lane] : vector == 2 ? v2[lane] : v3[lane])
            if let bias { row[j] = x + bias } else { row[j] = beta == 0 ? x : x + beta * row[j] }
        }
    }

    @inline(__always)
    static func storeScaled<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>, _ alpha: Float, _ beta: Float, _ bias: Float? = nil)
    where V.Scalar == Float {
        var r = v * V(repeating: alpha)
        if let bias { r += V(repeating: bias) } else if beta != 0 { r.addProduct(V(repeating: beta), load(p, as: V.self)) }
        store(r, p)
    }
}

/// Compile-time integers and flags as types: generic kernels specialised on them have their
/// shape constant-folded (unused accumulators and branches disappear).
protocol GEMMCount { static var value: Int { get } }
enum GEMMCount1: GEMMCount { static var value: Int { 1 } }
enum GEMMCount2: GEMMCount { static var value: Int { 2 } }
enum GEMMCount3: GEMMCount { static var value: Int { 3 } }
enum GEMMCount4: GEMMCount { static var value: Int { 4 } }
enum GEMMCount5: GEMMCount { static var value: Int { 5 } }
enum GEMMCount6: GEMMCount { static var value: Int { 6 } }
enum GEMMCount7: GEMMCount { static var value: Int { 7 } }
enum GEMMCount8: GEMMCount { static var value: Int { 8 } }

protocol GEMMFlag { static var value: Bool { get } }
enum GEMMYes: GEMMFlag { static var value: Bool { true } }
enum GEMMNo: GEMMFlag { static var value: Bool { false } }
