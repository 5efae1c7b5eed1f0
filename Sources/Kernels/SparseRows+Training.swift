/// The products of training with sparse rows. A is the effective weight W ⊙ M [rows × columns]
/// of a linear layer, stored at the positions of its mask (`init(dense:pattern:...)`: the
/// entries where M ≠ 0, zeros included, so that an active weight that happens to be 0 still
/// gets its gradient). With the batch X [n × columns] and the output gradient G [n × rows]:
/// - forward, Y = X Aᵀ: `multiplyTransposed`;
/// - input gradient, ∂L/∂X = G A = G (Aᵀ)ᵀ: `transposed()` gives Aᵀ as sparse rows, then its
///   `multiplyTransposed` (each ∂L/∂X[s, j] sums its column's entries in row order);
/// - weight gradient at the stored entries only, ∂L/∂A[r, k] += scale · Σ_s G[s, r] X[s, k]:
///   `accumulateEntryGradients` on the transposed operands (`transpose`).
extension SparseRows {
    /// The row offsets of the entries of a pattern (a 0/1 mask [rows × columns], row-major)
    /// that are not ±0: rows + 1 increasing numbers from 0 (the last is the entry count).
    /// Counted on the bit patterns without the sign, which vectorises.
    public static func patternRowStart(_ m: UnsafePointer<Float>, rows: Int, columns: Int) -> [Int32] {
        let bits = UnsafeRawPointer(m).assumingMemoryBound(to: UInt32.self)
        var start = [Int32](repeating: 0, count: rows + 1)
        var total = 0
        for r in 0..<rows {
            let row = bits + r * columns
            // (b & 0x7fffffff) + 0x7fffffff has its top bit set exactly when b is not ±0:
            // integer lanes, 8 at a time.
            var lanes = SIMD8<UInt32>()
            var k = 0
            while k + 8 <= columns {
                let v = UnsafeRawPointer(row + k).loadUnaligned(as: SIMD8<UInt32>.self)
                lanes &+= ((v & 0x7fff_ffff) &+ 0x7fff_ffff) &>> 31
                k += 8
            }
            var n = Int(lanes.wrappedSum())
            for j in k..<columns { n &+= row[j] & 0x7fff_ffff != 0 ? 1 : 0 }
            total += n
            start[r + 1] = Int32(total)
        }
        return start
    }

