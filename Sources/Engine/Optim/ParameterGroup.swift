/// A list of parameters and the settings an optimiser applies to them (PyTorch's
/// `param_groups`, tinygrad's optimiser state): each group has its own learning rate,
/// momentum, weight decay, ... and any of them may change between two steps (a schedule, a
/// hook). SGD reads `learningRate`, `momentum`, `dampening`, `nesterov`, `weightDecay`; Adam
/// reads `learningRate`, `beta1`, `beta2`, `epsilon`, `weightDecay`.
public final class ParameterGroup {
    public var parameters: [Parameter]
    public var learningRate: Float
    public var momentum: Float
    public var dampening: Float
    public var nesterov: Bool
    public var weightDecay: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float

    public init(_ parameters: [Parameter], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
                nesterov: Bool = false, weightDecay: Float = 0, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }
}

/// What one optimiser step updates: each parameter of `model` (or of the optimiser's groups)
/// with the settings of its group and the learning-rate multiplier of its module, each
/// parameter followed by its scores when it has them; frozen parameters and the parameters
/// of frozen modules are left out.
struct OptimizerPlan {
    let entries: [(parameter: Parameter, group: ParameterGroup, scale: Float)]

    /// `groups` empty: every parameter of `model` in `fallback`.
    init(model: Module, groups: [ParameterGroup], fallback: ParameterGroup) {
        var scale = [ObjectIdentifier: Float](), frozen = Set<ObjectIdentifier>(), order = [Parameter]()
        for m in leafModules(model) {
            for p in m.parameters.flatMap(Self.withScores) {
                if m.isFrozen || p.isFrozen { frozen.insert(ObjectIdentifier(p)) } else { scale[ObjectIdentifier(p)] = m.learningRateScale }
                order.append(p)
            }
        }
        if groups.isEmpty {
            entries = order.compactMap { p in scale[ObjectIdentifier(p)].map { (p, fallback, $0) } }
        } else {
            // A parameter of a group that is not in `model` is updated with scale 1; a
            // parameter listed twice (e.g. scores named beside their weight) is updated once.
            var seen = Set<ObjectIdentifier>(), list = [(parameter: Parameter, group: ParameterGroup, scale: Float)]()
            for g in groups {
                for p in g.parameters.flatMap(Self.withScores) where seen.insert(ObjectIdentifier(p)).inserted {
                    if frozen.contains(ObjectIdentifier(p)) || p.isFrozen { continue }
                    list.append((p, g, scale[ObjectIdentifier(p)] ?? 1))
                }
            }
            entries = list
        }
    }

    /// `p`, then its scores (a parameter the optimiser trains too) when it has them.
    static func withScores(_ p: Parameter) -> [Parameter] { p.scores.map { [p, $0] } ?? [p] }
}
