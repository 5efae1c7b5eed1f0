import Foundation
import Kernels

/// `emp`'s delta-form passes of the convolution (see `EmpiricalPruner`): as the scored layer,
/// zeroing W[o, c, v, u] changes only output plane o, by -W[o, c, v, u] times the shifted input
/// plane c (one row of the unfolded input); downstream, δy = W * δx over the perturbed input
/// planes only (unfold + GEMM), both through this layer's `Im2Col`.
extension SpatialConvolution: DeltaScoring, DeltaPropagating {
    var deltaItems: Int { nOutputPlane }
    var deltaWeightsPerItem: Int { nInputPlane * kH * kW }

    func deltaItemRange(_ item: Int, inputShape: [Int]) -> Range<Int> {
        let p = im2col(height: inputShape[1], width: inputShape[2]).positions
        return (item * p)..<((item + 1) * p)
    }

    /// δy[item, i, j] = -W[item, c, v, u] x[c, i·dH+v-padH, j·dW+u-padW] over the item's output
    /// plane, for the tap (c, v, u) = the row's weight.
    func initialDelta(_ rows: DeltaRows, item: Int, weights: ArraySlice<Int>, input x: UnsafePointer<Float>,
                      inputShape: [Int]) {
        let g = im2col(height: inputShape[1], width: inputShape[2])
        let p = g.positions, q0 = weights.startIndex, d = rows.src
        let w = weightParameter.value.data + item * g.kernelSize
        let exampleSize = nInputPlane * g.h * g.w
        for r in 0..<rows.rows {
            let j = weights[q0 + r % rows.perturbations]
            let scale = -w[j], out = d + r * p
            g.unfoldRow(j, x + rows.example(r) * exampleSize, into: out)
            for i in 0..<p { out[i] = scale * out[i] }
        }
    }

    func deltaOutputRange(_ r: Range<Int>, _ step: DeltaStep) -> Range<Int> { 0..<step.outputCount }

    func deltaScratchPerRow(_ r: Range<Int>, _ step: DeltaStep) -> (extended: Int, columns: Int, planeMajor: Int) {
        let inShape = step.inputShape, outShape = step.outputShape
        let (c0, c1) = DeltaStep.planes(r, shape: inShape)
        let hw = inShape[inShape.count - 2] * inShape[inShape.count - 1]
        let p = outShape[outShape.count - 2] * outShape[outShape.count - 1]
        return ((c1 - c0) * hw, (c1 - c0) * kH * kW * p, nOutputPlane * p)
    }

    /// δy = W[:, planes in use] * δx: the perturbed planes of every row unfolded side by side,
    /// one GEMM, then back from plane-major to row-major.
    func updateDeltaOutput(_ rows: DeltaRows, range: Range<Int>, _ step: DeltaStep) -> Bool {
        let inShape = step.inputShape
        let (c0, c1) = DeltaStep.planes(range, shape: inShape)
        let planes = c1 - c0, n = rows.rows
        let g = im2col(height: inShape[inShape.count - 2], width: inShape[inShape.count - 1], planes: planes)
        let kk = g.kernelArea, p = g.positions, nOut = nOutputPlane
        let source = rows.wholePlanes(range: range, shape: inShape)
        g.unfold(source, images: n, imageStride: planes * g.h * g.w, into: rows.columns)
        BLAS.gemm(m: nOut, n: n * p, k: planes * kk,
                  a: weightParameter.value.data + c0 * kk, lda: nInputPlane * kk,
                  b: rows.columns, c: rows.planeMajor)
        for o in 0..<nOut {
            for r in 0..<n {
                (rows.dst + (r * nOut + o) * p).update(from: rows.planeMajor + (o * n + r) * p, count: p)
            }
        }
        return true
    }
}
