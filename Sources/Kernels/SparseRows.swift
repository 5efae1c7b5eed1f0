/// A matrix A [rows × columns] in compressed sparse rows: row r's nonzero entries are
/// `values[rowStart[r]..<rowStart[r+1]]` at columns `columnIndex[...]` (increasing). Built
/// from a dense row-major matrix, keeping the entries that are not 0 (±0 are dropped: a product
/// with them only adds a zero; NaN is kept).
///
/// Two products, each summing a row's nonzeros in column order (so the result equals the dense
/// product up to float rounding, not bit for bit):
/// - `multiplyTransposed`: C[s, r] (+)= Σ_k A[r, k] · X[s, k] (a linear layer, y = x Aᵀ): per
///   block of 32 samples, X's block is transposed so that each nonzero A[r, k] scales one
///   contiguous 32-vector X[·, k]; fewer than 4 samples, a gather dot product per row (in four
///   partial sums);
/// - `multiply`: C[r, j] (+)= Σ_k A[r, k] · B[k, j] (a convolution on the unfolded input,
///   Y = W · columns): each nonzero scales row k of B into row r of C.
public struct SparseRows {
    public let rows: Int, columns: Int
    public internal(set) var rowStart: [Int32]
    public internal(set) var columnIndex: [Int32]
    public internal(set) var values: [Float]
    public var nonzeros: Int { values.count }

    /// The samples of one block of `multiplyTransposed`.
    public static let block = 32

    /// The arrays as they are (`rowStart` of rows + 1 increasing offsets into the others).
    init(rows: Int, columns: Int, rowStart: [Int32], columnIndex: [Int32], values: [Float]) {
        self.rows = rows
        self.columns = columns
        self.rowStart = rowStart
        self.columnIndex = columnIndex
        self.values = values
    }

    /// Two passes over A: the nonzeros of each row counted, then written into arrays of
    /// exactly that size.
    public init(dense a: UnsafePointer<Float>, rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        var total = 0
        let start = [Int32](unsafeUninitializedCapacity: rows + 1) { buffer, count in
            buffer[0] = 0
            // Counted on the bit patterns without the sign (0 for ±0), which vectorises.
            let bits = UnsafeRawPointer(a).assumingMemoryBound(to: UInt32.self)
            for r in 0..<rows {
                let row = bits + r * columns
                var n = 0
                for k in 0..<columns { n &+= row[k] & 0x7fff_ffff != 0 ? 1 : 0 }
                total += n
                buffer[r + 1] = Int32(total)
            }
            count = rows + 1
        }
        // Written without branches: every entry is written at the next slot, which advances
        // only past a nonzero (one spare slot at the end).
        var index = [Int32](repeating: 0, count: total + 1), value = [Float](repeating: 0, count: total + 1)
        index.withUnsafeMutableBufferPointer { ix in
            value.withUnsafeMutableBufferPointer { vx in
                var p = 0
                let bits = UnsafeRawPointer(a).assumingMemoryBound(to: UInt32.self)
                for r in 0..<rows {
                    let row = a + r * columns, rowBits = bits + r * columns
                    for k in 0..<columns {
                        ix[p] = Int32(truncatingIfNeeded: k)
                        vx[p] = row[k]
                        p &+= rowBits[k] & 0x7fff_ffff != 0 ? 1 : 0
                    }
                }
            }
        }
        index.removeLast()
        value.removeLast()
        rowStart = start
        columnIndex = index
        values = value
    }

    /// The same rows with column k renamed `offset(k)` (increasing in k): `multiply(b: base,
    /// ldb: 1, ...)` then reads "row k of B" at base + offset(k), so B may be any set of runs
    /// inside one buffer (a convolution's taps into its padded image) instead of a matrix.
    public func withColumnOffsets(_ offset: (Int) -> Int) -> SparseRows {
        SparseRows(rows: rows, columns: columns, rowStart: rowStart,
                   columnIndex: columnIndex.map { Int32(truncatingIfNeeded: offset(Int($0))) }, values: values)
    }

