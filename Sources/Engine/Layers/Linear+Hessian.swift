import Foundation

/// The Hessian-diagonal passes of y = W x + b (taylor2; LeCun, Denker & Solla 1990; see
/// `DiagonalHessian`), h(v) being the propagated ∂²L/∂v².
extension Linear: DiagonalHessianWeighted {
    /// h(x_i) = Σ_k W_ki² h(y_k): h(x) [b, in] = h(y) [b, out] · W², W² formed once per pass.
    func updateDiagHessianInput(_ input: Tensor, _ diagHessianOutput: Tensor, into diagHessianInput: Tensor,
                                scratch: DiagonalHessianScratch) throws {
        let w2 = scratch.prepared { () -> Tensor in
            let squared = weightParameter.value.clone()
            squared.cmul(squared)
            return squared
        }
        let b = input.count / inputSize
        BLAS.gemm(m: b, n: inputSize, k: outputSize, a: diagHessianOutput.data, b: w2.data, c: diagHessianInput.data)
    }

    /// h(W_ki) += Σ_e h(y_k) x_i²: (h(y))ᵀ (x²), one GEMM.
    func accDiagHessianParameters(_ input: Tensor, _ diagHessianOutput: Tensor, into acc: Tensor,
                                  scratch: DiagonalHessianScratch) throws {
        let b = input.count / inputSize
        let squaredInput = scratch.buffer(0)
        squaredInput.resize(input.shape)
        let x = input.data, x2 = squaredInput.data
        for i in 0..<input.count { x2[i] = x[i] * x[i] }
        BLAS.gemm(transA: true, m: outputSize, n: inputSize, k: b,
                  a: diagHessianOutput.data, b: x2, beta: 1, c: acc.data)
    }

    /// Empirical Fisher: ∂ℓ_e/∂W_ki = δ_k x_i, so Σ_e (∂ℓ_e/∂W_ki)² = Σ_e δ_k² x_i² = (δ²)ᵀ (x²),
    /// one GEMM.
    func accFisherDiagonal(_ input: Tensor, _ gradOutput: Tensor, scale: Float, into acc: Tensor,
                           scratch: DiagonalHessianScratch) throws {
        let b = input.count / inputSize
        let squaredInput = scratch.buffer(0), squaredDelta = scratch.buffer(1)
        squaredInput.resize(input.shape)
        squaredDelta.resize(gradOutput.shape)
        let x = input.data, x2 = squaredInput.data, d = gradOutput.data, d2 = squaredDelta.data
        for i in 0..<input.count { x2[i] = x[i] * x[i] }
        for i in 0..<gradOutput.count { d2[i] = d[i] * d[i] }
        BLAS.gemm(transA: true, m: outputSize, n: inputSize, k: b, alpha: scale,
                  a: d2, b: x2, beta: 1, c: acc.data)
    }
}
