/// How a criterion that measures or estimates a loss change combines the scoring set's
/// batches (the option `accumulate`, for `taylor1`, `taylor12`, `emp` and `emp-naive`):
///
/// - `set` (the default): the change of the set's mean loss, ΔL = (1/N) Σ_e Δℓ_e, then ranked
///   by the option `rank` (`ScoreRanking`).
/// - `batch`: the mean over the B scoring batches of the squared change of each batch's mean
///   loss (Molchanov et al. 2019, "Importance estimation for neural network pruning"):
///
///       score = (1/B) Σ_b ΔL_b²,   ΔL_b = (1/|b|) Σ_{e∈b} Δℓ_e,
///
///   the batches being the set's images in order, `batchSize` at a time (the last one may be
///   smaller). At a trained model the set's mean gradient is near 0, so `taylor1`'s |ḡ · w|
///   is mostly noise; changes that cancel across batches still count here. The scores are
///   squares, so `rank` does not apply (asking for both is an error).
public enum ScoreAccumulation: String, CaseIterable {
    case set, batch
}

/// Σ_b ΔL_b² over the batches, one double accumulator per weight: `add(batch:count:)` takes a
/// batch's summed (not mean) changes, `scores()` gives (1/B) Σ_b ΔL_b².
struct BatchSquareAccumulator {
    private var total: [Double]
    private(set) var batches = 0

    init(count: Int) { total = [Double](repeating: 0, count: count) }

    /// Adds (s_i / n)² for each weight i, s the summed change of the batch's n examples.
    mutating func add(batchSums s: UnsafePointer<Double>, count n: Int) {
        let inv = 1 / Double(n)
        for i in 0..<total.count { let m = s[i] * inv; total[i] += m * m }
        batches += 1
    }

    /// Adds ΔL_b² for each weight, ΔL_b already the batch's mean change.
    mutating func add(batchMeans m: (Int) -> Double) {
        for i in 0..<total.count { let v = m(i); total[i] += v * v }
        batches += 1
    }

    /// (1/B) Σ_b ΔL_b², as a tensor of `shape`.
    func scores(shape: [Int]) -> Tensor {
        let t = Tensor(shape: shape)
        let b = Double(Swift.max(batches, 1))
        for i in 0..<total.count { t[i] = Float(total[i] / b) }
        return t
    }
}
