/// Physical removal of output units (neurons, filters) from a flat `Sequential`, and the
/// masked model it equals.
///
/// Removing unit j of layer l (`UnitPlan`) removes row j of l's weight and entry j of its bias,
/// entry j of every batch norm on the way (γ, β, running mean and variance; s entries per
/// unit after a flatten), shrinks a View/Reshape on the way by s features per unit, and removes
/// the consumer's input columns j·s ..< (j+1)·s (nn.Linear) or input plane j
/// (nn.SpatialConvolution). The consumer's output is then
///   y = Σ_{kept units k} W[:, cols(k)] a_k + b,
/// which is exactly the original's output with the removed units' columns masked to zero
/// (`mask`), whatever the activations and batch norms in between do to those units.
/// Masks, frozen flags, learning-rate scales and the mode carry over (masks sliced as the
/// weights); gradients start at zero.
public enum UnitRemoval {
    /// A new model without the units `removed` (0-based, any order) of layer `layer`
    /// (1-based); `model` is left as it is. Removing every unit is an error.
    public static func remove(model: Sequential, layer: Int, units removed: [Int],
                              types: ModuleTypeRegistry? = nil) throws -> Sequential {
        let plan = try UnitPlan(model: model, layer: layer)
        let keep = try kept(plan, layer: layer, removed: removed)
        let k = keep.count, s = plan.featuresPerUnit
        var specs = model.modules.map(\.spec)
        specs[plan.producer].args[1] = Double(k)
        for (i, perUnit) in plan.sized where specs[i].args[0] != -1 { specs[i].args[0] = Double(k * perUnit) }
        specs[plan.consumer].args[0] = Double(model.modules[plan.consumer] is Linear ? k * s : k)
        guard let thin = try ModuleFactory.make(ModuleSpec(type: "nn.Sequential", modules: specs), types: types) as? Sequential else {
            throw EngineError("the thinned model is not an nn.Sequential")
        }
        let sized = Set(plan.sized.map(\.index))
        for (i, (old, new)) in zip(model.modules, thin.modules).enumerated() {
            let select: (_ which: Int, _ t: Tensor, _ into: [Int]) -> Tensor
            if i == plan.producer || sized.contains(i) {
                // Every tensor is [units, ...]: the kept units' slices.
                select = { _, t, shape in UnitSlicing.select(t, outer: 1, units: plan.units, keep: keep, shape: shape) }
            } else if i == plan.consumer {
                // The weight is [out, units·s, ...] (Linear) or [out, units, kH, kW]; the bias stays.
                select = { which, t, shape in
                    which == 0 ? UnitSlicing.select(t, outer: t.shape[0], units: plan.units, keep: keep, shape: shape) : t
                }
            } else {
                select = { _, t, _ in t }
            }
            try transfer(from: old, to: new, layer: i + 1, select)
        }
        if model.isTraining { thin.training() } else { thin.evaluate() }
        return thin
    }

    /// Masks what `remove` would take away, in `model` itself: the units' rows of layer
    /// `layer`'s weight and bias and the consumer's input columns (or planes) that read them
    /// (multiplied into masks already there). The model's outputs are then those of the
    /// thinned model.
    public static func mask(model: Sequential, layer: Int, units removed: [Int]) throws {
        let plan = try UnitPlan(model: model, layer: layer)
        let keep = Set(try kept(plan, layer: layer, removed: removed))
        let producer = model.modules[plan.producer], consumer = model.modules[plan.consumer]
        for p in producer.parameters {
            try maskUnits(p, outer: 1, units: plan.units, keep: keep)
        }
        try maskUnits(consumer.weight!, outer: consumer.weight!.value.shape[0], units: plan.units, keep: keep)
    }

    /// The kept units (0-based, increasing), after checking `removed`.
    static func kept(_ plan: UnitPlan, layer: Int, removed: [Int]) throws -> [Int] {
        var gone = Set<Int>()
        for u in removed {
            guard u >= 0 && u < plan.units else {
                throw EngineError("layer \(layer) has units 1..\(plan.units), cannot remove unit \(u + 1)")
            }
            gone.insert(u)
        }
        let keep = (0..<plan.units).filter { !gone.contains($0) }
        guard !keep.isEmpty else {
            throw EngineError("removing all \(plan.units) units of layer \(layer) would leave the model with nothing flowing through it")
        }
        return keep
    }

    private static func maskUnits(_ p: Parameter, outer: Int, units: Int, keep: Set<Int>) throws {
        let m = p.mask?.clone() ?? Tensor(shape: p.value.shape, repeating: 1)
        let group = m.count / (outer * units), x = m.data
        for o in 0..<outer {
            for u in 0..<units where !keep.contains(u) {
                let start = (o * units + u) * group
                for e in start..<(start + group) { x[e] = 0 }
            }
        }
        try p.setMask(m)
    }

    /// Copies `old`'s state into `new` (same type, sizes reduced by `select`): stored weights
    /// and masks of each parameter (argument 0 for the weight, 1 for the bias), buffers,
    /// frozen flags and learning-rate scale.
    private static func transfer(from old: Module, to new: Module, layer: Int,
                                 _ select: (Int, Tensor, [Int]) -> Tensor) throws {
        new.isFrozen = old.isFrozen
        new.learningRateScale = old.learningRateScale
        new.isEvaluationPinned = old.isEvaluationPinned
        for (which, (p, q)) in zip(old.parameters, new.parameters).enumerated() {
            guard p.scores == nil else {
                throw EngineError("layer \(layer) (\(old.description)): its \(p.name) has scores choosing its mask; remove them before structured pruning")
            }
            try q.setWeights(select(which, p.weights(), q.value.shape))
            if let mask = p.mask { try q.setMask(select(which, mask, q.value.shape)) }
            q.isFrozen = p.isFrozen
        }
        for (x, y) in zip(old.buffers, new.buffers) { y.value.copy(from: select(0, x.value, y.value.shape)) }
    }
}

/// Selecting units along one axis of a tensor seen as [outer, units, group].
enum UnitSlicing {
    /// y[o, i, e] = t[o, keep[i], e], with group = t.count / (outer · units), shaped `shape`.
    static func select(_ t: Tensor, outer: Int, units: Int, keep: [Int], shape: [Int]) -> Tensor {
        let group = t.count / (outer * units)
        let y = Tensor(shape: shape)
        let src = t.data, dst = y.data
        var d = 0
        for o in 0..<outer {
            for u in keep {
                let start = (o * units + u) * group
                for e in 0..<group { dst[d + e] = src[start + e] }
                d += group
            }
        }
        return y
    }
}
