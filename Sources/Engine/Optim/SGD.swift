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
        let n = p.value.count
        let x = p.value.data, g = p.grad.data
        let wd = weightDecay, mom = momentum, damp = 1 - dampening
        if momentum == 0 {
            for i in 0..<n { x[i] -= lr * (g[i] + wd * x[i]) }
        } else {
            let key = ObjectIdentifier(p)
            if let v = velocity[key] {
                let vb = v.data
                if nesterov {
                    for i in 0..<n {
                        let gi = g[i] + wd * x[i]
                        vb[i] = mom * vb[i] + damp * gi
                        x[i] -= lr * (gi + mom * vb[i])
                    }
                } else {
                    for i in 0..<n {
                        vb[i] = mom * vb[i] + damp * (g[i] + wd * x[i])
                        x[i] -= lr * vb[i]
                    }
                }
            } else {
                let v = Tensor(shape: p.value.shape)
                let vb = v.data
                for i in 0..<n {
                    let gi = g[i] + wd * x[i]
                    vb[i] = gi
                    x[i] -= lr * (nesterov ? gi + mom * gi : gi)
                }
                velocity[key] = v
            }
            if let m = p.mask { velocity[key]!.cmul(m) }
        }
        p.applyMask()
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
