import Foundation

extension SpatialMaxPooling: DiagonalHessianPropagating {
    /// Taylor2's pass (see `DiagonalHessian`): the Jacobian holds 0s and 1s, so h(x) = Jᵀ h(y):
    /// each input receives h of the output(s) it is the maximum of (the backward pass on h).
    func updateDiagHessianInput(_ input: Tensor, _ diagHessianOutput: Tensor, into diagHessianInput: Tensor,
                                scratch: DiagonalHessianScratch) throws {
        try updateDiagHessianInputByGradient(input, diagHessianOutput, into: diagHessianInput)
    }
}
