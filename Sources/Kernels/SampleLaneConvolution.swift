/// A sparse stride-1 convolution in evaluation with one image per vector lane: for a block of
/// `lanes` images (16 with 512-bit registers, 8 otherwise), the padded input transposed to
/// XT[pos · lanes + s] = xp_s[pos] (pos = (c·hp + y)·wp + x), then for each output (o, i, j)
///
///   Y[o, i, j][s] = bias[o] + Σ_{(c, v, u): W[o, c, v, u] ≠ 0} W[o, c, v, u] · XT[(tap(c, v, u) + i·wp + j) · lanes + s]
///
/// for the oH·oW real outputs only (no padded-width columns computed and thrown away), every
/// load a whole vector of one input position (aligned to it, not straddling as a run of
/// positions does), each 8 positions' vectors transposed into y[s, o, ·]. The taps are the sparse rows'
/// columns renamed to (c·hp + v)·wp + u, as for `PaddedWidthConvolution`'s runs.
///
/// The outputs of a row are taken 8 positions at a time (8 accumulators: enough in flight to
/// hide the multiply-add latency), then 4 positions × 2 chains, 2 × 4, 1 × 8 (the nonzeros
/// dealt to the chains round-robin, the chains added in order at the end): so a row of 10 is
/// 8 + 2, each with 8 accumulators.
public enum SampleLaneConvolution {
    /// Images per block: one per lane of the vectors the CPU has.
    public static var lanes: Int { SmallGEMM.wideVectors ? 16 : 8 }

    /// Floats of XT for one block.
    public static func inputCount(_ s: PaddedWidthConvolution.Shape) -> Int { s.c * s.hp * s.wp * lanes }

    /// Floats of the tile of outputs (8 positions of the block) transposed into y.
    public static var tileCount: Int { 8 * lanes }

    /// y[b, ·] for the `lanes` images b from x (image stride `inSize`): XT in `xt`
    /// (`inputCount`), the outputs through `tile` (`tileCount`); y's images `outSize` apart.
    public static func forward(taps: SparseRows, _ s: PaddedWidthConvolution.Shape, x: UnsafePointer<Float>, inSize: Int,
                               bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, outSize: Int,
                               xt: UnsafeMutablePointer<Float>, tile: UnsafeMutablePointer<Float>) {
        if SmallGEMM.wideVectors {
            forward(SIMD16<Float>.self, taps, s, x, inSize, bias, y, outSize, xt, tile)
        } else {
            forward(SIMD8<Float>.self, taps, s, x, inSize, bias, y, outSize, xt, tile)
        }
    }

    @inline(__always)
    static func forward<V: SIMD>(_: V.Type, _ taps: SparseRows, _ s: PaddedWidthConvolution.Shape, _ x: UnsafePointer<Float>, _ inSize: Int,
                                 _ bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, _ outSize: Int,
                                 _ xt: UnsafeMutablePointer<Float>, _ tile: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        let lanes = V.scalarCount
        transposeIn(x, inSize, s, lanes: lanes, into: xt)
        let positions = s.oh * s.ow
        taps.rowStart.withUnsafeBufferPointer { start in
        taps.columnIndex.withUnsafeBufferPointer { index in
        taps.values.withUnsafeBufferPointer { value in
            let raw = UnsafeRawPointer(xt)
            // Output row by output row, all planes: the input rows it reads (kH of each plane)
            // stay in L1 across the planes, where a plane at a time would read all of XT per plane.
            for i in 0..<s.oh {
                for o in 0..<s.o {
                    let entries = Int(start[o])..<Int(start[o + 1])
                    let b = V(repeating: bias?[o] ?? 0)
                    var j = 0
                    @inline(__always) func run(_ p: Int) {
                        chunk(V.self, p, entries, index, value, raw, at: i * s.wp + j, bias: b, into: UnsafeMutableRawPointer(tile))
                        transposeOut(tile, positions: p, lanes: lanes, into: y + o * positions + i * s.ow + j, outSize: outSize)
                        j += p
                    }
                    while s.ow - j >= 8 { run(8) }
                    if s.ow - j >= 4 { run(4) }
                    if s.ow - j >= 2 { run(2) }
                    if s.ow - j >= 1 { run(1) }
                }
            }
        }}}
    }

