/// `mag`: score = |w|. Global mode compares raw magnitudes across layers (one threshold
/// for the whole net, as Han et al. 2015). Cost: one pass over the weights.
public struct MagnitudePruner: Pruner {
    public init() {}
    public var name: String { "mag" }
    public var globalNormalization: ScoreNormalization { .none }

    public func scores(_ context: PruningContext) throws -> Tensor {
        let s = context.weight.value.clone()
        s.absInPlace()
        return s
    }
}
