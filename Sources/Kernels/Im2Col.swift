/// im2col and col2im for one image of a 2-D convolution (nn.SpatialConvolution's geometry):
/// the input x [nIn, H, W] unfolded into columns [K, P] with K = nIn·kH·kW rows and
/// P = oH·oW columns, so that the convolution is one matrix product W [nOut, K] · columns.
public struct Im2Col {
    public let nInputPlane, kW, kH, dW, dH, padW, padH: Int
    /// Input and output sizes of one plane.
    public let h, w, oh, ow: Int

    public init(nInputPlane: Int, kW: Int, kH: Int, dW: Int, dH: Int, padW: Int, padH: Int, h: Int, w: Int, oh: Int, ow: Int) {
        self.nInputPlane = nInputPlane; self.kW = kW; self.kH = kH; self.dW = dW; self.dH = dH
        self.padW = padW; self.padH = padH; self.h = h; self.w = w; self.oh = oh; self.ow = ow
    }

    /// The same geometry, with the output size of a plane computed from the input size.
    public init(nInputPlane: Int, kW: Int, kH: Int, dW: Int, dH: Int, padW: Int, padH: Int, h: Int, w: Int) {
        self.init(nInputPlane: nInputPlane, kW: kW, kH: kH, dW: dW, dH: dH, padW: padW, padH: padH, h: h, w: w,
                  oh: Im2Col.outputSize(h, kernel: kH, stride: dH, pad: padH),
                  ow: Im2Col.outputSize(w, kernel: kW, stride: dW, pad: padW))
    }

    /// ⌊(n + 2·pad - kernel) / stride⌋ + 1: the output length of a convolution along one axis.
    @inline(__always)
    public static func outputSize(_ n: Int, kernel: Int, stride: Int, pad: Int) -> Int {
        (n + 2 * pad - kernel) / stride + 1
    }

    /// K, the rows of the columns matrix.
    public var kernelSize: Int { nInputPlane * kH * kW }
    /// kH·kW, the rows per input plane.
    public var kernelArea: Int { kH * kW }
    /// P = oH·oW, the output positions of one plane.
    public var positions: Int { oh * ow }

    /// columns[(c·kH + v)·kW + u, i·oW + j] = x[c, i·dH + v - padH, j·dW + u - padW] (0 outside),
    /// for one image x [nIn, H, W]; a row of columns starts every `rowStride` floats (P unless
    /// the image is one of several unfolded side by side).
    public func unfold(_ x: UnsafePointer<Float>, into col: UnsafeMutablePointer<Float>, rowStride: Int? = nil) {
        let p = oh * ow, ld = rowStride ?? p
        if dW == 1 && dH == 1 && padW == 0 && padH == 0 {
            // Every window lies inside the image: each row of columns is oH runs of oW inputs.
            for c in 0..<nInputPlane {
                for v in 0..<kH {
                    for u in 0..<kW {
                        let src = x + (c * h + v) * w + u, out = col + ((c * kH + v) * kW + u) * ld
                        for i in 0..<oh { Self.copyRun(src + i * w, into: out + i * ow, count: ow) }
                    }
                }
            }
            return
        }
        if usesPaddedPlane { return unfoldThroughPaddedPlane(x, into: col, rowStride: ld) }
        for row in 0..<kernelSize { unfoldRow(row, x, into: col + row * ld) }
    }

    /// o[j] = s[j] for j < count (a run is a row of an output plane, a few to a few dozen
    /// floats: too short for memcpy, or for a loop the compiler vectorises with a run-time trip
    /// count): 8 floats a move, the last move ending at the run's end (overlapping the one before
    /// it, so no float is copied one by one once the run has 8); shorter runs 4 at a time the
    /// same way, then one by one. Nothing outside s[0..<count] is read, nor outside o[0..<count]
    /// written.
    @inline(__always)
    static func copyRun(_ s: UnsafePointer<Float>, into o: UnsafeMutablePointer<Float>, count: Int) {
        @inline(__always) func move<V: SIMD>(_ type: V.Type, _ j: Int) where V.Scalar == Float {
            UnsafeMutableRawPointer(o + j).storeBytes(of: UnsafeRawPointer(s + j).loadUnaligned(as: V.self), as: V.self)
        }
        if count >= 8 {
            var j = 0
            while j + 8 < count { move(SIMD8<Float>.self, j); j += 8 }
            move(SIMD8<Float>.self, count - 8)
        } else if count >= 4 {
            move(SIMD4<Float>.self, 0)
            move(SIMD4<Float>.self, count - 4)
        } else {
            for j in 0..<count { o[j] = s[j] }
        }
    }

