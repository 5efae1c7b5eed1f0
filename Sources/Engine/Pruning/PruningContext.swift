import Foundation

/// What scoring needs besides the model: the scoring set, the loss, batch size, seed, options.
public struct PruningSettings {
    /// The images scores are computed on (by default a seeded subset of the training data:
    /// `PruningSettings.scoringSubset`). Only mag and random work without one.
    public var scoringSet: Dataset?
    public var criterion: Criterion
    public var batchSize: Int
    public var seed: UInt64
    public var options: PrunerOptions

    public init(scoringSet: Dataset? = nil, criterion: Criterion = CrossEntropyCriterion(), batchSize: Int = 128,
                seed: UInt64 = 0, options: PrunerOptions = PrunerOptions()) {
        self.scoringSet = scoringSet
        self.criterion = criterion
        self.batchSize = batchSize
        self.seed = seed
        self.options = options
    }

    /// The default scoring set: `size` distinct images of `train` drawn with `seed`.
    public static func scoringSubset(of train: Dataset, size: Int, seed: UInt64) throws -> Dataset {
        guard size > 0 else { throw EngineError("the scoring set size must be positive, got \(size)") }
        return train.randomSubset(size, seed: seed)
    }
}

/// Everything a pruner sees when scoring one layer: the model, the layer (Torch's 1-based
/// index), its weights, the settings, and — computed on request, once, and shared by the
/// contexts of the other layers of the same pruning step — the gradient, the Hessian
/// diagonal, the mean loss and input statistics over the scoring set.
///
/// The cached quantities describe the model as it was when first requested: make a new
/// context after the model changes (masks, training).
public final class PruningContext {
    public let model: Sequential
    /// The number of the layer being scored (1-based among the leaf modules: `Pruning`).
    public let layer: Int
    public let module: Module
    public let weight: Parameter
    public let settings: PruningSettings
    let cache: ScoringCache

    public convenience init(model: Sequential, layer: Int, settings: PruningSettings = PruningSettings()) throws {
        try self.init(model: model, layer: layer, settings: settings,
                      cache: ScoringCache(model: model, settings: settings, layers: [layer]))
    }

    init(model: Sequential, layer: Int, settings: PruningSettings, cache: ScoringCache) throws {
        let m = try Pruning.layerModule(of: model, layer: layer)
        guard let w = m.weight else {
            throw EngineError("layer \(layer) (\(m.description)) has no weights to prune")
        }
        guard settings.batchSize > 0 else {
            throw EngineError("the scoring batch size must be positive, got \(settings.batchSize)")
        }
        self.model = model
        self.layer = layer
        module = m
        weight = w
        self.settings = settings
        self.cache = cache
    }

    /// A context for another layer of the same model sharing this one's cached passes.
    public func forLayer(_ other: Int) throws -> PruningContext {
        try PruningContext(model: model, layer: other, settings: settings, cache: cache)
    }

    public var scoringSet: Dataset? { settings.scoringSet }
    public var options: PrunerOptions { settings.options }
    public var seed: UInt64 { settings.seed }
    public var batchSize: Int { settings.batchSize }
    public var criterion: Criterion { settings.criterion }

    /// The scoring set, or an error naming the pruner that needs one.
    public func requireScoringSet(for pruner: String) throws -> Dataset {
        guard let s = settings.scoringSet else {
            throw EngineError("pruner \(pruner) needs a scoring set (images to compute the loss on), none was given")
        }
        guard s.count > 0 else { throw EngineError("pruner \(pruner): the scoring set \(s.name) is empty") }
        return s
    }

    /// g = ∂L/∂W for this layer, L the mean loss over the scoring set (a copy).
    public func gradient() throws -> Tensor { try cache.gradient(layer).clone() }

    /// The diagonal of the Hessian of L for this layer's weights, per `options.hessian` (a copy).
    public func hessianDiagonal() throws -> Tensor { try cache.hessian(layer).clone() }

    /// (1/B) Σ_b ΔL_b² with ΔL_b ≈ −g_b · w (+ ½ h w² when `withCurvature`), the first- (or
    /// second-) order change of each scoring batch's mean loss (`ScoreAccumulation.batch`).
    public func batchSquaredChanges(withCurvature: Bool) throws -> Tensor {
        try cache.batchSquaredChanges(layer, withCurvature: withCurvature).clone()
    }

