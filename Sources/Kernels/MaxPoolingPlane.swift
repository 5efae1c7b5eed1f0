/// Max pooling of one plane [H, W] into [oH, oW] (nn.SpatialMaxPooling's forward kernel):
/// y[i, j] = max of x over the window rows i·dH - padH ..< +kH, columns j·dW - padW ..< +kW
/// (clipped to the plane), and the flat index in the plane of the window's first maximum
/// (a NaN wins, as in Torch).
public struct MaxPoolingPlane {
    public let kW, kH, dW, dH, padW, padH: Int
    public let h, w, oh, ow: Int

    public init(kW: Int, kH: Int, dW: Int, dH: Int, padW: Int, padH: Int, h: Int, w: Int, oh: Int, ow: Int) {
        self.kW = kW; self.kH = kH; self.dW = dW; self.dH = dH; self.padW = padW; self.padH = padH
        self.h = h; self.w = w; self.oh = oh; self.ow = ow
    }

    /// 2x2 windows with stride 2 and no padding, all inside the plane (`maxPool2x2` applies).
    public var isUnpadded2x2: Bool {
        kH == 2 && kW == 2 && dH == 2 && dW == 2 && padH == 0 && padW == 0 && oh * 2 <= h && ow * 2 <= w
    }

    /// The general window.
    public func maxPool(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, indices id: UnsafeMutablePointer<Int32>) {
        for i in 0..<oh {
            let y0 = Swift.max(i * dH - padH, 0), y1 = Swift.min(i * dH - padH + kH, h)
            for j in 0..<ow {
                let x0 = Swift.max(j * dW - padW, 0), x1 = Swift.min(j * dW - padW + kW, w)
                var m = -Float.infinity, k = Int32(y0 * w + x0)
                for yy in y0..<y1 {
                    for xx in x0..<x1 {
                        let v = src[yy * w + xx]
                        if v > m || v.isNaN { m = v; k = Int32(yy * w + xx) }
                    }
                }
                dst[i * ow + j] = m
                id[i * ow + j] = k
            }
        }
    }

    /// 2x2, stride 2, unpadded (`isUnpadded2x2`): four loads per output.
    public func maxPool2x2(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, indices id: UnsafeMutablePointer<Int32>) {
        for i in 0..<oh {
            let r0 = src + 2 * i * w, r1 = r0 + w
            for j in 0..<ow {
                let a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1]
                var m = a, k = Int32(2 * i * w + 2 * j)
                if b > m { m = b; k = Int32(2 * i * w + 2 * j + 1) }
                if c > m { m = c; k = Int32((2 * i + 1) * w + 2 * j) }
                if d > m { m = d; k = Int32((2 * i + 1) * w + 2 * j + 1) }
                dst[i * ow + j] = m
                id[i * ow + j] = k
            }
        }
    }

    /// `maxPool2x2` without the indices (evaluation, where no backward pass reads them): the
    /// same comparisons (a, then b, c, d replacing the maximum when greater), 8 outputs at a
    /// time from two 16-float loads, deinterleaved into the windows' four corners, then 4 from
    /// two 8-float loads, a row's last ones by a step that overlaps the one before; one by
    /// one only in rows of fewer than 4.
    public func maxPool2x2(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        @inline(__always) func corners(_ p: UnsafePointer<Float>) -> (even: V, odd: V) {
            let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
            return (V(v[0], v[2], v[4], v[6], v[8], v[10], v[12], v[14]), V(v[1], v[3], v[5], v[7], v[9], v[11], v[13], v[15]))
        }
        /// The corners of 4 windows from 8 floats, in lanes 0-3 (and again in 4-7).
        @inline(__always) func corners4(_ p: UnsafePointer<Float>) -> (even: V, odd: V) {
            let v = UnsafeRawPointer(p).loadUnaligned(as: V.self)
            return (V(v[0], v[2], v[4], v[6], v[0], v[2], v[4], v[6]), V(v[1], v[3], v[5], v[7], v[1], v[3], v[5], v[7]))
        }
        /// a, then b, c, d where greater, lane by lane: the comparisons of the one-by-one loop.
        /// (Concrete vectors: a helper generic over the width was not vectorised, the SIMD
        /// protocol's default `replace(with:where:)` being a loop over lanes.)
        @inline(__always) func maximum(_ top: (even: V, odd: V), _ bottom: (even: V, odd: V)) -> V {
            var m = top.even
            m.replace(with: top.odd, where: top.odd .> m)
            m.replace(with: bottom.even, where: bottom.even .> m)
            m.replace(with: bottom.odd, where: bottom.odd .> m)
            return m
        }
        @inline(__always) func eight(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ j: Int) {
            UnsafeMutableRawPointer(out + j).storeBytes(of: maximum(corners(r0 + 2 * j), corners(r1 + 2 * j)), as: V.self)
        }
        @inline(__always) func four(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ j: Int) {
            let m = maximum(corners4(r0 + 2 * j), corners4(r1 + 2 * j))
            UnsafeMutableRawPointer(out + j).storeBytes(of: m.lowHalf, as: SIMD4<Float>.self)
        }
        for i in 0..<oh {
            let r0 = src + 2 * i * w, r1 = r0 + w, out = dst + i * ow
            var j = 0
            while j + 8 <= ow { eight(r0, r1, out, j); j += 8 }
            // The last few outputs of a row as one more step of 8 (or 4) ending at the row's
            // end, over outputs already written with the same values (LeNet-5's 14- and
            // 5-wide rows: 8 + 8 and 4 + 4 instead of 8 + 4 + 2 and 4 + 1 one by one).
            if j < ow && ow >= 8 { eight(r0, r1, out, ow - 8); continue }
            if j + 4 <= ow { four(r0, r1, out, j); j += 4 }
            if j < ow && ow >= 4 { four(r0, r1, out, ow - 4); continue }
            while j < ow {
                var m = r0[2 * j]
                if r0[2 * j + 1] > m { m = r0[2 * j + 1] }
                if r1[2 * j] > m { m = r1[2 * j] }
                if r1[2 * j + 1] > m { m = r1[2 * j + 1] }
                out[j] = m
                j += 1
            }
        }
    }
}
