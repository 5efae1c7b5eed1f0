/// Weight counts of a model, as the reference tool counted them: the weights of every layer
/// that has some (biases not counted).
public enum Compression {
    /// Total number of weights.
    public static func weightCount(_ model: Module) -> Int {
        leafModules(model).compactMap(\.weight).reduce(0) { $0 + $1.value.count }
    }

    /// Number of weights that are exactly zero (pruned or not).
    public static func zeroCount(_ model: Module) -> Int {
        leafModules(model).compactMap(\.weight).reduce(0) { $0 + $1.value.zeroCount() }
    }

    /// The reference's "Total Compression": the fraction of all weights that are zero
    /// (0.6431... after pruning 70% of layer 8 of a reference LeNet-5 with no other zeros:
    /// 0.7 · 288,000 / 313,470).
    public static func total(_ model: Module) -> Double {
        let n = weightCount(model)
        return n == 0 ? 0 : Double(zeroCount(model)) / Double(n)
    }
}
