import Foundation

/// `emp`'s delta-form pass of max pooling (see `EmpiricalPruner`): with x the unperturbed
/// input and y the unperturbed output of a window,
///
///   δy = max over the window of ((x_i - y) + δ_i),
///
/// computed only for the windows over the perturbed planes.
extension SpatialMaxPooling: DeltaPropagating {
    /// Tables x (input) and y (output).
    func deltaTableSizes(_ step: DeltaStep) -> (first: Int, second: Int) { (step.inputCount, step.outputCount) }

    func fillDeltaTables(_ step: DeltaStep, input: UnsafePointer<Float>, output: UnsafePointer<Float>, examples: Int,
                         first: UnsafeMutablePointer<Float>, second: UnsafeMutablePointer<Float>) {
        first.update(from: input, count: examples * step.inputCount)
        second.update(from: output, count: examples * step.outputCount)
    }

    /// Whole output planes over the input planes the range touches.
    func deltaOutputRange(_ r: Range<Int>, _ step: DeltaStep) -> Range<Int> {
        let (c0, c1) = DeltaStep.planes(r, shape: step.inputShape)
        let outShape = step.outputShape
        let op = outShape[outShape.count - 2] * outShape[outShape.count - 1]
        return (c0 * op)..<(c1 * op)
    }

    func deltaScratchPerRow(_ r: Range<Int>, _ step: DeltaStep) -> (extended: Int, columns: Int, planeMajor: Int) {
        let inShape = step.inputShape
        let (c0, c1) = DeltaStep.planes(r, shape: inShape)
        return ((c1 - c0) * inShape[inShape.count - 2] * inShape[inShape.count - 1], 0, 0)
    }

    func updateDeltaOutput(_ rows: DeltaRows, range: Range<Int>, _ step: DeltaStep) -> Bool {
        let inShape = step.inputShape, outShape = step.outputShape
        let h = inShape[inShape.count - 2], w = inShape[inShape.count - 1]
        let oh = outShape[outShape.count - 2], ow = outShape[outShape.count - 1]
        let (c0, c1) = DeltaStep.planes(range, shape: inShape)
        let source = rows.wholePlanes(range: range, shape: inShape)
        let hw = h * w, op = oh * ow, planes = c1 - c0
        let inF = step.inputCount, outF = step.outputCount
        let xTable = rows.first, yTable = rows.second, dst = rows.dst
        let (kH, kW, dH, dW, padH, padW) = (self.kH, self.kW, self.dH, self.dW, self.padH, self.padW)
        for r in 0..<rows.rows {
            let e = rows.example(r)
            for c in 0..<planes {
                let x = xTable + e * inF + (c0 + c) * hw, y = yTable + e * outF + (c0 + c) * op
                let d = source + (r * planes + c) * hw, o = dst + (r * planes + c) * op
                for i in 0..<oh {
                    let y0 = Swift.max(i * dH - padH, 0), y1 = Swift.min(i * dH - padH + kH, h)
                    for j in 0..<ow {
                        let x0 = Swift.max(j * dW - padW, 0), x1 = Swift.min(j * dW - padW + kW, w)
                        let base = y[i * ow + j]
                        var m = -Float.infinity
                        for yy in y0..<y1 {
                            for xx in x0..<x1 {
                                let at = yy * w + xx
                                m = Swift.max(m, (x[at] - base) + d[at])
                            }
                        }
                        o[i * ow + j] = m
                    }
                }
            }
        }
        return true
    }
}
