/// A pruning criterion: scores every weight of one layer; the lowest scores are pruned.
///
/// A score estimates (or, for `emp`, measures) the increase in the loss when that weight alone
/// is set to 0. `scores` returns a tensor with one score per weight (any shape with the
/// weight's element count); scores of weights that are already pruned are ignored (those
/// weights stay pruned).
public protocol Pruner {
    /// The name users give (`-pruner NAME`, `PrunerRegistry`).
    var name: String { get }
    /// How this criterion's scores are made comparable across layers in global mode
    /// (unless the options override it).
    var globalNormalization: ScoreNormalization { get }
    func scores(_ context: PruningContext) throws -> Tensor
}

extension Pruner {
    public var globalNormalization: ScoreNormalization { .mean }
}

/// How a layer's scores are rescaled before one ranking across layers (global mode). Every
/// statistic is taken over the layer's weights that are not pruned yet.
public enum ScoreNormalization: String, CaseIterable {
    /// Raw scores: right when they share a unit across layers (|w|, a loss change).
    case none
    /// score / mean |score| of the layer: each layer's typical score becomes 1.
    case mean
    /// score / √(Σ score²) of the layer (its L2 norm).
    case l2
}

/// A criterion given as a closure, e.g. a function written in Lua: it receives the context
/// (model, layer, weights, and on request gradients, Hessian diagonal, input statistics) and
/// returns the scores.
public struct ClosurePruner: Pruner {
    public let name: String
    public let globalNormalization: ScoreNormalization
    public let body: (PruningContext) throws -> Tensor

    public init(name: String, globalNormalization: ScoreNormalization = .mean,
                _ body: @escaping (PruningContext) throws -> Tensor) {
        self.name = name
        self.globalNormalization = globalNormalization
        self.body = body
    }

    public func scores(_ context: PruningContext) throws -> Tensor { try body(context) }
}
