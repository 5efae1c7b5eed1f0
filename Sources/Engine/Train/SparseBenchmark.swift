import Foundation

/// `workbench bench --sparse`: the sparse kernels against the dense ones, side by side in one
/// process (so the ratios compare runs under the same load): a layer's forward pass in
/// evaluation with its weight pruned at random to each density, `SparseChoice.forced` false
/// (dense) and true (sparse, the rows built at every pass, then in a frozen-weights scope that
/// builds them once), best of `repeats`; then a pruned model over test images, dense
/// against the rule's choice, and the time to load its compressed file.
public enum SparseBenchmark {
    public struct KernelRow: Codable {
        public var layer: String, sparsity: Double, batch: Int
        /// Dense; sparse with the rows built at every pass; sparse in a frozen-weights scope
        /// (`SparseChoice.withFrozenWeights`: the rows built at the first pass only, as in an
        /// evaluation loop).
        public var denseMilliseconds: Double, sparseMilliseconds: Double, frozenMilliseconds: Double
        /// max |sparse − dense| over the outputs, relative to max |dense|.
        public var relativeDifference: Double
        /// What the rule picks, outside and inside a frozen-weights scope.
        public var chosen: String, chosenFrozen: String
        public var speedup: Double { denseMilliseconds / sparseMilliseconds }
        public var frozenSpeedup: Double { denseMilliseconds / frozenMilliseconds }
    }

    public struct ModelRow: Codable {
        public var model: String, images: Int
        public var denseSeconds: Double, chosenSeconds: Double
        public var denseError: Double, chosenError: Double
        public var compressedFile: String?, loadMilliseconds: Double?
        public var speedup: Double { denseSeconds / chosenSeconds }
    }

    static func best(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let t = DispatchTime.now().uptimeNanoseconds
            try body()
            best = Swift.min(best, Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
        }
        return best
    }

    /// `layer` forward at `batch` with its weight pruned to `sparsity` (seeded), dense vs sparse.
    public static func kernel(_ name: String, _ layer: Module, input: [Int], sparsity: Double, batch: Int, repeats: Int) throws -> KernelRow {
        var rng = RandomGenerator(seed: 42)
        layer.reset(&rng)
        let w = layer.weight!
        let mask = Tensor(shape: w.value.shape)
        for i in 0..<mask.count { mask.data[i] = Double(rng.next() % 1_000_000) < (1 - sparsity) * 1_000_000 ? 1 : 0 }
        try w.setMask(mask)
        layer.evaluate()
        let x = Tensor(shape: [batch] + input)
        x.fillUniform(-1, 1, &rng)
        defer { SparseChoice.forced = nil }
        SparseChoice.forced = false
        let dense = try layer.forward(x).clone()
        // In a frozen-weights scope the mask is applied at the first pass only: the dense
        // figure is the product alone, as for the same layer without a mask.
        let denseTime = try SparseChoice.withFrozenWeights { try best(repeats) { _ = try layer.forward(x) } }
        SparseChoice.forced = true
        let sparse = try layer.forward(x).clone()
        let sparseTime = try best(repeats) { _ = try layer.forward(x) }
        let frozenTime = try SparseChoice.withFrozenWeights { try best(repeats) { _ = try layer.forward(x) } }
        var diff: Float = 0, scale: Float = 0
        for i in 0..<dense.count {
            diff = Swift.max(diff, abs(dense.data[i] - sparse.data[i]))
            scale = Swift.max(scale, abs(dense.data[i]))
        }
        let kind: SparseChoice.Kind = layer is Linear ? .linear : .convolution
        let planes = (layer as? SpatialConvolution).flatMap { $0.runsSparseDirect ? $0.nOutputPlane : nil }
        SparseChoice.forced = nil
        return KernelRow(layer: name, sparsity: sparsity, batch: batch, denseMilliseconds: denseTime, sparseMilliseconds: sparseTime,
                         frozenMilliseconds: frozenTime, relativeDifference: Double(diff / Swift.max(scale, .leastNormalMagnitude)),
                         chosen: SparseChoice.prefersSparse(kind, density: 1 - sparsity, batch: batch, lanePlanes: planes) ? "sparse" : "dense",
                         chosenFrozen: SparseChoice.prefersSparse(kind, density: 1 - sparsity, batch: batch, frozen: true, lanePlanes: planes) ? "sparse" : "dense")
    }

    /// The kernels of the table: Linear(2400 → 120) and LeNet-5's second convolution
    /// (6 → 96, 5x5 on 14x14), and its first (1 → 6, 5x5, padding 2, on 28x28), each at
    /// 50/70/90/95/98% sparsity, batch 1 and 1000.
    public static func kernels(repeats: Int = 5) throws -> [KernelRow] {
        var rows = [KernelRow]()
        for sparsity in [0.5, 0.7, 0.9, 0.95, 0.98] {
            for batch in [1, 1000] {
                rows.append(try kernel("Linear(2400, 120)", Linear(2400, 120), input: [2400], sparsity: sparsity, batch: batch,
                                       repeats: batch == 1 ? 200 : repeats))
                rows.append(try kernel("SpatialConvolution(6, 96, 5x5) on 14x14", SpatialConvolution(6, 96, 5, 5), input: [6, 14, 14],
                                       sparsity: sparsity, batch: batch, repeats: batch == 1 ? 200 : repeats))
                rows.append(try kernel("SpatialConvolution(1, 6, 5x5, pad 2) on 28x28", SpatialConvolution(1, 6, 5, 5, 1, 1, 2, 2), input: [1, 28, 28],
                                       sparsity: sparsity, batch: batch, repeats: batch == 1 ? 200 : repeats))
            }
        }
        return rows
    }

    /// The batch of the model's timing: `evaluate`'s default, the one `-test` and `wb.test` run.
    public static let modelBatch = 250

    /// The model at `path` over `test` at `modelBatch`, dense (`forced` false) against the rule,
    /// best of `repeats`; with `compressed`, the best of 20 loads of that file.
    public static func model(_ path: String, compressed: String?, test: Dataset, repeats: Int = 3) throws -> ModelRow {
        let model = try ModelFile.load(path)
        defer { SparseChoice.forced = nil }
        SparseChoice.forced = false
        var denseError = 0.0, chosenError = 0.0
        let dense = try best(repeats) { denseError = try evaluate(model, on: test, batchSize: modelBatch).errorPercent }
        SparseChoice.forced = nil
        let chosen = try best(repeats) { chosenError = try evaluate(model, on: test, batchSize: modelBatch).errorPercent }
        var load: Double?
        if let compressed { load = try best(20) { _ = try ModelFile.load(compressed) } }
        return ModelRow(model: path, images: test.count, denseSeconds: dense / 1000, chosenSeconds: chosen / 1000,
                        denseError: denseError, chosenError: chosenError, compressedFile: compressed, loadMilliseconds: load)
    }
}