    /// L, the mean loss over the scoring set.
    public func meanLoss() throws -> Double { try cache.meanLoss() }

    /// Mean squared input per weight position (see `ScoringPasses.inputSecondMoment`).
    public func inputSecondMoment() throws -> Tensor { try cache.inputSecondMoment(layer).clone() }
}

/// The scoring passes of one pruning step, computed at most once for all the layers
/// being pruned (one backward pass serves them all).
final class ScoringCache {
    let model: Sequential
    let settings: PruningSettings
    /// The layers the passes cover (the step's layers; others are added on request).
    private(set) var layers: [Int]
    private var gradients: [Int: Tensor] = [:]
    private var hessians: [Int: Tensor] = [:]
    private var inputMoments: [Int: Tensor] = [:]
    private var batchSquares: [Bool: [Int: Tensor]] = [:]
    private var loss: Double?

    init(model: Sequential, settings: PruningSettings, layers: [Int]) {
        self.model = model
        self.settings = settings
        self.layers = layers
    }

    private func data(_ what: String) throws -> Dataset {
        guard let s = settings.scoringSet, s.count > 0 else {
            throw EngineError("\(what) needs a scoring set (images to compute the loss on), none was given")
        }
        return s
    }

    func gradient(_ layer: Int) throws -> Tensor {
        if let g = gradients[layer] { return g }
        if !layers.contains(layer) { layers.append(layer) }
        let missing = layers.filter { gradients[$0] == nil }
        let r = try ScoringPasses.gradients(model: model, layers: missing, data: try data("the gradient"),
                                            criterion: settings.criterion, batchSize: settings.batchSize)
        loss = r.loss
        for (l, g) in r.gradients { gradients[l] = g }
        return gradients[layer]!
    }

    func hessian(_ layer: Int) throws -> Tensor {
        if let h = hessians[layer] { return h }
        if !layers.contains(layer) { layers.append(layer) }
        let missing = layers.filter { hessians[$0] == nil }
        let r = try DiagonalHessian.compute(model: model, layers: missing, data: try data("the Hessian diagonal"),
                                            criterion: settings.criterion, batchSize: settings.batchSize,
                                            method: settings.options.hessian)
        for (l, h) in r { hessians[l] = h }
        return hessians[layer]!
    }

    func batchSquaredChanges(_ layer: Int, withCurvature: Bool) throws -> Tensor {
        if let s = batchSquares[withCurvature]?[layer] { return s }
        if !layers.contains(layer) { layers.append(layer) }
        let missing = layers.filter { batchSquares[withCurvature]?[$0] == nil }
        var offsets = [Int: Tensor]()
        if withCurvature {
            for l in missing {
                let h = try hessian(l).clone(), w = try Pruning.weight(of: model, layer: l).value.data, p = h.data
                for i in 0..<h.count { p[i] = 0.5 * p[i] * w[i] * w[i] }
                offsets[l] = h
            }
        }
        let r = try ScoringPasses.batchSquaredChanges(model: model, layers: missing, data: try data("the batch changes"),
                                                      criterion: settings.criterion, batchSize: settings.batchSize,
                                                      offsets: offsets)
        for (l, s) in r { batchSquares[withCurvature, default: [:]][l] = s }
        return batchSquares[withCurvature]![layer]!
    }

    func meanLoss() throws -> Double {
        if let l = loss { return l }
        let d = try data("the mean loss")
        let state = ModelStateGuard(model)
        defer { state.restore() }
        model.evaluate()
        var total = 0.0
        try forEachBatch(d, batchSize: settings.batchSize) { x, t, range in
            let out = try model.forward(x)
            let l = try settings.criterion.forward(out, t)
            total += Double(l) * (settings.criterion.sizeAverage ? Double(range.count) : 1)
        }
        loss = total / Double(d.count)
        return loss!
    }

    func inputSecondMoment(_ layer: Int) throws -> Tensor {
        if let m = inputMoments[layer] { return m }
        let m = try ScoringPasses.inputSecondMoment(model: model, layer: layer, data: try data("input statistics"),
                                                    batchSize: settings.batchSize)
        inputMoments[layer] = m
        return m
    }
}
