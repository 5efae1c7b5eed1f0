import Foundation

/// `emp-naive`: the empirical score by its definition, one full evaluation per weight:
///
///   score_i = L(W with W_i = 0) - L(W),   L the mean loss over the scoring set,
///
/// so larger means more important and a negative score means removing the weight lowers the
/// loss (pruned first). Weights already pruned (masked or zero) score 0 without evaluation.
/// With a softmax cross-entropy loss the per-example losses are taken in double precision
/// from the logits and differenced example by example. Cost: (nonzero weights + 1) forward
/// passes over the scoring set — the reference for `emp`, for small nets and tests.
/// Option `rank` (`ScoreRanking`): signed (default), abs or square of the change. Option
/// accumulate=batch (`ScoreAccumulation`): (1/B) Σ_b ΔL_b² over the scoring batches.
public struct EmpiricalNaivePruner: Pruner {
    public init() {}
    public var name: String { "emp-naive" }
    public var globalNormalization: ScoreNormalization { .none }

    public func scores(_ context: PruningContext) throws -> Tensor {
        let data = try context.requireScoringSet(for: name)
        let byBatch = try context.options.accumulatesBatches(for: name)
        let model = context.model, weight = context.weight
        let chain = LayerChain(model)
        try chain.requireChain(for: name)
        let head = try? SoftmaxCrossEntropyHead(chain, criterion: context.criterion, pruner: name)
        let state = ModelStateGuard(model)
        defer { state.restore() }
        model.evaluate()

        /// Per-example losses (softmax cross-entropy) or per-batch summed losses (other criteria).
        /// `batches`: per scoring batch, its entries of the losses and its example count.
        var batches = [(entries: Range<Int>, examples: Int)]()
        func losses() throws -> [Double] {
            var out = [Double]()
            batches.removeAll(keepingCapacity: true)
            out.reserveCapacity(data.count)
            try forEachBatch(data, batchSize: context.batchSize) { x, t, range in
                let y = try model.forward(x)
                if let head {
                    let z = head.logits(chain, modelInput: x)
                    let classes = z.count / range.count
                    for e in 0..<range.count {
                        out.append(SoftmaxCrossEntropyHead.loss(z.data + e * classes, classes: classes, target: Int(t[e])))
                    }
                } else {
                    let l = try context.criterion.forward(y, t)
                    out.append(Double(l) * (context.criterion.sizeAverage ? Double(range.count) : 1))
                }
                batches.append(((batches.last?.entries.upperBound ?? 0)..<out.count, range.count))
            }
            return out
        }

        let base = try losses()
        let scores = Tensor(shape: weight.value.shape)
        let w = weight.value.data, mask = weight.mask?.data
        for i in 0..<weight.value.count {
            if w[i] == 0 || mask?[i] == 0 { continue }
            let saved = w[i]
            w[i] = 0
            let changed: [Double]
            do { changed = try losses() } catch { w[i] = saved; throw error }
            w[i] = saved
            try Interrupt.check()
            if byBatch {
                var squares = 0.0
                for b in batches {
                    var sum = 0.0
                    for e in b.entries { sum += changed[e] - base[e] }
                    let mean = sum / Double(b.examples)
                    squares += mean * mean
                }
                scores[i] = Float(squares / Double(batches.count))
                continue
            }
            var sum = 0.0
            for e in 0..<base.count { sum += changed[e] - base[e] }
            scores[i] = Float(sum / Double(data.count))
        }
        (context.options.ranking ?? .signed).apply(to: scores)
        return scores
    }
}
