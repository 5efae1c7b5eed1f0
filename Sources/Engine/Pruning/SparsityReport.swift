import Foundation

/// The per-layer sparsity the default flow prints after every pruning step and `-test` prints:
/// for each top-level layer with a weight, its weights n, the kept ones and kept / n.
///
/// Kept = weights the layer's mask keeps (n − zeros of the mask), the count behind the
/// reference's `Layer<l>: <kept/n·100>% retained`; a layer without a mask counts its nonzero
/// weights (so the total's pruned share is "Total Compression" whenever no kept weight is
/// exactly 0). Biases are not counted.
public struct SparsityReport {
    public struct Row: Equatable {
        /// The layer number (1-based among the leaf modules: `Pruning`).
        public let layer: Int
        public let type: String
        public let weights: Int, kept: Int
        public var keptFraction: Double { weights == 0 ? 0 : Double(kept) / Double(weights) }
    }
    public let rows: [Row]

    public init(_ model: Sequential) {
        let leaves = leafModules(model)
        rows = Pruning.prunableLayers(model).map { l in
            let m = leaves[l - 1], w = m.weight!
            let kept = w.mask.map { $0.count - $0.zeroCount() } ?? (w.value.count - w.value.zeroCount())
            return Row(layer: l, type: m.typeName, weights: w.value.count, kept: kept)
        }
    }

    public var weights: Int { rows.reduce(0) { $0 + $1.weights } }
    public var kept: Int { rows.reduce(0) { $0 + $1.kept } }
    /// Σ n / Σ kept: the compression rate of the pruned layers (Han et al.'s "12x").
    public var compressionRate: Double { kept == 0 ? .infinity : Double(weights) / Double(kept) }

    /// The table: `Layer  Type  Weights  Kept  Kept%`, one line per layer, then the total
    /// with its compression rate.
    public var table: String {
        func line(_ c: [String]) -> String {
            let widths = [-6, -22, 10, 10, 9]
            return zip(c, widths).map { s, w in
                let pad = String(repeating: " ", count: Swift.max(0, Swift.abs(w) - s.count))
                return w < 0 ? s + pad : pad + s
            }.joined(separator: " ")
        }
        func percent(_ x: Double) -> String { String(format: "%.2f%%", 100 * x) }
        var lines = [line(["Layer", "Type", "Weights", "Kept", "Kept%"])]
        for r in rows { lines.append(line([String(r.layer), r.type, String(r.weights), String(r.kept), percent(r.keptFraction)])) }
        let total = weights == 0 ? 0 : Double(kept) / Double(weights)
        lines.append(line(["Total", String(format: "(%.1fx)", compressionRate), String(weights), String(kept), percent(total)]))
        return lines.joined(separator: "\n")
    }
}
