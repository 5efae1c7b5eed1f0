/// The dot-product form of `SmallGEMM` for C = alpha · A · Bᵀ + beta · C with long k:
/// rows of A (m×k) and of B (n×k) both run contiguously along k, so
/// C[i, j] = Σ_p A[i, p] · B[j, p] is accumulated as 16-lane partial sums and reduced once.
extension SmallGEMM {
    /// Tiles of 6 rows of A × 4 rows of B (24 vector accumulators; per 16 k: 10 loads and 24
    /// FMAs); without wide vectors 3 × 2. Column tiles of B go outermost so that their k-long
    /// rows stay in L1 while all rows of A stream past; ragged edges use tiles of 4, 2, 1 rows
    /// and 2, 1 columns.
    static func dotProductGEMM(
        m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // Column tiles of 4 (2 without wide vectors: 3 × 2 tiles keep 12 registers of
        // accumulators with 8-lane registers), then the ragged edge in tiles of 2 and 1.
        var j = 0
        func columns<Columns: GEMMCount>(_: Columns.Type) {
            dotRows(Columns.self, m: m, k: k, alpha: alpha, a: a, lda: lda, b: b + j * ldb, ldb: ldb,
                    beta: beta, c: c + j, ldc: ldc)
            j += Columns.value
        }
        if wideVectors { while j + 4 <= n { columns(GEMMCount4.self) } }
        while j + 2 <= n { columns(GEMMCount2.self) }
        if j < n { columns(GEMMCount1.self) }
    }

    static func dotRows<Columns: GEMMCount>(
        _: Columns.Type, m: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        var i = 0
        if !wideVectors {
            while i + 3 <= m {
                dotTile(GEMMCount3.self, Columns.self, k: k, alpha: alpha, a: a + i * lda, lda: lda,
                        b: b, ldb: ldb, beta: beta, c: c + i * ldc, ldc: ldc)
                i += 3
            }
        }
        while i + 6 <= m {
            dotTile(GEMMCount6.self, Columns.self, k: k, alpha: alpha, a: a + i * lda, lda: lda,
                    b: b, ldb: ldb, beta: beta, c: c + i * ldc, ldc: ldc)
            i += 6
        }
        var left = m - i
        if left >= 4 {
            dotTile(GEMMCount4.self, Columns.self, k: k, alpha: alpha, a: a + i * lda, lda: lda,
                    b: b, ldb: ldb, beta: beta, c: c + i * ldc, ldc: ldc)
            i += 4; left -= 4
        }
        if left >= 2 {
            dotTile(GEMMCount2.self, Columns.self, k: k, alpha: alpha, a: a + i * lda, lda: lda,
                    b: b, ldb: ldb, beta: beta, c: c + i * ldc, ldc: ldc)
            i += 2; left -= 2
        }
        if left >= 1 {
            dotTile(GEMMCount1.self, Columns.self, k: k, alpha: alpha, a: a + i * lda, lda: lda,
                    b: b, ldb: ldb, beta: beta, c: c + i * ldc, ldc: ldc)
        }
    }

