/// Convolution kernels for stride-1 layers whose padding makes rows wide compared with the
/// kernel, such as the first layer of a LeNet (1 → 6 planes, 5x5, pad 2). Every function works
/// on one image.
///
/// Layout trick: the image is zero-padded, xp = [C, hp, wp] with hp = H + 2·padH and
/// wp = W + 2·padW, and outputs are computed in "padded-width" rows: oH rows of wp entries of
/// which the first oW are real. For a kernel tap (c, v, u), the inputs meeting all outputs then
/// form ONE contiguous run of L = oH·wp floats starting at xp[c, v, u]. So the unfolded input is
/// K = C·kH·kW long copies (instead of K·oH short ones), and
///   Y_rows [O, L] = W [O, K] · B [K, L],  B[(c, v, u), k] = xp[(c·hp + v)·wp + u + k]
///   ∂L/∂W += ∂L/∂Y_rows · Bᵀ,   ∂L/∂B = Wᵀ · ∂L/∂Y_rows  (then added back along the runs)
/// at the price of (wp - oW)/wp wasted columns, which is why it is used only when that is small.
public enum PaddedWidthConvolution {
    public struct Shape {
        public let c, o, kH, kW, h, w, padH, padW, oh, ow: Int

        public init(c: Int, o: Int, kH: Int, kW: Int, h: Int, w: Int, padH: Int, padW: Int, oh: Int, ow: Int) {
            self.c = c; self.o = o; self.kH = kH; self.kW = kW; self.h = h; self.w = w
            self.padH = padH; self.padW = padW; self.oh = oh; self.ow = ow
        }
        public var hp: Int { h + 2 * padH }
        public var wp: Int { w + 2 * padW }
        public var k: Int { c * kH * kW }
        /// Length of one tap's run: oH rows of wp.
        public var run: Int { oh * wp }
        /// Floats of a padded image, plus slack so that the last tap's run stays in bounds.
        public var paddedCount: Int { c * hp * wp + kW }
        /// The offset in the padded image of row (c, v, u) of B: (c·hp + v)·wp + u.
        @inline(__always) public func tap(_ row: Int) -> Int {
            let c = row / (kH * kW), v = (row / kW) % kH, u = row % kW
            return (c * hp + v) * wp + u
        }
    }

    /// Whether the wasted columns are at most a fifth of the work.
    public static func suits(dW: Int, dH: Int, w: Int, padW: Int, ow: Int) -> Bool {
        dW == 1 && dH == 1 && padW > 0 && (w + 2 * padW - ow) * 5 <= w + 2 * padW
    }

    /// xp[c, padH + y, padW + x] = x[c, y, x], zero elsewhere (slack included).
    public static func pad(_ x: UnsafePointer<Float>, _ s: Shape, into xp: UnsafeMutablePointer<Float>) {
        xp.update(repeating: 0, count: s.paddedCount)
        for c in 0..<s.c {
            for y in 0..<s.h {
                (xp + (c * s.hp + y + s.padH) * s.wp + s.padW).update(from: x + (c * s.h + y) * s.w, count: s.w)
            }
        }
    }

    /// B[row, k] = xp[tap(row) + k] for k < L: one long copy per row.
    public static func unfold(_ xp: UnsafePointer<Float>, _ s: Shape, into b: UnsafeMutablePointer<Float>) {
        let n = s.run
        for row in 0..<s.k { (b + row * n).update(from: xp + s.tap(row), count: n) }
    }

    /// y[o, i, j] = bias[o] + rows[o, i·wp + j] for j < oW.
    public static func copyOut(_ rows: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, _ s: Shape, into y: UnsafeMutablePointer<Float>) {
        for o in 0..<s.o { copyOutRow(rows + o * s.run, bias?[o] ?? 0, s, into: y + o * s.oh * s.ow) }
    }

    /// One output plane: y[i, j] = bias + row[i·wp + j] for j < oW.
    @inline(__always)
    public static func copyOutRow(_ row: UnsafePointer<Float>, _ bias: Float, _ s: Shape, into y: UnsafeMutablePointer<Float>) {
        for i in 0..<s.oh {
            let from = row + i * s.wp, to = y + i * s.ow
            for j in 0..<s.ow { to[j] = from[j] + bias }
        }
    }

    /// ∂L/∂y [O, oH, oW] → padded-width rows with zeros in the extra columns.
    public static func padGradient(_ gy: UnsafePointer<Float>, _ s: Shape, into rows: UnsafeMutablePointer<Float>) {
        rows.update(repeating: 0, count: s.o * s.run)
        for o in 0..<s.o {
            for i in 0..<s.oh {
                (rows + o * s.run + i * s.wp).update(from: gy + (o * s.oh + i) * s.ow, count: s.ow)
            }
        }
    }

    /// ∂L/∂xp[tap(row) + k] += ∂L/∂B[row, k], then the padding is cropped:
    /// gi[c, y, x] = ∂L/∂xp[c, padH + y, padW + x]. `gxp` is scratch of `paddedCount` floats.
    public static func fold(_ gb: UnsafePointer<Float>, _ s: Shape, scratch gxp: UnsafeMutablePointer<Float>,
                     into gi: UnsafeMutablePointer<Float>) {
        let n = s.run
        gxp.update(repeating: 0, count: s.paddedCount)
        for row in 0..<s.k {
            let dst = gxp + s.tap(row), src = gb + row * n
            for k in 0..<n { dst[k] += src[k] }
        }
        for c in 0..<s.c {
            for y in 0..<s.h {
                (gi + (c * s.h + y) * s.w).update(from: gxp + (c * s.hp + y + s.padH) * s.wp + s.padW, count: s.w)
            }
        }
    }
}
