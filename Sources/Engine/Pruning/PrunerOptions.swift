/// Settings of the built-in pruners. Every field has a name for `set(_:_:)`, so that the
/// command line and Lua can pass `name=value` pairs through unchanged.
public struct PrunerOptions: Equatable {
    /// Which second-order term taylor2 / taylor12 use.
    public enum Hessian: String, CaseIterable {
        /// Diagonal Gauss-Newton back-propagation (LeCun et al. 1990, Optimal Brain Damage).
        case gaussNewton = "gn"
        /// Empirical Fisher: mean over the scoring set of the squared per-example gradient.
        case fisher
    }

    /// `hessian`: gn (default) or fisher.
    public var hessian: Hessian = .gaussNewton
    /// `epochs`: passes over the scoring set that train the l1 / l2 scales. The defaults of
    /// epochs, lr and lambda were chosen by measurement (docs/pruners.md, "l1, l2"): with
    /// 1, 0.01 and 1e-4 the scales of a large layer moved by ~1e-5 and ranked like the signed
    /// first-order term (66% error at 90% of LeNet-5's layer 8); 10, 1000 and 1e-5 let the
    /// penalty pull the scales the loss does not hold up to 0 (11.6% there).
    public var scaleEpochs = 10
    /// `lr`: SGD learning rate of the scales (large: ∂L/∂s of one scale among many is tiny).
    public var scaleLearningRate: Float = 1000
    /// `momentum`: SGD momentum of the scales.
    public var scaleMomentum: Float = 0.9
    /// `lambda`: strength λ of the penalty λ·Σ|s| (l1) or λ·Σs² (l2).
    public var scalePenalty: Float = 1e-5
    /// `normalization`: none, mean or l2; overrides the pruner's own choice in global mode.
    public var globalNormalization: ScoreNormalization?
    /// `rank`: signed, abs or square: what emp, emp-naive, taylor12, l1 and l2 rank
    /// (`ScoreRanking`); nil: the pruner's own default (signed; taylor12: abs).
    public var ranking: ScoreRanking?
    /// `accumulate`: set (default) or batch: how taylor1, taylor12, emp and emp-naive combine
    /// the scoring batches (`ScoreAccumulation`).
    public var accumulation: ScoreAccumulation = .set

    public init() {}

    public static let names = ["hessian", "epochs", "lr", "momentum", "lambda", "normalization", "rank", "accumulate"]

    /// True with accumulate=batch; an error naming `pruner` when `rank` was also given (the
    /// batch scores are squares: there is nothing left to rank but their size).
    public func accumulatesBatches(for pruner: String) throws -> Bool {
        guard accumulation == .batch else { return false }
        if let ranking {
            throw EngineError("pruner \(pruner): accumulate=batch ranks the mean squared change per batch; it cannot be combined with rank=\(ranking.rawValue)")
        }
        return true
    }

    /// Sets an option by name from its text (numbers as text, or a choice's name).
    public mutating func set(_ name: String, _ value: String) throws {
        func number() throws -> Double {
            guard let v = Double(value), v.isFinite else {
                throw EngineError("pruner option \(name) needs a number, got '\(value)'")
            }
            return v
        }
        switch name {
        case "hessian":
            guard let h = Hessian(rawValue: value) else {
                throw EngineError("pruner option hessian must be one of \(Hessian.allCases.map(\.rawValue).joined(separator: ", ")), got '\(value)'")
            }
            hessian = h
        case "epochs":
            let v = try number()
            guard v >= 1, v == v.rounded(), v <= 1_000_000 else {
                throw EngineError("pruner option epochs must be a whole number of at least 1, got \(value)")
            }
            scaleEpochs = Int(v)
        case "lr":
            let v = try number()
            guard v > 0 else { throw EngineError("pruner option lr must be positive, got \(value)") }
            scaleLearningRate = Float(v)
        case "momentum":
            let v = try number()
            guard v >= 0 && v < 1 else { throw EngineError("pruner option momentum must be in [0, 1), got \(value)") }
            scaleMomentum = Float(v)
        case "lambda":
            let v = try number()
            guard v >= 0 else { throw EngineError("pruner option lambda must be at least 0, got \(value)") }
            scalePenalty = Float(v)
        case "normalization":
            guard let n = ScoreNormalization(rawValue: value) else {
                throw EngineError("pruner option normalization must be one of \(ScoreNormalization.allCases.map(\.rawValue).joined(separator: ", ")), got '\(value)'")
            }
            globalNormalization = n
        case "rank":
            guard let r = ScoreRanking(rawValue: value) else {
                throw EngineError("pruner option rank must be one of \(ScoreRanking.allCases.map(\.rawValue).joined(separator: ", ")), got '\(value)'")
            }
            ranking = r
        case "accumulate":
            guard let a = ScoreAccumulation(rawValue: value) else {
                throw EngineError("pruner option accumulate must be one of \(ScoreAccumulation.allCases.map(\.rawValue).joined(separator: ", ")), got '\(value)'")
            }
            accumulation = a
        default:
            throw EngineError("unknown pruner option '\(name)'; the options are \(PrunerOptions.names.joined(separator: ", "))")
        }
    }
}