    /// C[s, r] = (accumulate ? C[s, r] : 0) + Σ_k A[r, k] · X[s, k] for the samples `samples`
    /// (rows of X, stride `ldx`; rows of C, stride `ldc`). `scratch` holds `block · (columns + 1)` floats.
    public func multiplyTransposed(x: UnsafePointer<Float>, ldx: Int, samples: Range<Int>, c: UnsafeMutablePointer<Float>, ldc: Int,
                                   accumulate: Bool, scratch: UnsafeMutablePointer<Float>) {
        rowStart.withUnsafeBufferPointer { start in
        columnIndex.withUnsafeBufferPointer { index in
        values.withUnsafeBufferPointer { value in
            if samples.count < 4 {
                // A gather dot product per row, its entries dealt to four partial sums (k mod 4)
                // so that the additions do not wait on each other: ((s0 + s1) + (s2 + s3)).
                for s in samples {
                    let xs = x + s * ldx, cs = c + s * ldc
                    for r in 0..<rows {
                        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
                        var k = Int(start[r])
                        let end = Int(start[r + 1])
                        while k + 4 <= end {
                            s0 += value[k] * xs[Int(index[k])]
                            s1 += value[k + 1] * xs[Int(index[k + 1])]
                            s2 += value[k + 2] * xs[Int(index[k + 2])]
                            s3 += value[k + 3] * xs[Int(index[k + 3])]
                            k += 4
                        }
                        while k < end { s0 += value[k] * xs[Int(index[k])]; k += 1 }
                        let sum = (s0 + s1) + (s2 + s3)
                        cs[r] = accumulate ? cs[r] + sum : sum
                    }
                }
                return
            }
            let b = Self.block
            var s0 = samples.lowerBound
            while s0 < samples.upperBound {
                let n = Swift.min(b, samples.upperBound - s0)
                // scratch[k·32 + j] = X[s0 + j, k], zero for j ≥ n.
                Self.transpose(x + s0 * ldx, lds: ldx, samples: n, columns: 0..<columns, into: scratch, ldt: b)
                blockProduct(UnsafeRawPointer(scratch), stride: b, samples: s0..<(s0 + n), start, index, value, c: c, ldc: ldc, accumulate: accumulate)
                s0 += n
            }
        }}}
    }

    /// `multiplyTransposed` from the batch already transposed: XT[k · ldt + s] = X[s, k], ldt
    /// a multiple of 8 with XT readable up to s = `samples`' end rounded up to 8 (zero padded),
    /// and `samples` starting at a multiple of 8 (blocks of 32 from there, the last one partial:
    /// a thread's share of a batch ends anywhere on 8 lanes). The same sums in the same order as
    /// the other form: each lane is one sample's.
    public func multiplyTransposed(xt: UnsafePointer<Float>, ldt: Int, samples: Range<Int>, c: UnsafeMutablePointer<Float>, ldc: Int,
                                   accumulate: Bool) {
        precondition(ldt % 8 == 0 && samples.lowerBound % 8 == 0 && (samples.upperBound + 7) / 8 * 8 <= ldt,
                     "samples from a multiple of 8, within the transposed batch's stride")
        rowStart.withUnsafeBufferPointer { start in
        columnIndex.withUnsafeBufferPointer { index in
        values.withUnsafeBufferPointer { value in
            var s0 = samples.lowerBound
            while s0 < samples.upperBound {
                let n = Swift.min(Self.block, samples.upperBound - s0)
                blockProduct(UnsafeRawPointer(xt + s0), stride: ldt, samples: s0..<(s0 + n), start, index, value, c: c, ldc: ldc, accumulate: accumulate)
                s0 += n
            }
        }}}
    }

