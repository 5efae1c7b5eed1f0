import Foundation

/// Adam with Torch optim.adam's semantics, per parameter θ with gradient g (already the mean
/// over the batch) and its own step count t:
///
///   g ← g + weightDecay · θ
///   m ← β₁ m + (1 - β₁) g
///   v ← β₂ v + (1 - β₂) g²
///   θ ← θ - lr · scale_module · √(1 - β₂ᵗ) / (1 - β₁ᵗ) · m / (√v + ε)
///
/// then the parameter's mask is applied to θ, m and v (`Parameter.applyMask`, `maskState`), so
/// a pruned weight stays exactly 0 and no stale moment moves it once the mask lets it through
/// again. Frozen modules and frozen parameters are skipped, scores train as parameters;
/// `Module.learningRateScale` multiplies the rate per module. The parameters' `grad` tensors
/// are read, not modified.
///
/// Settings come per parameter group (`groups`); without groups, every parameter of the model
/// passed to `step` uses this optimiser's `learningRate`, `beta1`, ... Moments and step counts
/// live as long as the optimiser; `resetState(of:elements:)` zeroes the moments of chosen
/// elements.
public final class Adam: Optimizer {
    /// The settings used when `groups` is empty.
    public let defaults: ParameterGroup
    /// Parameter groups; empty: the whole model, with `defaults`.
    public var groups: [ParameterGroup]
    public var learningRate: Float { get { defaults.learningRate } set { defaults.learningRate = newValue } }
    public var beta1: Float { get { defaults.beta1 } set { defaults.beta1 = newValue } }
    public var beta2: Float { get { defaults.beta2 } set { defaults.beta2 = newValue } }
    public var epsilon: Float { get { defaults.epsilon } set { defaults.epsilon = newValue } }
    public var weightDecay: Float { get { defaults.weightDecay } set { defaults.weightDecay = newValue } }

    /// First and second moments and step count of one parameter.
    private final class Moments {
        let m: Tensor, v: Tensor
        var t = 0
        init(_ shape: [Int]) {
            m = Tensor(shape: shape)
            v = Tensor(shape: shape)
        }
    }
    private var state: [ObjectIdentifier: Moments] = [:]

    public init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0) {
        defaults = ParameterGroup([], learningRate: learningRate, weightDecay: weightDecay, beta1: beta1, beta2: beta2,
                                  epsilon: epsilon)
        groups = []
    }

    /// An optimiser over `groups`, each with its own settings.
    public convenience init(groups: [ParameterGroup]) {
        self.init()
        self.groups = groups
    }

    public func step(_ model: Module) {
        for (p, g, scale) in OptimizerPlan(model: model, groups: groups, fallback: defaults).entries {
            update(p, g, lr: g.learningRate * scale)
        }
    }

    private func update(_ p: Parameter, _ group: ParameterGroup, lr: Float) {
        let beta1 = group.beta1, beta2 = group.beta2
        let key = ObjectIdentifier(p)
        let s: Moments
        if let existing = state[key], existing.m.count == p.value.count {
            s = existing
        } else {
            s = Moments(p.value.shape)
            state[key] = s
        }
        s.t += 1
        let biasCorrection1 = 1 - Foundation.pow(Double(beta1), Double(s.t))
        let biasCorrection2 = 1 - Foundation.pow(Double(beta2), Double(s.t))
        let stepSize = Float(Double(lr) * biasCorrection2.squareRoot() / biasCorrection1)
        let n = p.value.count
        let x = p.value.data, g = p.grad.data, m = s.m.data, v = s.v.data
        let b1 = beta1, b2 = beta2, eps = group.epsilon, wd = group.weightDecay
        for i in 0..<n {
            let gi = g[i] + wd * x[i]
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            x[i] -= stepSize * m[i] / (v[i].squareRoot() + eps)
        }
        p.applyMask()
        p.maskState(s.m)
        p.maskState(s.v)
    }

    /// Forgets the moments and step counts (e.g. after a model is reloaded).
    public func reset() { state = [:] }

    /// Zeroes both moments of `p` at `elements` (0-based flat indices), or all of them when nil;
    /// the step count (for the bias corrections) goes on.
    public func resetState(of p: Parameter, elements: [Int]? = nil) throws {
        guard let s = state[ObjectIdentifier(p)] else { return }
        try zero(s.m, at: elements, of: p)
        try zero(s.v, at: elements, of: p)
    }

    /// The first and second moments and the step count of `p` (nil before its first step).
    public func moments(of p: Parameter) -> (m: Tensor, v: Tensor, t: Int)? {
        state[ObjectIdentifier(p)].map { ($0.m, $0.v, $0.t) }
    }
}
