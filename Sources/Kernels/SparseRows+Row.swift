/// One row of `multiply` at a time, for a product whose right-hand side is small and hot (a
/// convolution's image, a few KB in L1) and whose output row is used at once (copied out of
/// its padded-width layout while it is in L1):
///
///   C[j] = Σ_k A[r, k] · B[k, j], j < n,
///
/// the row's nonzeros summed in column order, dealt to interleaved chains of fused
/// multiply-adds (even and odd nonzeros, or k mod 4 for the narrow rest), added at the end.
/// Tiles of 4 vectors: 16 lanes each where the CPU has 512-bit registers
/// (`SmallGEMM.wideVectors`: 8 accumulators of 16 lanes, twice the work per load of 8-lane
/// ones), 8 lanes otherwise (8 of 16 registers); then one 16-, 8- and 4-lane vector and the
/// last 0-3 columns one by one.
extension SparseRows {
    public func multiplyRow(_ r: Int, b: UnsafePointer<Float>, ldb: Int, n: Int, into c: UnsafeMutablePointer<Float>) {
        rowStart.withUnsafeBufferPointer { start in
        columnIndex.withUnsafeBufferPointer { index in
        values.withUnsafeBufferPointer { value in
            let entries = Int(start[r])..<Int(start[r + 1])
            var j0 = SmallGEMM.wideVectors ? Self.tiles(SIMD16<Float>.self, entries, index, value, b: b, ldb: ldb, n: n, into: c)
                                           : Self.tiles(SIMD8<Float>.self, entries, index, value, b: b, ldb: ldb, n: n, into: c)
            if n - j0 >= 16 {
                Self.vector(SIMD16<Float>.self, entries, index, value, b: b + j0, ldb: ldb, into: c + j0)
                j0 += 16
            }
            if n - j0 >= 8 {
                Self.vector(SIMD8<Float>.self, entries, index, value, b: b + j0, ldb: ldb, into: c + j0)
                j0 += 8
            }
            if n - j0 >= 4 {
                Self.vector(SIMD4<Float>.self, entries, index, value, b: b + j0, ldb: ldb, into: c + j0)
                j0 += 4
            }
            if j0 < n {
                (c + j0).update(repeating: 0, count: n - j0)
                for k in entries {
                    let v = value[k], br = b + Int(index[k]) * ldb
                    for j in j0..<n { c[j] += v * br[j] }
                }
            }
        }}}
    }

    /// C[0 ..< j] in whole tiles of 4·V.scalarCount columns; returns j (the columns done).
    @inline(__always)
    private static func tiles<V: SIMD>(_: V.Type, _ entries: Range<Int>, _ index: UnsafeBufferPointer<Int32>, _ value: UnsafeBufferPointer<Float>,
                                       b: UnsafePointer<Float>, ldb: Int, n: Int, into c: UnsafeMutablePointer<Float>) -> Int where V.Scalar == Float {
        let width = 4 * V.scalarCount
        var j0 = 0
        while n - j0 >= width {
            tile(V.self, entries, index, value, b: b + j0, ldb: ldb, into: c + j0)
            j0 += width
        }
        return j0
    }

    /// C[0 ..< 4·V.scalarCount] from B's rows at b: 4 accumulators in each of 2 chains.
    @inline(__always)
    private static func tile<V: SIMD>(_: V.Type, _ entries: Range<Int>, _ index: UnsafeBufferPointer<Int32>, _ value: UnsafeBufferPointer<Float>,
                                      b: UnsafePointer<Float>, ldb: Int, into c: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        let w = MemoryLayout<V>.size
        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), e0 = V(), e1 = V(), e2 = V(), e3 = V()
        var k = entries.lowerBound
        while k + 1 < entries.upperBound {
            let v = V(repeating: value[k]), u = V(repeating: value[k + 1])
            let p = UnsafeRawPointer(b + Int(index[k]) * ldb), q = UnsafeRawPointer(b + Int(index[k + 1]) * ldb)
            a0.addProduct(v, p.loadUnaligned(as: V.self))
            e0.addProduct(u, q.loadUnaligned(as: V.self))
            a1.addProduct(v, p.loadUnaligned(fromByteOffset: w, as: V.self))
            e1.addProduct(u, q.loadUnaligned(fromByteOffset: w, as: V.self))
            a2.addProduct(v, p.loadUnaligned(fromByteOffset: 2 * w, as: V.self))
            e2.addProduct(u, q.loadUnaligned(fromByteOffset: 2 * w, as: V.self))
            a3.addProduct(v, p.loadUnaligned(fromByteOffset: 3 * w, as: V.self))
            e3.addProduct(u, q.loadUnaligned(fromByteOffset: 3 * w, as: V.self))
            k += 2
        }
        if k < entries.upperBound {
            let v = V(repeating: value[k]), p = UnsafeRawPointer(b + Int(index[k]) * ldb)
            a0.addProduct(v, p.loadUnaligned(as: V.self))
            a1.addProduct(v, p.loadUnaligned(fromByteOffset: w, as: V.self))
            a2.addProduct(v, p.loadUnaligned(fromByteOffset: 2 * w, as: V.self))
            a3.addProduct(v, p.loadUnaligned(fromByteOffset: 3 * w, as: V.self))
        }
        let out = UnsafeMutableRawPointer(c)
        out.storeBytes(of: a0 + e0, as: V.self)
        out.storeBytes(of: a1 + e1, toByteOffset: w, as: V.self)
        out.storeBytes(of: a2 + e2, toByteOffset: 2 * w, as: V.self)
        out.storeBytes(of: a3 + e3, toByteOffset: 3 * w, as: V.self)
    }

    /// C[0 ..< V.scalarCount]: one vector, its nonzeros in 4 chains (k mod 4), added as
    /// (c0 + c1) + (c2 + c3), so that a short row is not one FMA latency per nonzero.
    @inline(__always)
    private static func vector<V: SIMD>(_: V.Type, _ entries: Range<Int>, _ index: UnsafeBufferPointer<Int32>, _ value: UnsafeBufferPointer<Float>,
                                        b: UnsafePointer<Float>, ldb: Int, into c: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        var c0 = V(), c1 = V(), c2 = V(), c3 = V()
        @inline(__always) func row(_ k: Int) -> V { UnsafeRawPointer(b + Int(index[k]) * ldb).loadUnaligned(as: V.self) }
        var k = entries.lowerBound
        while k + 3 < entries.upperBound {
            c0.addProduct(V(repeating: value[k]), row(k))
            c1.addProduct(V(repeating: value[k + 1]), row(k + 1))
            c2.addProduct(V(repeating: value[k + 2]), row(k + 2))
            c3.addProduct(V(repeating: value[k + 3]), row(k + 3))
            k += 4
        }
        while k < entries.upperBound { c0.addProduct(V(repeating: value[k]), row(k)); k += 1 }
        UnsafeMutableRawPointer(c).storeBytes(of: (c0 + c1) + (c2 + c3), as: V.self)
    }
}