    /// C[r, q] = alpha · Σ_p a[r·lda + p] · b[q·ldb + p] + beta · C[r, q] for r < rows (≤ 6),
    /// q < columns (≤ 4), rows = `Rows.value`, columns = `Columns.value`; accumulator s<r><q> holds lanes p ≡ lane (mod 16) of the first
    /// k rounded down to 16, the last k mod 16 products are added in scalar.
    /// The tile shape is given by types so that each variant is specialised.
    static func dotTile<Rows: GEMMCount, Columns: GEMMCount>(
        _: Rows.Type, _: Columns.Type, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let rows = Rows.value, columns = Columns.value
        var s00 = Vec(), s01 = Vec(), s02 = Vec(), s03 = Vec()
        var s10 = Vec(), s11 = Vec(), s12 = Vec(), s13 = Vec()
        var s20 = Vec(), s21 = Vec(), s22 = Vec(), s23 = Vec()
        var s30 = Vec(), s31 = Vec(), s32 = Vec(), s33 = Vec()
        var s40 = Vec(), s41 = Vec(), s42 = Vec(), s43 = Vec()
        var s50 = Vec(), s51 = Vec(), s52 = Vec(), s53 = Vec()
        let blockedK = k & ~15
        var p = 0
        while p < blockedK {
            let b0 = load(b + p)
            let b1 = columns > 1 ? load(b + ldb + p) : Vec()
            let b2 = columns > 2 ? load(b + 2 * ldb + p) : Vec()
            let b3 = columns > 3 ? load(b + 3 * ldb + p) : Vec()
            @inline(__always)
            func accumulate(_ x: Vec, _ t0: inout Vec, _ t1: inout Vec, _ t2: inout Vec, _ t3: inout Vec) {
                t0.addProduct(x, b0)
                if columns > 1 { t1.addProduct(x, b1) }
                if columns > 2 { t2.addProduct(x, b2) }
                if columns > 3 { t3.addProduct(x, b3) }
            }
            if rows > 0 { accumulate(load(a + p), &s00, &s01, &s02, &s03) }
            if rows > 1 { accumulate(load(a + lda + p), &s10, &s11, &s12, &s13) }
            if rows > 2 { accumulate(load(a + 2 * lda + p), &s20, &s21, &s22, &s23) }
            if rows > 3 { accumulate(load(a + 3 * lda + p), &s30, &s31, &s32, &s33) }
            if rows > 4 { accumulate(load(a + 4 * lda + p), &s40, &s41, &s42, &s43) }
            if rows > 5 { accumulate(load(a + 5 * lda + p), &s50, &s51, &s52, &s53) }
            p += 16
        }
        @inline(__always)
        func finishRow(_ r: Int, _ t0: Vec, _ t1: Vec, _ t2: Vec, _ t3: Vec) {
            let ar = a + r * lda, cr = c + r * ldc
            finishDot(t0, ar, b, from: blockedK, to: k, alpha, beta, cr)
            if columns > 1 { finishDot(t1, ar, b + ldb, from: blockedK, to: k, alpha, beta, cr + 1) }
            if columns > 2 { finishDot(t2, ar, b + 2 * ldb, from: blockedK, to: k, alpha, beta, cr + 2) }
            if columns > 3 { finishDot(t3, ar, b + 3 * ldb, from: blockedK, to: k, alpha, beta, cr + 3) }
        }
        if rows > 0 { finishRow(0, s00, s01, s02, s03) }
        if rows > 1 { finishRow(1, s10, s11, s12, s13) }
        if rows > 2 { finishRow(2, s20, s21, s22, s23) }
        if rows > 3 { finishRow(3, s30, s31, s32, s33) }
        if rows > 4 { finishRow(4, s40, s41, s42, s43) }
        if rows > 5 { finishRow(5, s50, s51, s52, s53) }
    }

    /// out = alpha · (Σ lanes of s + Σ_{start ≤ p < end} x[p] · y[p]) + beta · out
    /// (out not read when beta == 0).
    @inline(__always)
    static func finishDot(
        _ s: Vec, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, from start: Int, to end: Int,
        _ alpha: Float, _ beta: Float, _ out: UnsafeMutablePointer<Float>
    ) {
        var total = horizontalSum(s)
        var p = start
        while p < end { total += x[p] * y[p]; p += 1 }
        let scaled = alpha * total
        out.pointee = beta == 0 ? scaled : scaled + beta * out.pointee
    }

    /// Σ of the 16 lanes by halving (three vector adds and two scalar steps).
    @inline(__always)
    static func horizontalSum(_ v: Vec) -> Float {
        let h = v.lowHalf + v.highHalf
        let q = h.lowHalf + h.highHalf
        let e = q.lowHalf + q.highHalf
        return e[0] + e[1]
    }
}
