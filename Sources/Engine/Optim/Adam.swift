import Foundation

/// Adam with Torch optim.adam's semantics, per parameter θ with gradient g (already the mean
/// over the batch) and its own step count t:
///
///   g ← g + weightDecay · θ
///   m ← β₁ m + (1 - β₁) g
///   v ← β₂ v + (1 - β₂) g²
///   θ ← θ - lr · scale_module · √(1 - β₂ᵗ) / (1 - β₁ᵗ) · m / (√v + ε)
///
/// then θ ⊙= mask, m ⊙= mask and v ⊙= mask, so a pruned weight stays exactly 0 and no stale
/// moment can bring it back once the mask is removed. Frozen modules are skipped;
/// `Module.learningRateScale` multiplies the rate per module. The parameters' `grad` tensors
/// are read, not modified.
public final class Adam: Optimizer {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float

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
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    public func step(_ model: Module) {
        for m in leafModules(model) where !m.isFrozen {
            let lr = learningRate * m.learningRateScale
            for p in m.parameters { update(p, lr: lr) }
        }
    }

    private func update(_ p: Parameter, lr: Float) {
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
        let b1 = beta1, b2 = beta2, eps = epsilon, wd = weightDecay
        for i in 0..<n {
            let gi = g[i] + wd * x[i]
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            x[i] -= stepSize * m[i] / (v[i].squareRoot() + eps)
        }
        if let mask = p.mask {
            s.m.cmul(mask)
            s.v.cmul(mask)
        }
        p.applyMask()
    }

    /// Forgets the moments and step counts (e.g. after a model is reloaded).
    public func reset() { state = [:] }
}
