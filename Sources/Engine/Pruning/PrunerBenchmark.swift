import Foundation

/// Timings of the expensive pruners (issue 4's targets), for the `bench` command.
public struct PrunerBenchResult: Codable {
    public var threads: Int
    public var blasCore: String
    /// `emp` on one layer (by default layer 8 of the reference LeNet-5).
    public var empLayer: Int
    public var empLayerWeights: Int
    public var empScoringImages: Int
    public var empLayerSeconds: Double
    /// `emp` on every layer with weights: seconds per layer (1-based index as text) and in all.
    public var empWholeNetWeights: Int
    public var empPerLayerSeconds: [String: Double]
    public var empWholeNetSeconds: Double
    /// The taylor2 diagonal Hessian of every layer, and one training pass, over the same images.
    public var hessianScoringImages: Int
    public var hessianSeconds: Double
    public var trainingPassSeconds: Double
    public var hessianOverTrainingPass: Double { hessianSeconds / trainingPassSeconds }
}

/// Times `emp` on one layer and on the whole net (scoring set of `empScoringSize` images) and
/// the taylor2 Hessian diagonal of the whole net against one SGD training pass (lr 0.01,
/// momentum 0.9, batch `batchSize`) over `hessianScoringSize` images, all drawn from `train`
/// with `seed`. The model is not changed (training runs on a copy).
public enum PrunerBenchmark {
    public static func run(model: Sequential, train: Dataset, threads: Int, empLayer: Int = 8,
                           empScoringSize: Int = 1000, hessianScoringSize: Int = 10_000, batchSize: Int = 128,
                           seed: UInt64 = 0, wholeNet: Bool = true) throws -> PrunerBenchResult {
        Parallel.setThreads(threads)
        let layers = Pruning.prunableLayers(model)
        guard layers.contains(empLayer) else {
            throw EngineError("layer \(empLayer) has no weights; the layers with weights are \(layers)")
        }
        let empSet = try PruningSettings.scoringSubset(of: train, size: empScoringSize, seed: seed)
        let settings = PruningSettings(scoringSet: empSet, batchSize: batchSize, seed: seed)

        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
        func weightCount(_ l: Int) throws -> Int { try Pruning.weight(of: model, layer: l).value.count }

        let empLayerSeconds = try seconds {
            _ = try Pruning.scores(model: model, layer: empLayer, pruner: EmpiricalPruner(), settings: settings)
        }
        var perLayer = [String: Double]()
        if wholeNet {
            for l in layers {
                perLayer[String(l)] = l == empLayer ? empLayerSeconds : try seconds {
                    _ = try Pruning.scores(model: model, layer: l, pruner: EmpiricalPruner(), settings: settings)
                }
            }
        }

        let hessianSet = try PruningSettings.scoringSubset(of: train, size: hessianScoringSize, seed: seed)
        let hessianSeconds = try seconds {
            _ = try DiagonalHessian.compute(model: model, layers: layers, data: hessianSet, batchSize: batchSize)
        }
        let copy = try ModelZoo.build(model.spec)
        for (a, b) in zip(copy.allParameters, model.allParameters) { a.value.copy(from: b.value) }
        let trainer = Trainer(model: copy, optimizer: SGD(learningRate: 0.01, momentum: 0.9), batchSize: batchSize, seed: seed)
        try trainer.trainEpoch(hessianSet.prefix(Swift.min(hessianSet.count, 20 * batchSize))) // warm-up
        let trainingSeconds = try seconds { try trainer.trainEpoch(hessianSet) }

        return PrunerBenchResult(
            threads: threads, blasCore: BLAS.coreName, empLayer: empLayer, empLayerWeights: try weightCount(empLayer),
            empScoringImages: empSet.count, empLayerSeconds: empLayerSeconds,
            empWholeNetWeights: try layers.reduce(0) { $0 + (try weightCount($1)) },
            empPerLayerSeconds: perLayer, empWholeNetSeconds: perLayer.values.reduce(0, +),
            hessianScoringImages: hessianSet.count, hessianSeconds: hessianSeconds, trainingPassSeconds: trainingSeconds)
    }
}
