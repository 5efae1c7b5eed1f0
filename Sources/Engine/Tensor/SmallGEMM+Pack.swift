/// Packing of op(B) panels for `SmallGEMM`: Bᵀ through 16×16 in-register transposes, and the
/// ragged last panel zero-padded to a full vector.
extension SmallGEMM {
    /// panel[p · W + j] = source[j · ldb + p] for j < columns, 0 for columns ≤ j < W,
    /// p < k, where W = 16 · vectors and columns ≤ W. (`source` points at B[j0, p0] of a
    /// B stored n×k, so the panel holds k rows of op(B) = Bᵀ.)
    static func packTransposed(
        _ source: UnsafePointer<Float>, ldb: Int, k: Int, columns: Int, vectors: Int,
        into panel: UnsafeMutablePointer<Float>
    ) {
        let width = 16 * vectors
        let blockedK = k & ~15
        for group in 0..<vectors {
            let j0 = 16 * group
            let valid = Swift.max(0, Swift.min(16, columns - j0))
            let src = source + j0 * ldb
            let dst = panel + j0
            var p = 0
            while p < blockedK {
                var t = Tile16()
                t.load(src + p, stride: ldb, rows: valid)
                t.transpose()
                t.store(dst + p * width, stride: width)
                p += 16
            }
            while p < k {
                let row = dst + p * width
                for j in 0..<16 { row[j] = j < valid ? src[j * ldb + p] : 0 }
                p += 1
            }
        }
    }

    /// panel[p · 16 + j] = source[p · ldb + j] for j < columns (< 16), 0 for columns ≤ j < 16.
    static func packPadded(
        _ source: UnsafePointer<Float>, ldb: Int, k: Int, columns: Int,
        into panel: UnsafeMutablePointer<Float>
    ) {
        for p in 0..<k {
            let row = panel + p * 16
            store(Vec(), row)
            let src = source + p * ldb
            for j in 0..<columns { row[j] = src[j] }
        }
    }

    /// 16 vectors of 16 floats held in registers, transposed by four perfect shuffles
    /// (each interleaves rows i and i + 8; the 8-bit index (row, lane) rotates by one bit
    /// per shuffle, so after four the row and lane indices have swapped).
    struct Tile16 {
        var r0 = Vec(), r1 = Vec(), r2 = Vec(), r3 = Vec(), r4 = Vec(), r5 = Vec(), r6 = Vec(), r7 = Vec()
        var r8 = Vec(), r9 = Vec(), r10 = Vec(), r11 = Vec(), r12 = Vec(), r13 = Vec(), r14 = Vec(), r15 = Vec()

        /// Row r = 16 floats at p + r · stride for r < rows, zero for the others.
        @inline(__always)
        mutating func load(_ p: UnsafePointer<Float>, stride: Int, rows: Int) {
            if rows == 16 {
                r0 = SmallGEMM.load(p); r1 = SmallGEMM.load(p + stride)
                r2 = SmallGEMM.load(p + 2 * stride); r3 = SmallGEMM.load(p + 3 * stride)
                r4 = SmallGEMM.load(p + 4 * stride); r5 = SmallGEMM.load(p + 5 * stride)
                r6 = SmallGEMM.load(p + 6 * stride); r7 = SmallGEMM.load(p + 7 * stride)
                r8 = SmallGEMM.load(p + 8 * stride); r9 = SmallGEMM.load(p + 9 * stride)
                r10 = SmallGEMM.load(p + 10 * stride); r11 = SmallGEMM.load(p + 11 * stride)
                r12 = SmallGEMM.load(p + 12 * stride); r13 = SmallGEMM.load(p + 13 * stride)
                r14 = SmallGEMM.load(p + 14 * stride); r15 = SmallGEMM.load(p + 15 * stride)
                return
            }
            @inline(__always) func row(_ r: Int) -> Vec { r < rows ? SmallGEMM.load(p + r * stride) : Vec() }
            r0 = row(0); r1 = row(1); r2 = row(2); r3 = row(3); r4 = row(4); r5 = row(5)
            r6 = row(6); r7 = row(7); r8 = row(8); r9 = row(9); r10 = row(10); r11 = row(11)
            r12 = row(12); r13 = row(13); r14 = row(14); r15 = row(15)
        }

        /// Row r to the 16 floats at p + r · stride.
        @inline(__always)
        func store(_ p: UnsafeMutablePointer<Float>, stride: Int) {
            SmallGEMM.store(r0, p); SmallGEMM.store(r1, p + stride)
            SmallGEMM.store(r2, p + 2 * stride); SmallGEMM.store(r3, p + 3 * stride)
            SmallGEMM.store(r4, p + 4 * stride); SmallGEMM.store(r5, p + 5 * stride)
            SmallGEMM.store(r6, p + 6 * stride); SmallGEMM.store(r7, p + 7 * stride)
            SmallGEMM.store(r8, p + 8 * stride); SmallGEMM.store(r9, p + 9 * stride)
            SmallGEMM.store(r10, p + 10 * stride); SmallGEMM.store(r11, p + 11 * stride)
            SmallGEMM.store(r12, p + 12 * stride); SmallGEMM.store(r13, p + 13 * stride)
            SmallGEMM.store(r14, p + 14 * stride); SmallGEMM.store(r15, p + 15 * stride)
        }

        @inline(__always)
        mutating func transpose() {
            perfectShuffle(); perfectShuffle(); perfectShuffle(); perfectShuffle()
        }

        /// New rows (2i, 2i + 1) = interleave(old row i, old row i + 8).
        @inline(__always)
        mutating func perfectShuffle() {
            let (n0, n1) = Tile16.interleave(r0, r8), (n2, n3) = Tile16.interleave(r1, r9)
            let (n4, n5) = Tile16.interleave(r2, r10), (n6, n7) = Tile16.interleave(r3, r11)
            let (n8, n9) = Tile16.interleave(r4, r12), (n10, n11) = Tile16.interleave(r5, r13)
            let (n12, n13) = Tile16.interleave(r6, r14), (n14, n15) = Tile16.interleave(r7, r15)
            r0 = n0; r1 = n1; r2 = n2; r3 = n3; r4 = n4; r5 = n5; r6 = n6; r7 = n7
            r8 = n8; r9 = n9; r10 = n10; r11 = n11; r12 = n12; r13 = n13; r14 = n14; r15 = n15
        }

        /// (a0 b0 a1 b1 … a7 b7, a8 b8 … a15 b15): one vpermi2ps each in release builds.
        @inline(__always)
        static func interleave(_ a: Vec, _ b: Vec) -> (Vec, Vec) {
            (Vec(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3],
                 a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7]),
             Vec(a[8], b[8], a[9], b[9], a[10], b[10], a[11], b[11],
                 a[12], b[12], a[13], b[13], a[14], b[14], a[15], b[15]))
        }
    }
}
