/// Stochastic gradient descent with Torch optim.sgd's semantics, per parameter θ with
/// gradient g (already the mean over the batch):
///
///   g ← g + weightDecay · θ
///   v ← g (first step),  v ← momentum · v + (1 - dampening) · g (afterwards)
///   g ← g + momentum · v (nesterov)  or  g ← v
///   θ ← θ - lr · scale_module / (1 + t · learningRateDecay) · g
///
/// then θ ⊙= mask (and v ⊙= mask), so pruned weights stay exactly 0. Frozen modules are
/// skipped; `Module.learningRateScale` multiplies the rate per module.
public final class SGD: Optimizer {
    public var learningRate: Float
    public var momentum: Float
    public var dampening: Float
    public var nesterov: Bool
    public var weightDecay: Float
    public var learningRateDecay: Float
    private var velocity: [ObjectIdentifier: Tensor] = [:]
    private var evaluations = 0

    public init(learningRate: Float = 0.01, momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false,
                weightDecay: Float = 0, learningRateDecay: Float = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.learningRateDecay = learningRateDecay
    }

    public func step(_ model: Module) {
        let clr = learningRate / (1 + Float(evaluations) * learningRateDecay)
        evaluations += 1
        for m in leafModules(model) where !m.isFrozen {
            let lr = clr * m.learningRateScale
            for p in m.parameters { update(p, lr: lr) }
        }
    }

    private func update(_ p: Parameter, lr: Float) {
        let x = p.value.data, g = p.grad.data
        let wd = weightDecay, mom = momentum, damp = 1 - dampening
        let key = ObjectIdentifier(p)
        let first = momentum != 0 && velocity[key] == nil
        if first { velocity[key] = Tensor(shape: p.value.shape) }
        let v = velocity[key]?.data
        // Elementwise, so chunks update independently (the same bits for any split). Each case
        // is its own branch-free loop, so that it vectorises.
        Parallel.forChunks(p.value.count, costPerItem: 4) { r in
            let (lo, hi) = (r.lowerBound, r.upperBound)
            if let v {
                if first {
                    for i in lo..<hi {
                        let gi = g[i] + wd * x[i]
                        v[i] = gi
                        x[i] -= lr * (self.nesterov ? gi + mom * gi : gi)
                    }
                } else if self.nesterov {
                    for i in lo..<hi {
                        let gi = g[i] + wd * x[i]
                        v[i] = mom * v[i] + damp * gi
                        x[i] -= lr * (gi + mom * v[i])
                    }
                } else {
                    for i in lo..<hi {
                        v[i] = mom * v[i] + damp * (g[i] + wd * x[i])
                        x[i] -= lr * v[i]
                    }
                }
            } else {
                for i in lo..<hi { x[i] -= lr * (g[i] + wd * x[i]) }
            }
            if let m = p.mask?.data {
                for i in lo..<hi { x[i] *= m[i] }
                if let v { for i in lo..<hi { v[i] *= m[i] } }
            }
        }
    }

    /// Forgets momentum (e.g. after a model is reloaded).
    public func reset() {
        velocity = [:]
        evaluations = 0
    }
}

/// An optimiser updates a model's parameters from their accumulated gradients.
public protocol Optimizer: AnyObject {
    func step(_ model: Module)
    func reset()
}
