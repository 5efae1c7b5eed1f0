import Foundation

/// `l1`, `l2`: learned importance scales. The layer's weights W are multiplied elementwise by
/// scales s (initialised to 1), and only s is trained, by SGD with momentum over the scoring
/// set for `options.scaleEpochs` epochs (batches in an order drawn from the seed), on
///
///   J(s) = L(W ⊙ s) + λ Σ|s|   (l1)   or   L(W ⊙ s) + λ Σ s²   (l2),
///
/// with ∂J/∂s = ∂L/∂W_eff ⊙ W + λ sign(s)  (or + 2λ s), where ∂L/∂W_eff is the layer's own
/// weight gradient at W_eff = W ⊙ s (the chain rule). Score, by option `rank`:
///
/// - signed (default): |s|, i.e. s while the scales stay positive. To first order s moves by
///   -lr Σ_t (∂J/∂s)_t, and zeroing the weight changes the loss by about -∂L/∂s, so ranking by
///   s ranks by the signed loss change (plus the penalty's drift, the same for every scale);
/// - abs: |s - s₀|, s₀ the scale the same steps give a weight of zero loss gradient (the
///   penalty's drift alone, followed through the same SGD with momentum): how far the loss
///   moved this scale, the magnitude of that change;
/// - square: (s - s₀)².
///
/// W is restored bit for bit afterwards; the rest of the model (other parameters, gradients,
/// frozen flags, mode) is left untouched: other modules are frozen during training so that
/// the backward pass stops at this layer. Cost: `epochs` forward + backward passes (down to
/// this layer) over the scoring set.
public struct LearnedScalePruner: Pruner {
    public enum Penalty: String { case l1, l2 }
    public let penalty: Penalty

    public init(_ penalty: Penalty) { self.penalty = penalty }

    public var name: String { penalty.rawValue }

    public func scores(_ context: PruningContext) throws -> Tensor {
        let data = try context.requireScoringSet(for: name)
        let opt = context.options
        let model = context.model, weight = context.weight
        let state = ModelStateGuard(model)
        let original = weight.value.clone()
        defer {
            weight.value.copy(from: original)
            state.restore()
        }
        model.evaluate()
        for m in allModules(model) { m.isFrozen = true }
        model.isFrozen = false
        context.module.isFrozen = false

        let n = original.count
        let scales = Tensor(shape: original.shape, repeating: 1)
        let velocity = Tensor(shape: original.shape)
        let s = scales.data, v = velocity.data, w = original.data
        let value = weight.value.data, g = weight.grad.data
        let lr = opt.scaleLearningRate, mom = opt.scaleMomentum, lambda = opt.scalePenalty
        let l1 = penalty == .l1
        var rng = RandomGenerator(seed: context.seed)
        let inputs = Tensor(), targets = Tensor()
        var firstStep = true
        var s0: Float = 1, v0: Float = 0   // a scale moved by the penalty alone
        for _ in 0..<opt.scaleEpochs {
            let order = rng.permutation(data.count)
            var start = 0
            while start < data.count {
                let end = Swift.min(start + context.batchSize, data.count)
                data.fillBatch(order[start..<end], inputs: inputs, targets: targets)
                start = end
                for i in 0..<n { value[i] = w[i] * s[i] }
                weight.grad.zero()
                let out = try model.forward(inputs)
                _ = try context.criterion.forward(out, targets)
                let dOut = try context.criterion.backward(out, targets)
                try model.backwardParametersOnly(inputs, dOut)
                for i in 0..<n {
                    let penaltyGradient = l1 ? lambda * (s[i] > 0 ? 1 : (s[i] < 0 ? -1 : 0)) : 2 * lambda * s[i]
                    let gs = g[i] * w[i] + penaltyGradient
                    v[i] = firstStep ? gs : mom * v[i] + gs
                    s[i] -= lr * v[i]
                }
                let penaltyOnly = l1 ? lambda * (s0 > 0 ? 1 : (s0 < 0 ? -1 : 0)) : 2 * lambda * s0
                v0 = firstStep ? penaltyOnly : mom * v0 + penaltyOnly
                s0 -= lr * v0
                firstStep = false
            }
        }
        switch opt.ranking ?? .signed {
        case .signed: scales.absInPlace()
        case let r:
            scales.addScalar(-s0)
            r.apply(to: scales)
        }
        return scales
    }
}
