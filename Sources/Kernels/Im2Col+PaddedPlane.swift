/// im2col and col2im through a zero-padded copy of each input plane, for padded or strided
/// layers: a tap's window then never leaves the copy, so the copy loops test no bounds (the
/// row-by-row form tests them for every output row, which costs most on small planes, e.g.
/// the 3x3 and 6x6 planes of VGG-style nets' deep layers, and on strided first layers).
extension Im2Col {
    /// Floats of one zero-padded plane, (H + 2·padH)·(W + 2·padW).
    var paddedPlaneCount: Int { (h + 2 * padH) * (w + 2 * padW) }

    /// Planes whose padded copy fits in a small stack buffer take this path.
    var usesPaddedPlane: Bool { paddedPlaneCount <= 16_384 }

    /// columns[(c·kH + v)·kW + u, i·oW + j] = xp[c, i·dH + v, j·dW + u], xp the plane x[c]
    /// zero-padded by padH, padW; rows every `ld` floats.
    func unfoldThroughPaddedPlane(_ x: UnsafePointer<Float>, into col: UnsafeMutablePointer<Float>, rowStride ld: Int) {
        let wp = w + 2 * padW
        withUnsafeTemporaryAllocation(of: Float.self, capacity: paddedPlaneCount) { buffer in
            let xp = buffer.baseAddress!
            xp.update(repeating: 0, count: paddedPlaneCount)   // the border stays 0 for every plane
            for c in 0..<nInputPlane {
                let plane = x + c * h * w
                for y in 0..<h {
                    // Rows are short: memmove calls would cost more than the copy.
                    Im2Col.copyRun(plane + y * w, into: xp + (y + padH) * wp + padW, count: w)
                }
                for v in 0..<kH {
                    for u in 0..<kW {
                        let out = col + ((c * kH + v) * kW + u) * ld
                        for i in 0..<oh {
                            let src = xp + (i * dH + v) * wp + u, o = out + i * ow
                            if dW == 1 {
                                Im2Col.copyRun(src, into: o, count: ow)
                            } else {
                                for j in 0..<ow { o[j] = src[j * dW] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// gi[c, y, x] = Σ of the columns entries that read x[c, y, x]: the entries summed into a
    /// zero-padded plane in the order of the row-by-row form (same bits), its interior copied out.
    func foldThroughPaddedPlane(_ col: UnsafePointer<Float>, into gi: UnsafeMutablePointer<Float>, rowStride ld: Int) {
        let wp = w + 2 * padW
        withUnsafeTemporaryAllocation(of: Float.self, capacity: paddedPlaneCount) { buffer in
            let gp = buffer.baseAddress!
            for c in 0..<nInputPlane {
                gp.update(repeating: 0, count: paddedPlaneCount)
                for v in 0..<kH {
                    for u in 0..<kW {
                        let from = col + ((c * kH + v) * kW + u) * ld
                        for i in 0..<oh {
                            let dst = gp + (i * dH + v) * wp + u, s = from + i * ow
                            if dW == 1 {
                                for j in 0..<ow { dst[j] += s[j] }
                            } else {
                                for j in 0..<ow { dst[j * dW] += s[j] }
                            }
                        }
                    }
                }
                let plane = gi + c * h * w
                for y in 0..<h {
                    Im2Col.copyRun(gp + (y + padH) * wp + padW, into: plane + y * w, count: w)
                }
            }
        }
    }
}
