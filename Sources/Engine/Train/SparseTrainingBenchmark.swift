import Foundation

/// `workbench bench --sparse-training`: one training epoch of `workbench sparse-train`'s
/// mnist_mlp (784-300-100-10, bias-free linear layers each followed by batch norm, ReLU
/// between) with random masks at the given sparsity (exactly int((1 - s)·n + 0.1) active
/// entries per layer, as scripts/lib/sparsetrain/masks.lua), batch 100, SGD lr 0.1 momentum
/// 0.9: dense-with-mask (the default) against the sparse kernels (`Linear.sparseTraining`),
/// alternated run by run from the same initial weights and masks. Wall and process CPU
/// seconds per epoch, the epoch's mean loss of both, and how far the weights ended apart, beside
/// how far two dense runs a rounding apart (every update off by a relative 2⁻²⁰) end apart.
public enum SparseTrainingBenchmark {
    public struct Run: Codable {
        public var sparse: Bool
        public var wallSeconds: Double
        public var cpuSeconds: Double
        public var meanLoss: Float
    }

    public struct Result: Codable {
        public var threads: Int
        public var sparsity: Double
        public var images: Int
        public var runs: [Run]
        /// Best wall and CPU seconds of each path, and dense / sparse.
        public var denseWall: Double, sparseWall: Double, denseCPU: Double, sparseCPU: Double
        public var wallRatio: Double { denseWall / sparseWall }
        public var cpuRatio: Double { denseCPU / sparseCPU }
        /// Largest |W_dense - W_sparse| / max(1, |W_dense|) over the linear weights after the
        /// first pair's epoch.
        public var weightDifference: Double
        /// The same measure between the dense epoch and a dense epoch whose every update is off
        /// by a relative 2⁻²⁰ ≈ 1e-6 (the learning rate 0.1·(1 + 2⁻²⁰)), the typical rounding
        /// of the products' sums (√n·2⁻²⁴ for n = 100...784 terms: 6e-7...1.7e-6): how far a
        /// difference of rounding size in every step carries two runs apart over an epoch, the
        /// yardstick for `weightDifference` (the two paths' sums differ by rounding, so their
        /// runs part as well).
        public var roundingControl: Double
        /// That control epoch's mean loss.
        public var roundingControlLoss: Float
    }

    /// The mnist_mlp of scripts/lib/sparsetrain/model.lua with its initialisation (weights
    /// U(±1/√fan_in), batch norm γ ~ U(0, 1), β = 0) and random masks, all from `seed`.
    static func mnistMLP(sparsity: Double, seed: UInt64) throws -> (Sequential, [Linear]) {
        var rng = RandomGenerator(seed: seed)
        let sizes = [784, 300, 100, 10]
        var modules: [Module] = [try View([784])], linears: [Linear] = []
        for l in 0..<3 {
            let fc = Linear(sizes[l], sizes[l + 1], bias: false)
            let stdv = 1 / Float(sizes[l]).squareRoot()
            fc.weightParameter.value.fillUniform(-stdv, stdv, &rng)
            let n = sizes[l] * sizes[l + 1], k = Int((1 - sparsity) * Double(n) + 0.1)
            let mask = Tensor(shape: [sizes[l + 1], sizes[l]])
            for i in rng.permutation(n).prefix(k) { mask.data[i] = 1 }
            try fc.weightParameter.setMask(mask)
            let bn = try BatchNormalization(sizes[l + 1], eps: 1e-5, momentum: 0.1)
            bn.weight?.value.fillUniform(0, 1, &rng)
            bn.bias?.value.zero()
            modules += [fc, bn]
            if l < 2 { modules.append(ReLU()) }
            linears.append(fc)
        }
        return (Sequential(modules), linears)
    }

    public static func run(train: Dataset, threads: Int, sparsity: Double = 0.98, runs: Int = 3, seed: UInt64 = 1,
                           log: (String) -> Void = { _ in }) throws -> Result {
        Parallel.setThreads(threads)
        var all: [Run] = [], weights: [[Float]] = []
        for r in 0..<runs {
            for sparse in [false, true] {
                let (net, linears) = try mnistMLP(sparsity: sparsity, seed: seed)
                for l in linears { l.sparseTraining = sparse }
                let sgd = SGD(learningRate: learningRate, momentum: 0.9)
                let trainer = Trainer(model: net, optimizer: sgd, batchSize: 100, seed: 0)
                let w0 = DispatchTime.now().uptimeNanoseconds, c0 = processCPUSeconds()
                let loss = try trainer.trainEpoch(train)
                let run = Run(sparse: sparse, wallSeconds: Double(DispatchTime.now().uptimeNanoseconds - w0) / 1e9,
                              cpuSeconds: processCPUSeconds() - c0, meanLoss: loss)
                if sparse && linears.contains(where: { $0.trainingRows == nil }) {
                    throw EngineError("the sparse kernels were not used (WORKBENCH_SPARSE or WORKBENCH_SPARSE_TRAINING forces dense?)")
                }
                log(String(format: "run %d, %@: %.3f s wall, %.3f s CPU, mean loss %.6f, %d updates over active entries only", r + 1,
                           sparse ? "sparse" : "dense", run.wallSeconds, run.cpuSeconds, Double(loss), sgd.activeEntryUpdates))
                all.append(run)
                if r == 0 { weights.append(linears.flatMap(\.weightParameter.value.scalars)) }
            }
        }
        // The rounding yardstick: dense again, every update off by a relative 2⁻²⁰.
        let (net, linears) = try mnistMLP(sparsity: sparsity, seed: seed)
        let perturbed = learningRate * (1 + 0x1p-20)
        let controlLoss = try Trainer(model: net, optimizer: SGD(learningRate: perturbed, momentum: 0.9), batchSize: 100, seed: 0).trainEpoch(train)
        let control = largestDifference(weights[0], linears.flatMap(\.weightParameter.value.scalars))
        let difference = largestDifference(weights[0], weights[1])
        func best(_ sparse: Bool, _ key: KeyPath<Run, Double>) -> Double { all.filter { $0.sparse == sparse }.map { $0[keyPath: key] }.min() ?? .nan }
        return Result(threads: threads, sparsity: sparsity, images: train.count, runs: all,
                      denseWall: best(false, \.wallSeconds), sparseWall: best(true, \.wallSeconds),
                      denseCPU: best(false, \.cpuSeconds), sparseCPU: best(true, \.cpuSeconds), weightDifference: difference,
                      roundingControl: control, roundingControlLoss: controlLoss)
    }

    static let learningRate: Float = 0.1

    /// max |a - b| / max(1, |a|).
    static func largestDifference(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { Swift.max($0, Double(abs($1.0 - $1.1)) / Swift.max(1, Double(abs($1.0)))) }
    }
}
