/// Stochastic gradient descent with Torch optim.sgd's semantics, per parameter θ with
/// gradient g (already the mean over the batch):
///
///   g ← g + weightDecay · θ
///   v ← g (first step),  v ← momentum · v + (1 - dampening) · g (afterwards)
///   g ← g + momentum · v (nesterov)  or  g ← v
///   θ ← θ - lr · scale_module / (1 + t · learningRateDecay) · g
///
/// then the parameter's mask is applied to θ and v (`Parameter.applyMask`, `maskState`): a
/// masked weight stays exactly 0, keeps its stored value, and has no momentum. When the step
/// trained the mask's active entries alone (`Parameter.stepEntries`: a layer on its sparse
/// training path read them from the mask at this step's forward pass) and the mask is the one
/// v was last masked under, only those entries are updated (the same formula, the same bits:
/// under the mask θ and v are 0 already, and stay so). Sparse training reads the mask at the
/// forward pass: a mask changed between the forward pass and the step (no method here does)
/// takes effect at the next forward pass, which zeroes θ under it, and the next step, which
/// then runs over all entries and zeroes v under it. Frozen
/// modules and frozen parameters are skipped; scores are trained as parameters of their own;
/// `Module.learningRateScale` multiplies the rate per module.
///
/// Settings come per parameter group (`groups`, each with its own rate, momentum, ...);
/// without groups, every parameter of the model passed to `step` is in one group whose
/// settings are this optimiser's `learningRate`, `momentum`, ... The velocity of each
/// parameter lives as long as the optimiser: any number of training calls continue it, and
/// `resetState(of:elements:)` zeroes it for chosen elements (a regrown connection starts
/// without momentum).
public final class SGD: Optimizer {
    /// The settings used when `groups` is empty.
    public let defaults: ParameterGroup
    /// Parameter groups; empty: the whole model, with `defaults`.
    public var groups: [ParameterGroup]
    public var learningRate: Float { get { defaults.learningRate } set { defaults.learningRate = newValue } }
    public var momentum: Float { get { defaults.momentum } set { defaults.momentum = newValue } }
    public var dampening: Float { get { defaults.dampening } set { defaults.dampening = newValue } }
    public var nesterov: Bool { get { defaults.nesterov } set { defaults.nesterov = newValue } }
    public var weightDecay: Float { get { defaults.weightDecay } set { defaults.weightDecay = newValue } }
    /// Torch's learningRateDecay: the rate of step t is lr / (1 + t · decay), for every group.
    public var learningRateDecay: Float
    private var velocity: [ObjectIdentifier: Tensor] = [:]
    /// The mask layout each parameter's last step ran under (its velocity is 0 under that
    /// mask): the condition of the active-entries step.
    private var steppedUnder: [ObjectIdentifier: MaskPattern] = [:]
    /// Parameter updates so far that ran over the active entries alone (for inspection).
    public private(set) var activeEntryUpdates = 0
    private var evaluations = 0

    public init(learningRate: Float = 0.01, momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false,
                weightDecay: Float = 0, learningRateDecay: Float = 0) {
        defaults = ParameterGroup([], learningRate: learningRate, momentum: momentum, dampening: dampening,
                                  nesterov: nesterov, weightDecay: weightDecay)
        groups = []
        self.learningRateDecay = learningRateDecay
    }

    /// An optimiser over `groups`, each with its own settings.
    public convenience init(groups: [ParameterGroup], learningRateDecay: Float = 0) {
        self.init(learningRateDecay: learningRateDecay)
        self.groups = groups
    }

    public func step(_ model: Module) {
        let decay = 1 + Float(evaluations) * learningRateDecay
        evaluations += 1
        for (p, g, scale) in OptimizerPlan(model: model, groups: groups, fallback: defaults).entries {
            update(p, g, lr: g.learningRate / decay * scale)
        }
    }

