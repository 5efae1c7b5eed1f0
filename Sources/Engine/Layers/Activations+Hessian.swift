import Foundation

// The Hessian-diagonal pass of the elementwise modules y = f(x) (taylor2, see
// `DiagonalHessian`): h(x) = f'(x)² h(y), the f'' term dropped (Gauss-Newton). Called after a
// forward pass, so `output` holds y.

extension Tanh: DiagonalHessianPropagating {
    /// f' = 1 - y².
    func updateDiagHessianInput(_ input: Tensor, _ diagHessianOutput: Tensor, into diagHessianInput: Tensor,
                                scratch: DiagonalHessianScratch) throws {
        let y = output.data, hy = diagHessianOutput.data, o = diagHessianInput.data
        for i in 0..<input.count { let d = 1 - y[i] * y[i]; o[i] = d * d * hy[i] }
    }
}

extension Sigmoid: DiagonalHessianPropagating {
    /// f' = y(1 - y).
    func updateDiagHessianInput(_ input: Tensor, _ diagHessianOutput: Tensor, into diagHessianInput: Tensor,
                                scratch: DiagonalHessianScratch) throws {
        let y = output.data, hy = diagHessianOutput.data, o = diagHessianInput.data
        for i in 0..<input.count { let d = y[i] * (1 - y[i]); o[i] = d * d * hy[i] }
    }
}

extension ReLU: DiagonalHessianPropagating {
    /// f' = 1[x > 0].
    func updateDiagHessianInput(_ input: Tensor, _ diagHessianOutput: Tensor, into diagHessianInput: Tensor,
                                scratch: DiagonalHessianScratch) throws {
        let x = input.data, hy = diagHessianOutput.data, o = diagHessianInput.data
        for i in 0..<input.count { o[i] = x[i] > 0 ? hy[i] : 0 }
    }
}

extension Dropout: DiagonalHessianPropagating {
    /// At evaluation y = c x: h(x) = c² h(y).
    func updateDiagHessianInput(_ input: Tensor, _ diagHessianOutput: Tensor, into diagHessianInput: Tensor,
                                scratch: DiagonalHessianScratch) throws {
        let c = evaluationScale, hy = diagHessianOutput.data, o = diagHessianInput.data
        for i in 0..<input.count { o[i] = c * c * hy[i] }
    }
}
