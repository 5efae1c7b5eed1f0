import Foundation

/// The outcome of removing units from one layer.
public struct StructuredPruneResult {
    /// The thinner model (the input model is unchanged).
    public let model: Sequential
    /// Torch's 1-based layer index, and the criterion's name.
    public let layer: Int
    public let criterion: String
    public let requestedFraction: Double
    /// Units before, and the removed ones (0-based, in the layer's original numbering).
    public let units: Int
    public let removed: [Int]
    /// The criterion's score of each unit.
    public let scores: [Double]
    public let seconds: Double

    public var remaining: Int { units - removed.count }
}

/// Scoring units with a structured criterion and removing the lowest-scored ones.
public enum StructuredPruning {
    /// Removes k = round(fraction · units) units of layer `layer` (1-based): those with the
    /// lowest scores, ties to the lower index. Removing every unit is an error (`UnitRemoval`).
    public static func prune(model: Sequential, layer: Int, fraction: Double, pruner: UnitPruner,
                             settings: PruningSettings = PruningSettings(),
                             types: ModuleTypeRegistry? = nil) throws -> StructuredPruneResult {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let context = try UnitContext(model: model, layer: layer, settings: settings)
        let units = context.plan.units
        let k = try MaskSelection.pruneCount(fraction: fraction, of: units)
        guard k < units else {
            throw EngineError("pruning a fraction \(fraction) of layer \(layer)'s \(units) units would remove all of them")
        }
        let s = try scores(context, pruner)
        let removed = lowest(s, k)
        let thin = try UnitRemoval.remove(model: model, layer: layer, units: removed, types: types)
        return StructuredPruneResult(model: thin, layer: layer, criterion: pruner.name, requestedFraction: fraction,
                                     units: units, removed: removed, scores: s,
                                     seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }

    /// The criterion's scores of layer `layer`'s units, checked: one number (not NaN) per unit.
    public static func scores(_ context: UnitContext, _ pruner: UnitPruner) throws -> [Double] {
        let s = try pruner.unitScores(context)
        guard s.count == context.plan.units else {
            throw EngineError("structured criterion \(pruner.name) returned \(s.count) scores for the \(context.plan.units) units of layer \(context.layer)")
        }
        if let i = s.firstIndex(where: \.isNaN) {
            throw EngineError("structured criterion \(pruner.name) gave unit \(i + 1) of layer \(context.layer) a NaN score")
        }
        return s
    }

    /// The indices of the k lowest scores (ties to the lower index), increasing.
    static func lowest(_ s: [Double], _ k: Int) -> [Int] {
        let order = s.indices.sorted { s[$0] != s[$1] ? s[$0] < s[$1] : $0 < $1 }
        return order.prefix(k).sorted()
    }
}