    /// The entries of the row-major A [rows × columns] where `pattern` (a 0/1 mask of the same
    /// shape) is not ±0, in column order, whatever their value; `rowStart` from
    /// `patternRowStart` when the caller counted already.
    public init(dense a: UnsafePointer<Float>, pattern m: UnsafePointer<Float>, rows: Int, columns: Int, rowStart: [Int32]? = nil) {
        let start = rowStart ?? Self.patternRowStart(m, rows: rows, columns: columns)
        let total = Int(start[rows])
        let bits = UnsafeRawPointer(m).assumingMemoryBound(to: UInt32.self)
        var index = [Int32](repeating: 0, count: total), value = [Float](repeating: 0, count: total)
        index.withUnsafeMutableBufferPointer { ix in
            value.withUnsafeMutableBufferPointer { vx in
                var p = 0
                for r in 0..<rows {
                    let row = a + r * columns, rowBits = bits + r * columns
                    // 8 entries at a time: a sparse pattern's all-zero groups (most of them)
                    // cost one vector test; the others are written entry by entry.
                    var k = 0
                    while k + 8 <= columns {
                        let q = UnsafeRawPointer(rowBits + k)
                        let any = (q.loadUnaligned(as: UInt64.self) | q.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                                   | q.loadUnaligned(fromByteOffset: 16, as: UInt64.self) | q.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
                            & 0x7fff_ffff_7fff_ffff
                        if any != 0 {
                            for j in k..<(k + 8) where rowBits[j] & 0x7fff_ffff != 0 {
                                ix[p] = Int32(truncatingIfNeeded: j)
                                vx[p] = row[j]
                                p += 1
                            }
                        }
                        k += 8
                    }
                    for j in k..<columns where rowBits[j] & 0x7fff_ffff != 0 {
                        ix[p] = Int32(truncatingIfNeeded: j)
                        vx[p] = row[j]
                        p += 1
                    }
                }
            }
        }
        self.init(rows: rows, columns: columns, rowStart: start, columnIndex: index, values: value)
    }

    /// The entries of the row-major A [rows × columns] at a given layout (row offsets
    /// `rowStart`, rows + 1 of them, and each row's increasing column indices), whatever their
    /// value: a gather of the layout's entries.
    public init(dense a: UnsafePointer<Float>, rows: Int, columns: Int, rowStart: [Int32], columnIndex: [Int32]) {
        precondition(rowStart.count == rows + 1 && Int(rowStart[rows]) == columnIndex.count, "a layout of \(rowStart.count - 1) rows and \(columnIndex.count) entries for \(rows) rows")
        let value = [Float](unsafeUninitializedCapacity: columnIndex.count) { v, count in
            columnIndex.withUnsafeBufferPointer { index in
                for r in 0..<rows {
                    let row = a + r * columns
                    for e in Int(rowStart[r])..<Int(rowStart[r + 1]) { v[e] = row[Int(index[e])] }
                }
            }
            count = columnIndex.count
        }
        self.init(rows: rows, columns: columns, rowStart: rowStart, columnIndex: columnIndex, values: value)
    }

    /// Aᵀ [columns × rows] as sparse rows, the same entries (a counting sort by column: row j
    /// of Aᵀ lists the entries of A's column j in increasing row order).
    public func transposed() -> SparseRows {
        var start = [Int32](repeating: 0, count: columns + 1)
        for k in columnIndex { start[Int(k) + 1] &+= 1 }
        for j in 0..<columns { start[j + 1] &+= start[j] }
        var next = start
        var index = [Int32](repeating: 0, count: nonzeros), value = [Float](repeating: 0, count: nonzeros)
        for r in 0..<rows {
            for k in Int(rowStart[r])..<Int(rowStart[r + 1]) {
                let j = Int(columnIndex[k]), p = Int(next[j])
                index[p] = Int32(truncatingIfNeeded: r)
                value[p] = values[k]
                next[j] = Int32(p + 1)
            }
        }
        return SparseRows(rows: columns, columns: rows, rowStart: start, columnIndex: index, values: value)
    }

    /// T[j·ldt + s] = S[s·lds + j] for the first n rows of S (s < n) and its columns j in
    /// `columns`, and T[j·ldt + s] = 0 for n ≤ s < `padEnd` (default ldt: the padding the 8-lane
    /// dot products read; a caller that knows T is 0 from padEnd on passes less, and may then
    /// find zeros written up to n rounded up to 8, where they were already). 8 × 8 tiles through
    /// registers (`SmallGEMM.Tile8`), the last < 8 samples as a tile padded with zero rows when
    /// ldt has room for it; the other ragged edges element by element.
    public static func transpose(_ src: UnsafePointer<Float>, lds: Int, samples n: Int, columns columnRange: Range<Int>,
                                 into dst: UnsafeMutablePointer<Float>, ldt: Int, zeroingUpTo padEnd: Int? = nil) {
        let padEnd = padEnd ?? ldt
        let whole = n / 8 * 8
        // The last samples, fewer than 8, go through one tile of their rows and zero rows: the
        // rows past them stay 0 from column block to column block, the others are overwritten.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) { t in
        let tile = t.baseAddress!
        tile.initialize(repeating: 0, count: 64)
        var j0 = columnRange.lowerBound
        while j0 < columnRange.upperBound {
            let j1 = Swift.min(j0 + 8, columnRange.upperBound)
            var s0 = 0, zeroFrom = n
            if j1 - j0 == 8 {
                while s0 < whole {
                    SmallGEMM.Tile8.transpose(src + s0 * lds + j0, stride: lds, into: dst + j0 * ldt + s0, outStride: ldt)
                    s0 += 8
                }
                if s0 < n && s0 + 8 <= ldt {
                    // Its zeros are the first of the padding (T has room for them: ldt ≥ s0 + 8).
                    for s in s0..<n { (tile + (s - s0) * 8).update(from: src + s * lds + j0, count: 8) }
                    SmallGEMM.Tile8.transpose(tile, stride: 8, into: dst + j0 * ldt + s0, outStride: ldt)
                    zeroFrom = s0 + 8
                    s0 = n
                }
            }
            for s in s0..<n {
                let row = src + s * lds
                for j in j0..<j1 { dst[j * ldt + s] = row[j] }
            }
            for j in j0..<j1 where zeroFrom < padEnd { (dst + j * ldt + zeroFrom).update(repeating: 0, count: padEnd - zeroFrom) }
            j0 = j1
        }
        }
    }

