import Foundation

/// `workbench bench --structured`: thinned models against the original, side by side in one
/// process (so the ratios compare runs under the same load). For the original and each
/// variant (conv2's or fc1's units removed by the L1 norm): parameters, forward FLOPs per
/// image, test error, and the 10k-image inference at `batch` (the forward passes over
/// batches filled beforehand, best of `repeats`; wall and CPU seconds) on each thread count;
/// and the ONNX export time of the original.
public enum StructuredBenchmark {
    public struct Variant: Codable {
        public var name: String
        /// 1-based layer and fraction of its units removed (nil for the original).
        public var layer: Int?, fraction: Double?
        public var parameters: Int, flops: Double, testError: Double
        /// Per thread count: best wall seconds and the CPU seconds of that run.
        public var seconds: [Int: Double], cpuSeconds: [Int: Double]
    }

    public struct Result: Codable {
        public var model: String, images: Int, threads: [Int]
        public var variants: [Variant]
        /// Best of 10 `ONNXExport.encode` of the original, in ms.
        public var exportMilliseconds: Double
    }

    /// The variants measured: (layer, fraction) pairs; LeNet-5's conv2 is layer 4, fc1 layer 8.
    public static let defaultCuts: [(layer: Int, fraction: Double)] = [(4, 0.5), (4, 0.75), (8, 0.5), (8, 0.75)]

    /// The batch of the timings (ONNX Runtime's too): `-test`'s, as `bench --sparse` times.
    public static let batch = SparseBenchmark.modelBatch

    /// The test set as batches of `batch` images, filled once (the timing is the forward passes
    /// only, as ONNX Runtime's is over arrays already made).
    static func batches(_ test: Dataset) -> [(inputs: Tensor, targets: Tensor)] {
        stride(from: 0, to: test.count, by: batch).map { start in
            let x = Tensor(), t = Tensor()
            test.fillBatch(start..<Swift.min(start + batch, test.count), inputs: x, targets: t)
            return (x, t)
        }
    }

    /// The forward passes over `batches` in evaluation (best wall time of `repeats`, with its
    /// CPU time) and the test error (%) from the outputs' argmax.
    static func timeInference(_ model: Sequential, _ batches: [(inputs: Tensor, targets: Tensor)], repeats: Int) throws
        -> (wall: Double, cpu: Double, error: Double) {
        model.evaluate()
        var best = (wall: Double.infinity, cpu: 0.0, error: 0.0)
        for _ in 0..<repeats {
            var wrong = 0, count = 0
            let c0 = processCPUSeconds(), t0 = DispatchTime.now().uptimeNanoseconds
            for (x, t) in batches {
                let y = try model.forward(x)
                let classes = y.count / t.count
                for i in 0..<t.count {
                    var arg = 0
                    for c in 1..<classes where y[i * classes + c] > y[i * classes + arg] { arg = c }
                    if arg != Int(t[i]) { wrong += 1 }
                }
                count += t.count
            }
            let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, cpu = processCPUSeconds() - c0
            if wall < best.wall { best = (wall, cpu, 100 * Double(wrong) / Double(count)) }
        }
        return best
    }

    /// The original model at `path` and its variants `cuts`, each thinned by the L1 criterion
    /// and written to `exportFolder` as `<name>.safetensors` and `<name>.onnx` when given.
    public static func run(path: String, test: Dataset, threads: [Int], cuts: [(layer: Int, fraction: Double)] = defaultCuts,
                           repeats: Int = 3, exportFolder: String? = nil, log: (String) -> Void = { _ in }) throws -> Result {
        let original = try ModelFile.load(path)
        let shape = [test.channels, test.height, test.width]
        var models: [(String, Int?, Double?, Sequential)] = [("original", nil, nil, original)]
        for (l, f) in cuts {
            let r = try StructuredPruning.prune(model: original, layer: l, fraction: f, pruner: UnitNormPruner(p: 1))
            models.append(("layer\(l)-\(Int((f * 100).rounded()))pct", l, f, r.model))
        }
        let data = batches(test)
        var variants = [Variant]()
        for (name, l, f, m) in models {
            let flops = try ForwardCost.perModule(m, imageShape: shape).reduce(0, +)
            var seconds = [Int: Double](), cpu = [Int: Double](), error = 0.0
            for t in threads {
                Parallel.setThreads(t)
                log("timing \(name) on \(t) thread(s)...")
                let r = try timeInference(m, data, repeats: repeats)
                seconds[t] = r.wall
                cpu[t] = r.cpu
                error = r.error
            }
            if let exportFolder {
                try ModelFile.save(m, to: exportFolder + "/\(name).safetensors")
                try ONNXExport.write(m, inputShape: shape, to: exportFolder + "/\(name).onnx")
            }
            variants.append(Variant(name: name, layer: l, fraction: f, parameters: m.allParameters.reduce(0) { $0 + $1.value.count },
                                    flops: flops, testError: error, seconds: seconds, cpuSeconds: cpu))
        }
        var export = Double.infinity
        for _ in 0..<10 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try ONNXExport.encode(original, inputShape: shape)
            export = Swift.min(export, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        return Result(model: path, images: test.count, threads: threads, variants: variants, exportMilliseconds: export)
    }
}
