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

    /// An 8×8 transpose by three perfect shuffles: the rows are paired into four 16-float
    /// vectors (rows 2i and 2i + 1), and each round splits two neighbours' 32 floats into
    /// their even and odd entries. An element's position (vector, lane) as 6 bits (s₂ s₁ | s₀
    /// c₂ c₁ c₀) for row s and column c turns one bit to the right per round, so after three
    /// it is (c₂ c₁ | c₀ s₂ s₁ s₀): vector q holds columns 2q and 2q + 1. Each round is four
    /// two-source permutes (vpermt2ps). (The 4×4 transposes within 128-bit halves that this
    /// replaced were recombined by LLVM into ~120 instructions a tile: 1.6x slower on Zen 5.)
    enum Tile8 {
        typealias Vec16 = SIMD16<Float>

        @inline(__always)
        static func load(_ p: UnsafePointer<Float>) -> Vec8 {
            UnsafeRawPointer(p).loadUnaligned(as: Vec8.self)
        }

        @inline(__always)
        static func store(_ v: Vec8, _ p: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec8.self)
        }

        /// out[q · outStride + r] = source[r · stride + q] for r, q < 8.
        @inline(__always)
        static func transpose(_ source: UnsafePointer<Float>, stride: Int,
                              into out: UnsafeMutablePointer<Float>, outStride: Int) {
            @inline(__always) func rows(_ i: Int) -> Vec16 {
                Vec16(lowHalf: load(source + 2 * i * stride), highHalf: load(source + (2 * i + 1) * stride))
            }
            var q0 = rows(0), q1 = rows(1), q2 = rows(2), q3 = rows(3)
            for _ in 0..<3 {
                let c0 = SIMD32(lowHalf: q0, highHalf: q1), c1 = SIMD32(lowHalf: q2, highHalf: q3)
                (q0, q2, q1, q3) = (c0.evenHalf, c0.oddHalf, c1.evenHalf, c1.oddHalf)
            }
            store(q0.lowHalf, out); store(q0.highHalf, out + outStride)
            store(q1.lowHalf, out + 2 * outStride); store(q1.highHalf, out + 3 * outStride)
            store(q2.lowHalf, out + 4 * outStride); store(q2.highHalf, out + 5 * outStride)
            store(q3.lowHalf, out + 6 * outStride); store(q3.highHalf, out + 7 * outStride)
        }
    }
}
