import Foundation

/// The outcome of pruning one layer.
public struct PruneResult {
    /// Torch's 1-based layer index.
    public let layer: Int
    public let pruner: String
    public let requestedFraction: Double
    /// The installed 0/1 mask (a copy), and the one it replaced (nil: the layer had none).
    public let mask: Tensor
    public let previousMask: Tensor?
    /// The pruner's scores, one per weight.
    public let scores: Tensor
    public let weightCount: Int
    /// Weights the mask removes (the ones already pruned included).
    public let prunedCount: Int
    /// Seconds spent computing the scores, and in all (scores, selection, masking).
    public let scoringSeconds: Double
    public let seconds: Double

    public var prunedFraction: Double { weightCount == 0 ? 0 : Double(prunedCount) / Double(weightCount) }
    /// What the reference tool prints as `Layer<l>: <retained·100>% retained`.
    public var retainedFraction: Double { 1 - prunedFraction }
}

/// Pruning several layers with one ranking (global mode).
public struct GlobalPruneResult {
    public let layers: [PruneResult]
    public let requestedFraction: Double
    public let normalization: ScoreNormalization
    public let seconds: Double

    public var weightCount: Int { layers.reduce(0) { $0 + $1.weightCount } }
    public var prunedCount: Int { layers.reduce(0) { $0 + $1.prunedCount } }
    public var prunedFraction: Double { weightCount == 0 ? 0 : Double(prunedCount) / Double(weightCount) }
}

/// A layer's weights and mask, to go back to (the reference flow's -acctradeoff undo).
public struct LayerSnapshot {
    public let layer: Int
    public let weight: Tensor
    public let mask: Tensor?

    /// Copies layer `layer`'s stored weights W (under its mask too) and mask.
    public init(model: Sequential, layer: Int) throws {
        let w = try Pruning.weight(of: model, layer: layer)
        self.layer = layer
        weight = w.weights()
        mask = w.mask?.clone()
    }

    /// Puts the weights and the mask (or its absence) back.
    public func restore(into model: Sequential) throws {
        let w = try Pruning.weight(of: model, layer: layer)
        guard w.value.count == weight.count else {
            throw EngineError("layer \(layer) has \(w.value.count) weights, the snapshot \(weight.count)")
        }
        w.removeMask()
        try w.setWeights(weight)
        if let mask { try w.setMask(mask) }
    }
}

/// Scoring, masking and the statistics the reference flow prints. A layer number is the
/// 1-based position of a module among the model's leaf modules (containers flattened, depth
/// first: `leafModules`), so for a flat Sequential it is Torch's index in it; inside
/// containers, `layerPath` gives Torch's nesting ("3.1.2": `model:get(3):get(1):get(2)`).
/// docs/containers.md states the rule.
public enum Pruning {
    /// The leaf module numbered `layer`, or an error naming the range.
    public static func layerModule(of model: Module, layer: Int) throws -> Module {
        let leaves = leafModules(model)
        guard layer >= 1 && layer <= leaves.count else {
            throw EngineError("layer \(layer) does not exist: the model has layers 1..\(leaves.count)")
        }
        return leaves[layer - 1]
    }

    /// Torch's nesting of layer `layer`: "7" at the top level, "3.1.2" for
    /// `model:get(3):get(1):get(2)`; nil when it does not exist.
    public static func layerPath(of model: Module, layer: Int) -> String? {
        var k = 0
        func visit(_ m: Module, _ path: [Int]) -> [Int]? {
            guard let c = m as? Container else {
                k += 1
                return k == layer ? path : nil
            }
            for (i, child) in c.modules.enumerated() { if let p = visit(child, path + [i + 1]) { return p } }
            return nil
        }
        return visit(model, []).map { $0.map(String.init).joined(separator: ".") }
    }

    /// The weight of layer `layer`, or an error naming the layer.
    public static func weight(of model: Sequential, layer: Int) throws -> Parameter {
        let m = try layerModule(of: model, layer: layer)
        guard let w = m.weight else { throw EngineError("layer \(layer) (\(m.description)) has no weights to prune") }
        return w
    }

    /// The numbers of the layers with weights (leaf modules, depth first).
    public static func prunableLayers(_ model: Sequential) -> [Int] {
        leafModules(model).enumerated().filter { $0.element.weight != nil }.map { $0.offset + 1 }
    }

    /// The pruner's scores for one layer, checked (one finite-or-infinite number per weight).
    public static func scores(model: Sequential, layer: Int, pruner: Pruner,
                              settings: PruningSettings = PruningSettings()) throws -> Tensor {
        try scores(PruningContext(model: model, layer: layer, settings: settings), pruner)
    }

    static func scores(_ context: PruningContext, _ pruner: Pruner) throws -> Tensor {
        let s = try pruner.scores(context)
        guard s.count == context.weight.value.count else {
            throw EngineError("pruner \(pruner.name) returned \(s.count) scores for the \(context.weight.value.count) weights of layer \(context.layer)")
        }
        return s
    }