    /// C[s, r] (+)= Σ_k A[r, k] · XT[k · stride + s - s0] for the ≤ 32 samples s of one block:
    /// each entry scales the contiguous 32 samples of its column, in four 8-lane accumulators.
    /// The sums of 8 rows at a time go to a small tile (row by row, as they come), which 8 × 8
    /// register transposes (`SmallGEMM.Tile8`) write into C's rows, 8 outputs at a time.
    @inline(__always)
    private func blockProduct(_ raw: UnsafeRawPointer, stride: Int, samples: Range<Int>, _ start: UnsafeBufferPointer<Int32>,
                              _ index: UnsafeBufferPointer<Int32>, _ value: UnsafeBufferPointer<Float>,
                              c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let bytes = stride * 4, s0 = samples.lowerBound, n = samples.count
        // A last, partial block takes only the accumulators its samples reach (one loop each,
        // so the branches are outside the entries' loop); the sums of a lane are the same.
        let lanes = (n + 7) / 8
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 * Self.block + 64) { buffer in
            // tile[q · 32 + j]: row r0 + q, sample s0 + j; then an 8 × 8 piece of it transposed
            let tile = buffer.baseAddress!, piece = tile + 8 * Self.block
            var r0 = 0
            while r0 < rows {
                let group = Swift.min(8, rows - r0)
                for q in 0..<group {
                    let r = r0 + q
                    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                    let entries = Int(start[r])..<Int(start[r + 1])
                    @inline(__always) func column(_ k: Int) -> (SIMD8<Float>, Int) { (SIMD8<Float>(repeating: value[k]), Int(index[k]) * bytes) }
                    switch lanes {
                    case 4:
                        for k in entries {
                            let (v, o) = column(k)
                            a0 += v * raw.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                            a1 += v * raw.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self)
                            a2 += v * raw.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self)
                            a3 += v * raw.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self)
                        }
                    case 3:
                        for k in entries {
                            let (v, o) = column(k)
                            a0 += v * raw.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                            a1 += v * raw.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self)
                            a2 += v * raw.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self)
                        }
                    case 2:
                        for k in entries {
                            let (v, o) = column(k)
                            a0 += v * raw.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                            a1 += v * raw.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self)
                        }
                    default:
                        for k in entries {
                            let (v, o) = column(k)
                            a0 += v * raw.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                        }
                    }
                    let t = UnsafeMutableRawPointer(tile + q * Self.block)
                    t.storeBytes(of: a0, as: SIMD8<Float>.self)
                    t.storeBytes(of: a1, toByteOffset: 32, as: SIMD8<Float>.self)
                    t.storeBytes(of: a2, toByteOffset: 64, as: SIMD8<Float>.self)
                    t.storeBytes(of: a3, toByteOffset: 96, as: SIMD8<Float>.self)
                }
                var j0 = 0
                if group == 8 {
                    while j0 + 8 <= n {
                        let out = c + (s0 + j0) * ldc + r0
                        if accumulate {
                            SmallGEMM.Tile8.transpose(tile + j0, stride: Self.block, into: piece, outStride: 8)
                            for j in 0..<8 {
                                let p = UnsafeMutableRawPointer(out + j * ldc)
                                p.storeBytes(of: p.loadUnaligned(as: SIMD8<Float>.self) + UnsafeRawPointer(piece + 8 * j).loadUnaligned(as: SIMD8<Float>.self),
                                             as: SIMD8<Float>.self)
                            }
                        } else {
                            SmallGEMM.Tile8.transpose(tile + j0, stride: Self.block, into: out, outStride: ldc)
                        }
                        j0 += 8
                    }
                }
                for j in j0..<n {
                    let out = c + (s0 + j) * ldc + r0
                    for q in 0..<group { out[q] = accumulate ? out[q] + tile[q * Self.block + j] : tile[q * Self.block + j] }
                }
                r0 += 8
            }
        }
    }

    /// C[r, j] = (accumulate ? C[r, j] : 0) + Σ_k A[r, k] · B[k, j], j < n (B's rows stride
    /// `ldb`, C's `ldc`). A row's nonzeros are summed in two interleaved chains of fused
    /// multiply-adds (even and odd nonzeros, added at the end): one chain per register waits
    /// out each one's latency, two keep both FMA units busy.
    public func multiply(b: UnsafePointer<Float>, ldb: Int, n: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        rowStart.withUnsafeBufferPointer { start in
        columnIndex.withUnsafeBufferPointer { index in
        values.withUnsafeBufferPointer { value in
            // 32 columns at a time (the 32 columns of B in L1 across all rows of C), each in
            // 2 x four 8-lane accumulators (registers); then the rest of the columns.
            let tiles = n / 32
            for t in 0..<tiles {
                let j0 = t * 32
                for r in 0..<rows {
                    let cr = c + r * ldc
                    let craw = UnsafeMutableRawPointer(cr + j0)
                    var a0 = accumulate ? craw.loadUnaligned(as: SIMD8<Float>.self) : SIMD8<Float>()
                    var a1 = accumulate ? craw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self) : SIMD8<Float>()
                    var a2 = accumulate ? craw.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self) : SIMD8<Float>()
                    var a3 = accumulate ? craw.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self) : SIMD8<Float>()
                    var e0 = SIMD8<Float>(), e1 = SIMD8<Float>(), e2 = SIMD8<Float>(), e3 = SIMD8<Float>()
                    var k = Int(start[r])
                    let end = Int(start[r + 1])
                    while k + 1 < end {
                        let v = SIMD8<Float>(repeating: value[k]), w = SIMD8<Float>(repeating: value[k + 1])
                        let braw = UnsafeRawPointer(b + Int(index[k]) * ldb + j0)
                        let eraw = UnsafeRawPointer(b + Int(index[k + 1]) * ldb + j0)
                        a0.addProduct(v, braw.loadUnaligned(as: SIMD8<Float>.self))
                        e0.addProduct(w, eraw.loadUnaligned(as: SIMD8<Float>.self))
                        a1.addProduct(v, braw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                        e1.addProduct(w, eraw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                        a2.addProduct(v, braw.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
                        e2.addProduct(w, eraw.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
                        a3.addProduct(v, braw.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
                        e3.addProduct(w, eraw.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
                        k += 2
                    }
                    if k < end {
                        let v = SIMD8<Float>(repeating: value[k])
                        let braw = UnsafeRawPointer(b + Int(index[k]) * ldb + j0)
                        a0.addProduct(v, braw.loadUnaligned(as: SIMD8<Float>.self))
                        a1.addProduct(v, braw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                        a2.addProduct(v, braw.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
                        a3.addProduct(v, braw.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
                    }
                    craw.storeBytes(of: a0 + e0, as: SIMD8<Float>.self)
                    craw.storeBytes(of: a1 + e1, toByteOffset: 32, as: SIMD8<Float>.self)
                    craw.storeBytes(of: a2 + e2, toByteOffset: 64, as: SIMD8<Float>.self)
                    craw.storeBytes(of: a3 + e3, toByteOffset: 96, as: SIMD8<Float>.self)
                }
            }
            let rest = tiles * 32
            for r in 0..<rows where rest < n {
                let cr = c + r * ldc
                let rowRange = Int(start[r])..<Int(start[r + 1])
                var j0 = rest
                // 8 and then 4 columns at a time in one register, the last 0-3 one by one
                for width in [8, 4] {
                    while n - j0 >= width {
                        if width == 8 {
                            let craw = UnsafeMutableRawPointer(cr + j0)
                            var a = accumulate ? craw.loadUnaligned(as: SIMD8<Float>.self) : SIMD8<Float>()
                            var e = SIMD8<Float>()
                            var k = rowRange.lowerBound
                            while k + 1 < rowRange.upperBound {
                                let bk = UnsafeRawPointer(b + Int(index[k]) * ldb + j0), bl = UnsafeRawPointer(b + Int(index[k + 1]) * ldb + j0)
                                let v = SIMD8<Float>(repeating: value[k]), w = SIMD8<Float>(repeating: value[k + 1])
                                a.addProduct(v, bk.loadUnaligned(as: SIMD8<Float>.self))
                                e.addProduct(w, bl.loadUnaligned(as: SIMD8<Float>.self))
                                k += 2
                            }
                            if k < rowRange.upperBound {
                                a.addProduct(SIMD8<Float>(repeating: value[k]), UnsafeRawPointer(b + Int(index[k]) * ldb + j0).loadUnaligned(as: SIMD8<Float>.self))
                            }
                            craw.storeBytes(of: a + e, as: SIMD8<Float>.self)
                        } else {
                            let craw = UnsafeMutableRawPointer(cr + j0)
                            var a = accumulate ? craw.loadUnaligned(as: SIMD4<Float>.self) : SIMD4<Float>()
                            for k in rowRange {
                                a.addProduct(SIMD4<Float>(repeating: value[k]), UnsafeRawPointer(b + Int(index[k]) * ldb + j0).loadUnaligned(as: SIMD4<Float>.self))
                            }
                            craw.storeBytes(of: a, as: SIMD4<Float>.self)
                        }
                        j0 += width
                    }
                }
                if j0 < n {
                    if !accumulate { (cr + j0).update(repeating: 0, count: n - j0) }
                    for k in rowRange {
                        let v = value[k], br = b + Int(index[k]) * ldb
                        for j in j0..<n { cr[j] += v * br[j] }
                    }
                }
            }
        }}}
    }
}
