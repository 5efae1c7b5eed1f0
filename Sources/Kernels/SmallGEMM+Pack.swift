/// Packing of op(B) panels for `SmallGEMM`: Bᵀ through 8×8 in-register transposes, and the
/// ragged last panel zero-padded to a full vector.
extension SmallGEMM {
    /// panel[p · width + j] = source[j · ldb + p] for j < columns, 0 for columns ≤ j < width,
    /// p < k, where width is 8, 16 or 32 and columns ≤ width. (`source` points at B[j0, p0] of a
    /// B stored n×k, so the panel holds k rows of op(B) = Bᵀ.)
    static func packTransposed(
        _ source: UnsafePointer<Float>, ldb: Int, k: Int, columns: Int, width: Int,
        into panel: UnsafeMutablePointer<Float>
    ) {
        for group in 0..<(width / 8) {
            let j0 = 8 * group
            let valid = Swift.max(0, Swift.min(8, columns - j0))
            let src = source + j0 * ldb
            let dst = panel + j0
            var p = 0
            if valid == 8 {
                while p + 8 <= k {
                    Tile8.transpose(src + p, stride: ldb, into: dst + p * width, outStride: width)
                    p += 8
                }
            }
            while p < k {   // ragged rows or columns: element by element, zero beyond `valid`
                let row = dst + p * width
                for j in 0..<8 { row[j] = j < valid ? src[j * ldb + p] : 0 }
                p += 1
            }
        }
    }

    /// panel[p · 8 + j] = source[p · ldb + j] for j < columns (< 8), 0 for columns ≤ j < 8.
    static func packPadded(
        _ source: UnsafePointer<Float>, ldb: Int, k: Int, columns: Int,
        into panel: UnsafeMutablePointer<Float>
    ) {
        for p in 0..<k {
            let row = panel + p * 8
            store(Vec8(), row)
            let src = source + p * ldb
            for j in 0..<columns { row[j] = src[j] }
        }
    }

    /// An 8×8 transpose that loads the rows as 4-float halves, so that rows r and r + 4 share
    /// a register (r in the low half, r + 4 in the high half); a 4×4 transpose within each
    /// 128-bit half (unpcklps/unpckhps, then shufps: 16 shuffles) then yields whole columns.
    /// (Written as a full 8×8 register transpose, LLVM recombines the shuffles into a slow
    /// sequence; a 16×16 transpose in 512-bit registers needs lane-crossing shuffles that are
    /// slow on Zen 4.)
    enum Tile8 {
        typealias Vec4 = SIMD4<Float>

        @inline(__always)
        static func load4(_ p: UnsafePointer<Float>) -> Vec4 {
            UnsafeRawPointer(p).loadUnaligned(as: Vec4.self)
        }

        @inline(__always)
        static func store(_ v: Vec8, _ p: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec8.self)
        }

        /// out[q · outStride + r] = source[r · stride + q] for r, q < 8.
        @inline(__always)
        static func transpose(_ source: UnsafePointer<Float>, stride: Int,
                              into out: UnsafeMutablePointer<Float>, outStride: Int) {
            for half in 0..<2 {
                let p = source + 4 * half
                // x_i = (row i, row i + 4) restricted to columns 4·half ..< 4·half + 4.
                @inline(__always) func pair(_ i: Int) -> Vec8 {
                    Vec8(lowHalf: load4(p + i * stride), highHalf: load4(p + (i + 4) * stride))
                }
                let x0 = pair(0), x1 = pair(1), x2 = pair(2), x3 = pair(3)
                let t0 = unpackLow(x0, x1), t1 = unpackHigh(x0, x1)
                let t2 = unpackLow(x2, x3), t3 = unpackHigh(x2, x3)
                let o = out + 4 * half * outStride
                store(pairLow(t0, t2), o)
                store(pairHigh(t0, t2), o + outStride)
                store(pairLow(t1, t3), o + 2 * outStride)
                store(pairHigh(t1, t3), o + 3 * outStride)
            }
        }

        /// (a0 b0 a1 b1, a4 b4 a5 b5)
        @inline(__always)
        static func unpackLow(_ a: Vec8, _ b: Vec8) -> Vec8 { Vec8(a[0], b[0], a[1], b[1], a[4], b[4], a[5], b[5]) }

        /// (a2 b2 a3 b3, a6 b6 a7 b7)
        @inline(__always)
        static func unpackHigh(_ a: Vec8, _ b: Vec8) -> Vec8 { Vec8(a[2], b[2], a[3], b[3], a[6], b[6], a[7], b[7]) }

        /// (a0 a1 b0 b1, a4 a5 b4 b5)
        @inline(__always)
        static func pairLow(_ a: Vec8, _ b: Vec8) -> Vec8 { Vec8(a[0], a[1], b[0], b[1], a[4], a[5], b[4], b[5]) }

        /// (a2 a3 b2 b3, a6 a7 b6 b7)
        @inline(__always)
        static func pairHigh(_ a: Vec8, _ b: Vec8) -> Vec8 { Vec8(a[2], a[3], b[2], b[3], a[6], a[7], b[6], b[7]) }
    }
}
