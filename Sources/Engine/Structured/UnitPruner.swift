/// A structured criterion: one score per output unit (neuron or filter) of a layer; the
/// lowest-scored units are removed (`StructuredPruning`).
public protocol UnitPruner {
    var name: String { get }
    /// One score per unit of `context.plan`'s producer, in unit order.
    func unitScores(_ context: UnitContext) throws -> [Double]
}

/// What a structured criterion sees: the model, the layer (1-based), where its units go
/// (`UnitPlan`), and the settings (scoring set, loss, batch size) of the weight pruners.
public struct UnitContext {
    public let model: Sequential
    public let layer: Int
    public let plan: UnitPlan
    public let settings: PruningSettings

    public init(model: Sequential, layer: Int, settings: PruningSettings = PruningSettings()) throws {
        self.model = model
        self.layer = layer
        plan = try UnitPlan(model: model, layer: layer)
        self.settings = settings
    }

    /// The producer's effective weights W ⊙ M, one row of `count / units` entries per unit.
    public var weight: Tensor { model.modules[plan.producer].weight!.value }

    public func requireScoringSet(for criterion: String) throws -> Dataset {
        guard let s = settings.scoringSet, s.count > 0 else {
            throw EngineError("structured criterion \(criterion) needs a scoring set (images to compute the loss on), none was given")
        }
        return s
    }
}

/// ‖W_j‖₁ = Σ_e |W[j, e]| (p = 1) or ‖W_j‖₂ = √(Σ_e W[j, e]²) (p = 2) over the unit's
/// weights (its row, or its filter's nIn·kH·kW entries; the bias is not counted).
public struct UnitNormPruner: UnitPruner {
    public let p: Int
    public var name: String { p == 1 ? "l1" : "l2" }

    public init(p: Int) { self.p = p }

    public func unitScores(_ context: UnitContext) throws -> [Double] {
        let w = context.weight, units = context.plan.units
        let row = w.count / units, x = w.data
        return (0..<units).map { j in
            var s = 0.0
            for e in (j * row)..<((j + 1) * row) {
                let v = Double(x[e])
                s += p == 1 ? abs(v) : v * v
            }
            return p == 1 ? s : s.squareRoot()
        }
    }
}

/// The unit's mean absolute activation as the consumer reads it (after the batch norm,
/// activation and pooling on the way): (1/(N·P)) Σ_e Σ_p |a[e, j, p]| over the N images of
/// the scoring set and the unit's P values per image (its plane's positions, or its features
/// after a flatten). For ReLU nets this is Molchanov et al.'s mean activation.
public struct UnitActivationPruner: UnitPruner {
    public let name = "activation"
    public init() {}

    public func unitScores(_ context: UnitContext) throws -> [Double] {
        try UnitScoringPasses.activationStatistics(context, gradients: false, for: name).meanAbsolute
    }
}

/// First-order Taylor score (Molchanov et al. 2017) on the unit's output a as the consumer
/// reads it: |(1/N) Σ_e Σ_p a[e, j, p] · ∂ℓ_e/∂a[e, j, p]|, the first-order estimate of the
/// change of the mean loss L = (1/N) Σ_e ℓ_e when the unit's output is set to zero.
public struct UnitTaylorPruner: UnitPruner {
    public let name = "taylor"
    public init() {}

    public func unitScores(_ context: UnitContext) throws -> [Double] {
        try UnitScoringPasses.activationStatistics(context, gradients: true, for: name).taylor.map(abs)
    }
}

/// The exact change of the mean loss over the scoring set when the unit alone is removed:
/// ΔL_j = L(a with unit j's values zeroed) − L(a), computed one unit at a time by running
/// only the layers from the consumer on (`emp`'s idea at unit level). Negative when removing
/// the unit lowers the loss; those go first.
public struct UnitLossChangePruner: UnitPruner {
    public let name = "loss"
    public init() {}

    public func unitScores(_ context: UnitContext) throws -> [Double] {
        try UnitScoringPasses.lossChanges(context, for: name)
    }
}

/// A structured criterion given as a closure (e.g. a Lua function): one score per unit.
public struct ClosureUnitPruner: UnitPruner {
    public let name: String
    public let body: (UnitContext) throws -> [Double]

    public init(name: String, _ body: @escaping (UnitContext) throws -> [Double]) {
        self.name = name
        self.body = body
    }

    public func unitScores(_ context: UnitContext) throws -> [Double] { try body(context) }
}

/// Structured criteria by name: the built-in ones and those registered at run time.
public final class UnitPrunerRegistry {
    private var pruners: [String: UnitPruner] = [:]
    public private(set) var names: [String] = []

    public static let builtInNames = ["l1", "l2", "activation", "taylor", "loss"]

    public static func builtIn(_ name: String) -> UnitPruner? {
        switch name {
        case "l1": return UnitNormPruner(p: 1)
        case "l2": return UnitNormPruner(p: 2)
        case "activation": return UnitActivationPruner()
        case "taylor": return UnitTaylorPruner()
        case "loss": return UnitLossChangePruner()
        default: return nil
        }
    }

    public init(builtIns: Bool = true) {
        if builtIns { for n in Self.builtInNames { try! register(Self.builtIn(n)!) } }
    }

    /// Adds a criterion under its name (non-empty, no spaces or commas); an existing name is
    /// replaced only with `replacing`.
    public func register(_ pruner: UnitPruner, replacing: Bool = false) throws {
        let name = pruner.name
        guard PrunerRegistry.isValidName(name) else {
            throw EngineError("a structured criterion's name must be non-empty, without spaces or commas: '\(name)'")
        }
        if pruners[name] != nil {
            guard replacing else { throw EngineError("a structured criterion named '\(name)' is already registered") }
        } else {
            names.append(name)
        }
        pruners[name] = pruner
    }

    public func pruner(named name: String) throws -> UnitPruner {
        guard let p = pruners[name] else {
            throw EngineError("unknown structured criterion '\(name)'; the known ones are \(names.joined(separator: ", "))")
        }
        return p
    }
}