    /// out[r·ldo + k] += scale · Σ_s GT[r·ldt + s] · XT[k·ldt + s] for every stored entry (r, k)
    /// of the rows `rowRange`, s < `length` (the samples rounded up to 8, ≤ ldt; all of ldt by
    /// default): the weight gradient Σ_s G[s, r] X[s, k] at A's entries, from the transposed
    /// operands GT [rows × ldt] and XT [columns × ldt] (`transpose`, zero padded; ldt and length
    /// multiples of 8). Each entry is a dot product of two contiguous vectors in two 8-lane
    /// accumulators (16 samples a step, then 8), summed lane by lane: the same order for any
    /// split of the rows. A row's dot products are all taken before any is added to `out`, so
    /// that the scattered reads of out (a sparse row's entries lie in different cache lines of
    /// a dense gradient) follow one another and overlap, instead of each waiting between two
    /// dot products. Entries outside A are not touched.
    public func accumulateEntryGradients(gt: UnsafePointer<Float>, xt: UnsafePointer<Float>, ldt: Int, length: Int? = nil, rows rowRange: Range<Int>,
                                         scale: Float, into out: UnsafeMutablePointer<Float>, ldo: Int) {
        let length = length ?? ldt
        precondition(ldt % 8 == 0 && length % 8 == 0 && length <= ldt, "the transposed operands' stride and length must be multiples of 8")
        rowStart.withUnsafeBufferPointer { start in
        columnIndex.withUnsafeBufferPointer { index in
            let widest = rowRange.reduce(1) { Swift.max($0, Int(start[$1 + 1] - start[$1])) }
            withUnsafeTemporaryAllocation(of: Float.self, capacity: widest) { dots in
                let pairs = length / 16, odd = length % 16 != 0
                for r in rowRange {
                    let graw = UnsafeRawPointer(gt + r * ldt), orow = out + r * ldo
                    let first = Int(start[r]), end = Int(start[r + 1])
                    @inline(__always) func operand(_ k: Int) -> UnsafeRawPointer { UnsafeRawPointer(xt + Int(index[k]) * ldt) }
                    @inline(__always) func product(_ x: UnsafeRawPointer, _ o: Int, _ g: SIMD8<Float>) -> SIMD8<Float> {
                        g * x.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                    }
                    // Four entries at a time share the loads of G's row (and their dot
                    // products run side by side); each entry's sums are those of one alone.
                    var k = first
                    while k + 4 <= end {
                        let x0 = operand(k), x1 = operand(k + 1), x2 = operand(k + 2), x3 = operand(k + 3)
                        var a0 = SIMD8<Float>(), b0 = SIMD8<Float>(), a1 = SIMD8<Float>(), b1 = SIMD8<Float>()
                        var a2 = SIMD8<Float>(), b2 = SIMD8<Float>(), a3 = SIMD8<Float>(), b3 = SIMD8<Float>()
                        for p in 0..<pairs {
                            let o = p * 64
                            let g0 = graw.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                            let g1 = graw.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self)
                            a0 += product(x0, o, g0); b0 += product(x0, o + 32, g1)
                            a1 += product(x1, o, g0); b1 += product(x1, o + 32, g1)
                            a2 += product(x2, o, g0); b2 += product(x2, o + 32, g1)
                            a3 += product(x3, o, g0); b3 += product(x3, o + 32, g1)
                        }
                        if odd {
                            let o = pairs * 64
                            let g0 = graw.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                            a0 += product(x0, o, g0); a1 += product(x1, o, g0)
                            a2 += product(x2, o, g0); a3 += product(x3, o, g0)
                        }
                        dots[k - first] = (a0 + b0).sum()
                        dots[k + 1 - first] = (a1 + b1).sum()
                        dots[k + 2 - first] = (a2 + b2).sum()
                        dots[k + 3 - first] = (a3 + b3).sum()
                        k += 4
                    }
                    /// One entry's dot product, the same sums as a lane of the four above.
                    @inline(__always) func dot(_ x0: UnsafeRawPointer) -> Float {
                        var a0 = SIMD8<Float>(), b0 = SIMD8<Float>()
                        for p in 0..<pairs {
                            let o = p * 64
                            a0 += product(x0, o, graw.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
                            b0 += product(x0, o + 32, graw.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self))
                        }
                        if odd { a0 += product(x0, pairs * 64, graw.loadUnaligned(fromByteOffset: pairs * 64, as: SIMD8<Float>.self)) }
                        return (a0 + b0).sum()
                    }
                    for e in k..<end { dots[e - first] = dot(operand(e)) }
                    for k in first..<end { orow[Int(index[k])] += scale * dots[k - first] }
                }
            }
        }}
    }
}
