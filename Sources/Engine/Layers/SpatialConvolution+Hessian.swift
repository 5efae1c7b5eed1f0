import Foundation
import Kernels

/// The Hessian-diagonal passes of the convolution (taylor2; LeCun, Denker & Solla 1990; see
/// `DiagonalHessian`): the Linear rules with the kernel shared over positions.
extension SpatialConvolution: DiagonalHessianWeighted {
    /// h(x) = conv_transpose(W², h(y)): the input gradient of a twin convolution whose kernels
    /// are the squared kernels (made once per pass).
    func updateDiagHessianInput(_ input: Tensor, _ diagHessianOutput: Tensor, into diagHessianInput: Tensor,
                                scratch: DiagonalHessianScratch) throws {
        let twin = scratch.prepared { () -> SpatialConvolution in
            let squared = SpatialConvolution(nInputPlane, nOutputPlane, kW, kH, dW, dH, padW, padH, bias: false)
            squared.weightParameter.value.copy(from: weightParameter.value)
            squared.weightParameter.value.cmul(weightParameter.value)
            return squared
        }
        diagHessianInput.copy(from: try twin.updateGradInput(input, diagHessianOutput))
    }

    /// h(W[o,c,v,u]) += Σ_{e,i,j} h(y[o,i,j]) · x[c, i·dH+v-padH, j·dW+u-padW]²: one GEMM of h(y)
    /// (plane-major) with the unfolded squared input of the batch.
    func accDiagHessianParameters(_ input: Tensor, _ diagHessianOutput: Tensor, into acc: Tensor,
                                  scratch: DiagonalHessianScratch) throws {
        let (g, imageSize, b) = batchUnfolding(input)
        let kernel = g.kernelSize, p = g.positions
        let columns = scratch.buffer(0), planeMajor = scratch.buffer(1)
        columns.resize([kernel, b * p])
        g.unfold(input.data, images: b, imageStride: imageSize, into: columns.data)
        let c = columns.data
        for i in 0..<kernel * b * p { c[i] = c[i] * c[i] }
        planeMajor.resize([nOutputPlane, b * p])
        // h(y) [b, nOut, P] → [nOut, b·P]
        let hy = diagHessianOutput.data, t = planeMajor.data
        for e in 0..<b {
            for o in 0..<nOutputPlane {
                (t + (o * b + e) * p).update(from: hy + (e * nOutputPlane + o) * p, count: p)
            }
        }
        BLAS.gemm(transB: true, m: nOutputPlane, n: kernel, k: b * p,
                  a: t, b: c, beta: 1, c: acc.data)
    }

    /// Empirical Fisher: ∂ℓ_e/∂W = Δ_e U_eᵀ with Δ_e [nOut, P] and U_e [nIn·kH·kW, P] the
    /// unfolded input of example e; the square is taken per example (positions sum inside it).
    func accFisherDiagonal(_ input: Tensor, _ gradOutput: Tensor, scale: Float, into acc: Tensor,
                           scratch: DiagonalHessianScratch) throws {
        let (g, imageSize, b) = batchUnfolding(input)
        let kernel = g.kernelSize, p = g.positions
        let columns = scratch.buffer(0), exampleGradient = scratch.buffer(1)
        columns.resize([kernel, p])
        exampleGradient.resize([nOutputPlane, kernel])
        let a = acc.data, eg = exampleGradient.data, n = nOutputPlane * kernel
        for e in 0..<b {
            g.unfold(input.data + e * imageSize, into: columns.data)
            BLAS.gemm(transB: true, m: nOutputPlane, n: kernel, k: p,
                      a: gradOutput.data + e * nOutputPlane * p, b: columns.data, c: eg)
            for i in 0..<n { a[i] += scale * eg[i] * eg[i] }
        }
    }

    /// The unfolding of a batch `input` [b, nIn, H, W]: geometry, floats per image, images.
    private func batchUnfolding(_ input: Tensor) -> (Im2Col, imageSize: Int, images: Int) {
        let g = im2col(for: input)
        let imageSize = nInputPlane * g.h * g.w
        return (g, imageSize, input.count / imageSize)
    }
}
