extension Module {
    /// Torch's `updateParameters(lr)`: θ ← θ - lr · scale_module · ∂L/∂θ for every parameter
    /// an optimiser would update (not frozen, in a module that is not frozen; scores too), then
    /// the masks are applied (`Parameter.applyMask`).
    public func updateParameters(learningRate lr: Float) {
        let plain = ParameterGroup([], learningRate: lr)
        for (p, _, scale) in OptimizerPlan(model: self, groups: [], fallback: plain).entries {
            p.value.add(p.grad, alpha: -lr * scale)
            p.applyMask()
        }
    }
}
