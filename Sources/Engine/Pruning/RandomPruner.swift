/// `random`: score ~ U(0, 1), drawn from a generator seeded by the settings' seed and the
/// layer index, so the same seed gives the same scores (and masks) on every machine: the
/// baseline every study needs. Cost: one pass over the weights.
public struct RandomPruner: Pruner {
    public init() {}
    public var name: String { "random" }
    public var globalNormalization: ScoreNormalization { .none }

    public func scores(_ context: PruningContext) throws -> Tensor {
        var rng = RandomGenerator(seed: context.seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(context.layer))
        let s = Tensor(shape: context.weight.value.shape)
        s.fillUniform(0, 1, &rng)
        return s
    }
}
