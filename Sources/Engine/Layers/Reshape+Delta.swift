import Foundation

// `emp`'s delta-form pass of View, Reshape and Identity (see `EmpiricalPruner`): the same
// numbers, and flat per-example indices are kept, so the perturbation rows pass unchanged.

extension View: DeltaPropagating {
    func updateDeltaOutput(_ rows: DeltaRows, range: Range<Int>, _ step: DeltaStep) -> Bool { false }
}

extension Reshape: DeltaPropagating {
    func updateDeltaOutput(_ rows: DeltaRows, range: Range<Int>, _ step: DeltaStep) -> Bool { false }
}

extension Identity: DeltaPropagating {
    func updateDeltaOutput(_ rows: DeltaRows, range: Range<Int>, _ step: DeltaStep) -> Bool { false }
}