    /// Prunes `fraction` of layer `layer`'s weights (counting those already pruned) with the
    /// lowest scores, installs the new mask (zeroing those weights) and reports.
    @discardableResult
    public static func prune(model: Sequential, layer: Int, fraction: Double, pruner: Pruner,
                             settings: PruningSettings = PruningSettings()) throws -> PruneResult {
        _ = try MaskSelection.pruneCount(fraction: fraction, of: 0)
        let t0 = DispatchTime.now().uptimeNanoseconds
        let context = try PruningContext(model: model, layer: layer, settings: settings)
        let s = try scores(context, pruner)
        let t1 = DispatchTime.now().uptimeNanoseconds
        let previous = context.weight.mask?.clone()
        let mask = try MaskSelection.mask(scores: s, current: previous, fraction: fraction)
        try context.weight.setMask(mask)
        let t2 = DispatchTime.now().uptimeNanoseconds
        return PruneResult(layer: layer, pruner: pruner.name, requestedFraction: fraction, mask: mask,
                           previousMask: previous, scores: s, weightCount: mask.count,
                           prunedCount: mask.zeroCount(), scoringSeconds: Double(t1 - t0) / 1e9,
                           seconds: Double(t2 - t0) / 1e9)
    }

    /// Prunes `fraction` of all the weights of `layers` together: one ranking of the scores,
    /// made comparable across layers by `normalization` (default: the options' choice, else the
    /// pruner's own). `caps`: one fraction per layer, the most of it that may end pruned
    /// (`MaskSelection.globalMasks`).
    @discardableResult
    public static func pruneGlobally(model: Sequential, layers: [Int], fraction: Double, pruner: Pruner,
                                     settings: PruningSettings = PruningSettings(),
                                     normalization: ScoreNormalization? = nil,
                                     caps: [Double]? = nil) throws -> GlobalPruneResult {
        _ = try MaskSelection.pruneCount(fraction: fraction, of: 0)
        guard !layers.isEmpty else { throw EngineError("global pruning needs at least one layer") }
        guard Set(layers).count == layers.count else { throw EngineError("global pruning: a layer is listed twice in \(layers)") }
        if let caps {
            guard caps.count == layers.count else { throw EngineError("global pruning: \(caps.count) caps for \(layers.count) layers") }
            for c in caps { _ = try MaskSelection.pruneCount(fraction: c, of: 0) }
        }
        let how = normalization ?? settings.options.globalNormalization ?? pruner.globalNormalization
        let t0 = DispatchTime.now().uptimeNanoseconds
        let cache = ScoringCache(model: model, settings: settings, layers: layers)
        let contexts = try layers.map { try PruningContext(model: model, layer: $0, settings: settings, cache: cache) }
        var allScores = [Tensor](), times = [Double]()
        for c in contexts {
            let s0 = DispatchTime.now().uptimeNanoseconds
            allScores.append(try scores(c, pruner))
            times.append(Double(DispatchTime.now().uptimeNanoseconds - s0) / 1e9)
        }
        let previous = contexts.map { $0.weight.mask?.clone() }
        let masks = try MaskSelection.globalMasks(scores: allScores, current: previous, fraction: fraction,
                                                  normalization: how, caps: caps)
        for (c, m) in zip(contexts, masks) { try c.weight.setMask(m) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let results = contexts.indices.map { i in
            PruneResult(layer: layers[i], pruner: pruner.name, requestedFraction: fraction, mask: masks[i],
                        previousMask: previous[i], scores: allScores[i], weightCount: masks[i].count,
                        prunedCount: masks[i].zeroCount(), scoringSeconds: times[i], seconds: times[i])
        }
        return GlobalPruneResult(layers: results, requestedFraction: fraction, normalization: how, seconds: seconds)
    }

    /// The fraction of all weights (weights only, not biases) of every module with weights
    /// that are exactly zero: the reference tool's "Total Compression" (0.6431... after
    /// pruning 70% of layer 8 of a reference LeNet-5 with no other zeros: 0.7 · 288,000 / 313,470).
    public static func totalCompression(_ model: Module) -> Double {
        let total = weightCount(model)
        return total == 0 ? 0 : Double(zeroWeightCount(model)) / Double(total)
    }

    /// The weights of every module with weights (biases not counted).
    public static func weightCount(_ model: Module) -> Int {
        leafModules(model).compactMap(\.weight).reduce(0) { $0 + $1.value.count }
    }

    /// The weights that are exactly zero (pruned or not).
    public static func zeroWeightCount(_ model: Module) -> Int {
        leafModules(model).compactMap(\.weight).reduce(0) { $0 + $1.value.zeroCount() }
    }

    /// The current mask of layer `layer` (a copy; nil without one).
    public static func mask(of model: Sequential, layer: Int) throws -> Tensor? {
        try weight(of: model, layer: layer).mask?.clone()
    }

    /// Installs `mask` on layer `layer` again (nil removes the mask): weights the newer mask
    /// removed get their stored values back (`Parameter.setMask`).
    public static func restoreMask(_ mask: Tensor?, model: Sequential, layer: Int) throws {
        let w = try weight(of: model, layer: layer)
        if let mask { try w.setMask(mask) } else { w.removeMask() }
    }
}
