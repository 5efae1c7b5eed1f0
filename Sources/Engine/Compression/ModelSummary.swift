import Foundation

/// The per-layer table of a model's size and cost (as Distiller's sparsity table): for every
/// layer with a weight, its shape, weights, nonzero weights, density, the bytes of its tensors
/// on disk, and its forward FLOPs per image run dense and run sparse (`ForwardCost`,
/// `SparseForwardCosting`: only the nonzero weights multiplied); then the totals.
///
/// Bytes: "dense" is the standard file (4 per weight and bias; masks are compact); "file" is
/// the given file's tensors for the layer (streams, values, codebook, masks), or, without a
/// file, what a lossless compressed file would hold (`CompressedModelFile`).
public struct ModelSummary {
    public struct Row {
        public let layer: String, type: String, shape: [Int]
        public let weights: Int, nonzeros: Int
        public let denseBytes: Int, fileBytes: Int
        public let encoding: String
        public let denseFLOPs: Double?, sparseFLOPs: Double?
        public var density: Double { weights == 0 ? 0 : Double(nonzeros) / Double(weights) }
    }
    public let rows: [Row]
    /// Every tensor of the model or file (buffers and biases of layers without weights too).
    public let totalDenseBytes: Int, totalFileBytes: Int
    public let bytesSource: String

    /// The summary of `model`; `imageShape` ([C, H, W] or [features]) for the FLOPs (nil: tried
    /// from the first layer and the usual image sizes; FLOPs left out when none runs); `file`
    /// a model file whose bytes to count.
    public init(_ model: Sequential, imageShape: [Int]? = nil, file: String? = nil) throws {
        let named = try ModelFile.stateDict(model)
        var bytes = [String: Int](), encodings = [String: String]()
        if let file {
            (bytes, encodings) = try ModelFile.storedBytes(file)
            bytesSource = file
        } else {
            let parts = try CompressedModelFile.payloads(named, sharing: [:])
            for s in parts.stored { bytes[s.name] = s.bytes; encodings[s.name] = s.encoding }
            bytesSource = "a lossless compressed file"
        }
        let flops = Self.runnable(model, imageShape)
        defer { if flops { model.clearState(); model.training() } }
        var rows = [Row]()
        func visit(_ m: Module, prefix: String, path: String) {
            if let s = m as? Container {
                for (i, c) in s.modules.enumerated() {
                    visit(c, prefix: "\(prefix)\(i).", path: path.isEmpty ? "\(i + 1)" : "\(path).\(i + 1)")
                }
                return
            }
            guard let w = m.weight else { return }
            let nnz = w.value.count - w.value.zeroCount()
            let names = m.parameters.map { prefix + $0.name }
            let dense = m.parameters.reduce(0) { $0 + 4 * $1.value.count }
            let onFile = names.reduce(0) { $0 + (bytes[$1] ?? 0) }
            let y = m.output.count
            let d = flops ? (m as? ForwardCosting)?.forwardFLOPs(outputElements: y) : nil
            let sp = flops ? (m as? SparseForwardCosting)?.sparseForwardFLOPs(outputElements: y, nonzeros: nnz) : nil
            rows.append(Row(layer: path, type: m.typeName, shape: w.value.shape, weights: w.value.count, nonzeros: nnz,
                            denseBytes: dense, fileBytes: onFile, encoding: encodings[prefix + w.name] ?? "dense",
                            denseFLOPs: d, sparseFLOPs: sp ?? d))
        }
        visit(model, prefix: "", path: "")
        self.rows = rows
        totalDenseBytes = named.filter { !$0.isCompanion }.reduce(0) { $0 + 4 * $1.tensor.count }
        totalFileBytes = bytes.values.reduce(0, +)
    }

    /// Runs one zero image through `model` in evaluation mode so every layer's output has its
    /// per-image size; false when no candidate shape runs.
    private static func runnable(_ model: Sequential, _ shape: [Int]?) -> Bool {
        var candidates = [[Int]]()
        if let shape { candidates = [shape] } else {
            if let l = leafModules(model).first(where: { $0.weight != nil }) {
                if let linear = l as? Linear { candidates.append([linear.inputSize]) }
                if let conv = l as? SpatialConvolution {
                    candidates += [[conv.nInputPlane, 28, 28], [conv.nInputPlane, 32, 32], [conv.nInputPlane, 8, 8]]
                }
            }
        }
        model.evaluate()
        // One image in, one row out (a View that folds a larger image into several rows does not count).
        for s in candidates {
            if let y = try? model.forward(Tensor(shape: [1] + s)), y.dim >= 1, y.shape[0] == 1 || y.dim == 1 { return true }
        }
        model.training()
        return false
    }

    /// The table as text: one line per layer, then the totals.
    public var table: String {
        func flops(_ x: Double?) -> String { x.map { String(format: "%.0f", $0) } ?? "-" }
        let widths = [-6, -22, -12, 9, 9, 8, 10, 10, -16, 12, 12]  // negative: left-aligned
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { c, w in
                let pad = String(repeating: " ", count: Swift.max(0, abs(w) - c.count))
                return w < 0 ? c + pad : pad + c
            }.joined(separator: " ")
        }
        func percent(_ x: Double) -> String { String(format: "%.2f%%", 100 * x) }
        var lines = [line(["Layer", "Type", "Shape", "Weights", "NNZ", "Density", "Dense B", "File B", "Encoding",
                           "FLOPs dense", "FLOPs sparse"])]
        for r in rows {
            lines.append(line([r.layer, r.type, r.shape.map(String.init).joined(separator: "x"), String(r.weights), String(r.nonzeros),
                               percent(r.density), String(r.denseBytes), String(r.fileBytes), r.encoding,
                               flops(r.denseFLOPs), flops(r.sparseFLOPs)]))
        }
        let w = rows.reduce(0) { $0 + $1.weights }, nz = rows.reduce(0) { $0 + $1.nonzeros }
        let df = rows.allSatisfy { $0.denseFLOPs != nil } ? rows.reduce(0) { $0 + $1.denseFLOPs! } : nil
        let sf = rows.allSatisfy { $0.sparseFLOPs != nil } ? rows.reduce(0) { $0 + $1.sparseFLOPs! } : nil
        lines.append(line(["Total", "", "", String(w), String(nz), percent(w == 0 ? 0 : Double(nz) / Double(w)),
                           String(totalDenseBytes), String(totalFileBytes), "", flops(df), flops(sf)]))
        lines.append("(Dense B: a standard file; File B: \(bytesSource); totals over every tensor, headers not counted; FLOPs per image)")
        return lines.joined(separator: "\n")
    }
}