    /// P = `p` output positions (8, 4, 2 or 1) at input positions `base` + index[k] + q, q < P:
    /// 8 accumulators, accumulator a = c·P + q holding chain c = a / P of position q.
    @inline(__always)
    static func chunk<V: SIMD>(_: V.Type, _ p: Int, _ entries: Range<Int>, _ index: UnsafeBufferPointer<Int32>, _ value: UnsafeBufferPointer<Float>,
                               _ xt: UnsafeRawPointer, at base: Int, bias: V, into out: UnsafeMutableRawPointer) where V.Scalar == Float {
        let chains = 8 / p, bytes = MemoryLayout<V>.size
        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
        // nonzero k + chain, position q
        @inline(__always) func add(_ acc: inout V, _ k: Int, _ q: Int) {
            acc.addProduct(V(repeating: value[k]), xt.loadUnaligned(fromByteOffset: (base + Int(index[k]) + q) * bytes, as: V.self))
        }
        var k = entries.lowerBound
        while k + chains <= entries.upperBound {
            add(&a0, k + 0 / p, 0 % p); add(&a1, k + 1 / p, 1 % p)
            add(&a2, k + 2 / p, 2 % p); add(&a3, k + 3 / p, 3 % p)
            add(&a4, k + 4 / p, 4 % p); add(&a5, k + 5 / p, 5 % p)
            add(&a6, k + 6 / p, 6 % p); add(&a7, k + 7 / p, 7 % p)
            k += chains
        }
        // the last < chains nonzeros into chain 0
        while k < entries.upperBound {
            add(&a0, k, 0)
            if p > 1 { add(&a1, k, 1) }
            if p > 2 { add(&a2, k, 2); add(&a3, k, 3) }
            if p > 4 { add(&a4, k, 4); add(&a5, k, 5); add(&a6, k, 6); add(&a7, k, 7) }
            k += 1
        }
        @inline(__always) func put(_ q: Int, _ v: V) { out.storeBytes(of: v + bias, toByteOffset: q * bytes, as: V.self) }
        switch p {
        case 8: put(0, a0); put(1, a1); put(2, a2); put(3, a3); put(4, a4); put(5, a5); put(6, a6); put(7, a7)
        case 4: put(0, a0 + a4); put(1, a1 + a5); put(2, a2 + a6); put(3, a3 + a7)
        case 2: put(0, (a0 + a2) + (a4 + a6)); put(1, (a1 + a3) + (a5 + a7))
        default: put(0, ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)))
        }
    }

    /// XT[pos · lanes + s] = image s at padded position pos (0 in the padding): row by row
    /// through `SparseRows.transpose`'s 8 × 8 tiles.
    static func transposeIn(_ x: UnsafePointer<Float>, _ inSize: Int, _ s: PaddedWidthConvolution.Shape, lanes: Int,
                            into xt: UnsafeMutablePointer<Float>) {
        if s.padH == 0 && s.padW == 0 {
            SparseRows.transpose(x, lds: inSize, samples: lanes, columns: 0..<inSize, into: xt, ldt: lanes)
            return
        }
        xt.update(repeating: 0, count: s.c * s.hp * s.wp * lanes)
        for c in 0..<s.c {
            for row in 0..<s.h {
                let from = (c * s.h + row) * s.w, to = (c * s.hp + row + s.padH) * s.wp + s.padW
                // T[j · lanes + s] for the source columns j in from ..< from + w, placed at `to`
                SparseRows.transpose(x, lds: inSize, samples: lanes, columns: from..<(from + s.w),
                                     into: xt + (to - from) * lanes, ldt: lanes)
            }
        }
    }

    /// y[s · outSize + q] = plane[q · lanes + s], q < positions: 8 × 8 register transposes,
    /// the last positions one by one.
    static func transposeOut(_ plane: UnsafePointer<Float>, positions: Int, lanes: Int, into y: UnsafeMutablePointer<Float>, outSize: Int) {
        var q0 = 0
        while q0 + 8 <= positions {
            for s0 in stride(from: 0, to: lanes, by: 8) {
                SmallGEMM.Tile8.transpose(plane + q0 * lanes + s0, stride: lanes, into: y + s0 * outSize + q0, outStride: outSize)
            }
            q0 += 8
        }
        for q in q0..<positions {
            for s in 0..<lanes { y[s * outSize + q] = plane[q * lanes + s] }
        }
    }
}
