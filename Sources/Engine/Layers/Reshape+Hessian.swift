import Foundation

// The Hessian-diagonal pass of the modules whose Jacobian J holds only 0s and 1s, each input
// reaching at most one output (taylor2, see `DiagonalHessian`): (J∘J)ᵀ h = Jᵀ h, so h(x) is
// the module's own backward pass applied to h(y).

extension DiagonalHessianPropagating {
    /// h(x) = Jᵀ h(y) by `updateGradInput`, for a 0/1 Jacobian.
    func updateDiagHessianInputByGradient(_ input: Tensor, _ diagHessianOutput: Tensor,
                                          into diagHessianInput: Tensor) throws {
        diagHessianInput.copy(from: try updateGradInput(input, diagHessianOutput))
    }
}

extension View: DiagonalHessianPropagating {
    func updateDiagHessianInput(_ input: Tensor, _ diagHessianOutput: Tensor, into diagHessianInput: Tensor,
                                scratch: DiagonalHessianScratch) throws {
        try updateDiagHessianInputByGradient(input, diagHessianOutput, into: diagHessianInput)
    }
}

extension Reshape: DiagonalHessianPropagating {
    func updateDiagHessianInput(_ input: Tensor, _ diagHessianOutput: Tensor, into diagHessianInput: Tensor,
                                scratch: DiagonalHessianScratch) throws {
        try updateDiagHessianInputByGradient(input, diagHessianOutput, into: diagHessianInput)
    }
}

extension Identity: DiagonalHessianPropagating {
    func updateDiagHessianInput(_ input: Tensor, _ diagHessianOutput: Tensor, into diagHessianInput: Tensor,
                                scratch: DiagonalHessianScratch) throws {
        try updateDiagHessianInputByGradient(input, diagHessianOutput, into: diagHessianInput)
    }
}