    private func update(_ p: Parameter, _ group: ParameterGroup, lr: Float) {
        let x = p.value.data, g = p.grad.data
        let wd = group.weightDecay, mom = group.momentum, damp = 1 - group.dampening, nesterov = group.nesterov
        let key = ObjectIdentifier(p)
        let first = mom != 0 && velocity[key] == nil
        if first { velocity[key] = Tensor(shape: p.value.shape) }
        let v = mom != 0 ? velocity[key]?.data : nil
        if let entries = p.stepEntries, p.mask != nil, steppedUnder[key] === entries || first {
            // Only the active entries: x and v are 0 under the mask (the forward pass applied it
            // to x, the last step under this mask to v; a new v is all 0). Elementwise, so the
            // rows split across the threads (the same bits for any split).
            let perRow = Swift.max(1, 8 * entries.count / Swift.max(entries.rows, 1))
            Parallel.forChunks(entries.rows, costPerItem: perRow) { rows in
                // Each case its own loop over the positions (no test per entry).
                if let v {
                    if first {
                        entries.forEachPosition(rows: rows) { i in
                            let gi = g[i] + wd * x[i]
                            v[i] = gi
                            x[i] -= lr * (nesterov ? gi + mom * gi : gi)
                        }
                    } else if nesterov {
                        entries.forEachPosition(rows: rows) { i in
                            let gi = g[i] + wd * x[i]
                            v[i] = mom * v[i] + damp * gi
                            x[i] -= lr * (gi + mom * v[i])
                        }
                    } else {
                        entries.forEachPosition(rows: rows) { i in
                            v[i] = mom * v[i] + damp * (g[i] + wd * x[i])
                            x[i] -= lr * v[i]
                        }
                    }
                } else {
                    entries.forEachPosition(rows: rows) { i in x[i] -= lr * (g[i] + wd * x[i]) }
                }
            }
            steppedUnder[key] = entries
            activeEntryUpdates += 1
            return
        }
        // Elementwise, so chunks update independently (the same bits for any split). Each case
        // is its own branch-free loop, so that it vectorises.
        Parallel.forChunks(p.value.count, costPerItem: 4) { r in
            let (lo, hi) = (r.lowerBound, r.upperBound)
            if let v {
                if first {
                    for i in lo..<hi {
                        let gi = g[i] + wd * x[i]
                        v[i] = gi
                        x[i] -= lr * (nesterov ? gi + mom * gi : gi)
                    }
                } else if nesterov {
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
        }
        p.applyMask()
        if let v = velocity[key] { p.maskState(v) }
        steppedUnder[key] = p.mask != nil ? p.stepEntries : nil
    }

    /// Forgets momentum (e.g. after a model is reloaded).
    public func reset() {
        velocity = [:]
        steppedUnder = [:]
        evaluations = 0
    }

    /// Zeroes the velocity of `p` at `elements` (0-based flat indices), or all of it when nil.
    public func resetState(of p: Parameter, elements: [Int]? = nil) throws {
        guard let v = velocity[ObjectIdentifier(p)] else { return }
        try zero(v, at: elements, of: p)
    }

    /// The velocity of `p` (nil before its first step with momentum), for inspection.
    public func velocity(of p: Parameter) -> Tensor? { velocity[ObjectIdentifier(p)] }

    /// Sets the velocity of `p` to a copy of `v` (shaped like p; nil: none, so that the next
    /// step starts it as v ← g), as a checkpoint saved it: the steps then continue exactly.
    public func setVelocity(of p: Parameter, to v: Tensor?) throws {
        steppedUnder[ObjectIdentifier(p)] = nil
        guard let v else { velocity[ObjectIdentifier(p)] = nil; return }
        guard v.count == p.value.count else {
            throw EngineError("a velocity of \(v.count) values (\(shapeString(v.shape))) for a \(p.name) of \(p.value.count) (\(shapeString(p.value.shape)))")
        }
        let copy = Tensor(shape: p.value.shape)
        copy.copy(from: v)
        p.maskState(copy)
        velocity[ObjectIdentifier(p)] = copy
    }
}

/// `t[i] = 0` for i in `elements` (all of t when nil), each checked against `p`'s size.
func zero(_ t: Tensor, at elements: [Int]?, of p: Parameter) throws {
    guard let elements else { t.zero(); return }
    for i in elements {
        guard i >= 0 && i < t.count else {
            throw EngineError("optimiser state of the \(p.name) (\(shapeString(p.value.shape))): element \(i + 1) does not exist (1...\(t.count))")
        }
        t.data[i] = 0
    }
}

/// An optimiser updates a model's parameters from their accumulated gradients.
public protocol Optimizer: AnyObject {
    func step(_ model: Module)
    /// Forgets all state (velocity, moments, step counts).
    func reset()
    /// Zeroes the state of `p` at `elements` (0-based flat indices), or all of it when nil.
    func resetState(of p: Parameter, elements: [Int]?) throws
    /// The groups whose settings a schedule changes; empty when the optimiser runs on its defaults.
    var groups: [ParameterGroup] { get }
    /// The settings used when there are no groups.
    var defaults: ParameterGroup { get }
}
