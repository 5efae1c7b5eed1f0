import Foundation

/// The geometry of a `SpatialConvolution` on inputs of one size, and its unfolding (im2col),
/// for the pruners' own convolution arithmetic (squared kernels, per-example gradients,
/// perturbation batches). Same layout as the engine's convolution:
///
///   columns[(c·kH + v)·kW + u, n·P + i·oW + j] = x[n, c0 + c, i·dH + v - padH, j·dW + u - padW]
///
/// (0 outside the input), for planes c0 ..< c0 + planes, P = oH·oW output positions.
struct ConvolutionGeometry {
    let nIn: Int, nOut: Int
    let kW: Int, kH: Int, dW: Int, dH: Int, padW: Int, padH: Int
    let h: Int, w: Int, oh: Int, ow: Int

    var p: Int { oh * ow }
    var kernelArea: Int { kH * kW }

    init(_ m: SpatialConvolution, height: Int, width: Int) {
        nIn = m.nInputPlane; nOut = m.nOutputPlane
        kW = m.kW; kH = m.kH; dW = m.dW; dH = m.dH; padW = m.padW; padH = m.padH
        h = height; w = width
        oh = (height + 2 * padH - kH) / dH + 1
        ow = (width + 2 * padW - kW) / dW + 1
    }

    /// Unfolds `count` examples whose planes start at `x` (example n's plane c at
    /// x + (n·examplePlanes + c0 + c)·h·w) into `columns` [planes·kH·kW, count·P].
    /// With `squared`, each entry is the square of the input value.
    func unfold(_ x: UnsafePointer<Float>, count: Int, examplePlanes: Int, firstPlane c0: Int, planes: Int,
                into columns: UnsafeMutablePointer<Float>, squared: Bool = false) {
        let rowLength = count * p
        let rows = planes * kernelArea
        let (h, w, oh, ow, p) = (self.h, self.w, self.oh, self.ow, self.p)
        let (kH, kW, dH, dW, padH, padW) = (self.kH, self.kW, self.dH, self.dW, self.padH, self.padW)
        for row in 0..<rows {
            let c = row / (kH * kW), v = (row / kW) % kH, u = row % kW
            for n in 0..<count {
                let plane = x + ((n * examplePlanes + c0 + c) * h * w)
                let out = columns + row * rowLength + n * p
                for i in 0..<oh {
                    let y = i * dH + v - padH
                    let o = out + i * ow
                    if y < 0 || y >= h {
                        o.update(repeating: 0, count: ow)
                        continue
                    }
                    let line = plane + y * w
                    for j in 0..<ow {
                        let xx = j * dW + u - padW
                        let value: Float = (xx >= 0 && xx < w) ? line[xx] : 0
                        o[j] = squared ? value * value : value
                    }
                }
            }
        }
    }
}