    /// `count` images, image n at x + n·imageStride, side by side:
    /// columns[(c·kH + v)·kW + u, n·P + i·oW + j] = x_n[c, i·dH + v - padH, j·dW + u - padW],
    /// i.e. K rows of count·P floats.
    public func unfold(_ x: UnsafePointer<Float>, images count: Int, imageStride: Int, into col: UnsafeMutablePointer<Float>) {
        let p = oh * ow
        for n in 0..<count { unfold(x + n * imageStride, into: col + n * p, rowStride: count * p) }
    }

    /// One row of the columns matrix, the kernel tap row = (c·kH + v)·kW + u: the P inputs that
    /// tap meets, out[i·oW + j] = x[c, i·dH + v - padH, j·dW + u - padW] (0 outside).
    public func unfoldRow(_ row: Int, _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let c = row / (kH * kW), v = (row / kW) % kH, u = row % kW
        let plane = x + c * h * w
        for i in 0..<oh {
            let yy = i * dH + v - padH
            let o = out + i * ow
            if yy < 0 || yy >= h {
                for j in 0..<ow { o[j] = 0 }
                continue
            }
            let line = plane + yy * w
            if dW == 1 {
                // valid j: 0 <= j + u - padW < w
                let lo = Swift.min(ow, Swift.max(0, padW - u)), hi = Swift.max(lo, Swift.min(ow, w + padW - u))
                // Rows are short: memcpy calls would cost more than the copy.
                let src = line + u - padW
                for j in 0..<lo { o[j] = 0 }
                Self.copyRun(src + lo, into: o + lo, count: hi - lo)
                for j in hi..<ow { o[j] = 0 }
            } else {
                for j in 0..<ow {
                    let xx = j * dW + u - padW
                    o[j] = (xx >= 0 && xx < w) ? line[xx] : 0
                }
            }
        }
    }

    /// gi[c, y, x] = Σ of the columns entries that read x[c, y, x] (col2im), for one image; a
    /// row of columns starts every `rowStride` floats (P unless the image is one of several
    /// unfolded side by side).
    public func fold(_ col: UnsafePointer<Float>, into gi: UnsafeMutablePointer<Float>, rowStride: Int? = nil) {
        let p = rowStride ?? oh * ow
        let windowsInside = dW == 1 && dH == 1 && padW == 0 && padH == 0
        if !windowsInside && usesPaddedPlane { return foldThroughPaddedPlane(col, into: gi, rowStride: p) }
        gi.update(repeating: 0, count: nInputPlane * h * w)
        if dW == 1 && dH == 1 && padW == 0 && padH == 0 {
            // Every window lies inside the image (see `unfold`).
            for c in 0..<nInputPlane {
                for v in 0..<kH {
                    for u in 0..<kW {
                        let dst = gi + (c * h + v) * w + u, from = col + ((c * kH + v) * kW + u) * p
                        for i in 0..<oh {
                            let d = dst + i * w, s = from + i * ow
                            for j in 0..<ow { d[j] += s[j] }
                        }
                    }
                }
            }
            return
        }
        for row in 0..<kernelSize {
            let c = row / (kH * kW), v = (row / kW) % kH, u = row % kW
            let plane = gi + c * h * w
            let src = col + row * p
            for i in 0..<oh {
                let yy = i * dH + v - padH
                if yy < 0 || yy >= h { continue }
                let line = plane + yy * w
                let s = src + i * ow
                if dW == 1 {
                    let lo = Swift.max(0, padW - u), hi = Swift.min(ow, w + padW - u)
                    if hi > lo {
                        let dst = line + u - padW
                        for j in lo..<hi { dst[j] += s[j] }
                    }
                } else {
                    for j in 0..<ow {
                        let xx = j * dW + u - padW
                        if xx >= 0 && xx < w { line[xx] += s[j] }
                    }
                }
            }
        }
    }
}
