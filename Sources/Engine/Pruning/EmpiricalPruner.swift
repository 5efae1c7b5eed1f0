import Foundation

/// `emp`: the exact change of the mean loss over the scoring set when one weight alone is
/// zeroed, measured (not estimated):
///
///   score_i = L(W with W_i = 0) - L(W)   (larger = more important; negative = removing it helps),
///
/// equal to `emp-naive` (one full evaluation per weight) up to float rounding, but fast:
///
/// - zeroing W[o, i] of a Linear changes only unit o's pre-activation, by -W[o, i] x_i for every
///   example; zeroing W[o, c, v, u] of a convolution changes only output plane o, by -W times the
///   shifted input plane c. So everything upstream, and every other unit, keeps its cached value;
/// - for all weights feeding one unit (or channel) and a block of examples, the perturbations form
///   one batch of rows (example × weight), pushed through the rest of the net in *delta form*
///   (changes of activations, not activations, so tiny changes keep their precision: each
///   module's `DeltaPropagating` conformance in `Layers/<Name>+Delta.swift`, `DeltaMath`), touching only what the perturbation reaches: a Linear that
///   reads a few perturbed inputs multiplies by those columns of W only, a convolution by the
///   perturbed input planes only, max pooling only the windows over them; from the first
///   Linear or convolution on, the rows are dense and go through GEMMs;
/// - the loss change per row is log1p(Σ_{k≠t} p_k expm1(δz_k - δz_t)) (softmax cross-entropy),
///   summed per weight in double precision, in a fixed order (results do not depend on threads).
///
/// Cost: per weight and example, the multiply-adds of the net downstream of the weight's unit
/// restricted to what it reaches (for LeNet-5's layer 8: 120→84 for one unit, then 84→10, i.e.
/// ~1k per pair). Memory: the unperturbed activations of `blockSize` examples downstream of the
/// layer, plus per-thread buffers of about `rowFloats` floats.
///
/// Option `rank` (`ScoreRanking`): the signed change above (default), |score| or score².
/// Option accumulate=batch (`ScoreAccumulation`): (1/B) Σ_b ΔL_b², the exact change of each
/// scoring batch's mean loss squared (the blocks are then the batches).
public struct EmpiricalPruner: Pruner {
    public init() {}
    public var name: String { "emp" }
    public var globalNormalization: ScoreNormalization { .none }
    /// Scoring examples whose unperturbed activations are cached at a time.
    public var blockSize = 250
    /// Floats per thread for the perturbation rows (sets how many rows go through a GEMM at once).
    public var rowFloats = 1 << 20

    public func scores(_ context: PruningContext) throws -> Tensor {
        let data = try context.requireScoringSet(for: name)
        let byBatch = try context.options.accumulatesBatches(for: name)
        let model = context.model
        let chain = LayerChain(model)
        try chain.requireChain(for: name)
        let head = try SoftmaxCrossEntropyHead(chain, criterion: context.criterion, pruner: name)
        let leaf = try chain.leaf(ofLayer: context.layer)
        guard leaf < head.logitsLeafCount else {
            throw EngineError("emp: layer \(context.layer) lies after the logits of the loss")
        }
        guard let target = chain.leaves[leaf] as? any DeltaScoring else {
            throw EngineError("emp scores nn.Linear and nn.SpatialConvolution layers, layer \(context.layer) is \(chain.leaves[leaf].typeName); use emp-naive")
        }
        var steps = [DeltaStep]()
        for k in (leaf + 1)..<head.logitsLeafCount {
            let name = "layer \(k + 1)"
            steps.append(try DeltaStep.make(chain.leaves[k], leaf: k, layerName: name))
        }

        let state = ModelStateGuard(model)
        defer { state.restore() }
        model.evaluate()

        // The weights to measure: those not pruned yet, per item.
        let weight = context.weight
        let perItem = target.deltaWeightsPerItem
        let w = weight.value.data, mask = weight.mask?.data
        let itemWeights: [[Int]] = (0..<target.deltaItems).map { o in
            (0..<perItem).filter { j in
                let i = o * perItem + j
                return w[i] != 0 && (mask?[i] ?? 1) != 0
            }
        }
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: weight.value.count)
        sums.initialize(repeating: 0, count: weight.value.count)
        defer { sums.deallocate() }
        var batchSquares = byBatch ? BatchSquareAccumulator(count: weight.value.count) : nil
        let examplesPerBlock = byBatch ? context.batchSize : blockSize

        let tables = EmpiricalBaseTables(steps: steps.count)
        let blasThreads = BLAS.threads
        BLAS.setThreads(1)
        defer { BLAS.setThreads(blasThreads) }
        var layout: (classes: Int, rows: Int, sizes: EmpiricalBufferSizes)?
        var start = 0
        while start < data.count {
            let block = start..<Swift.min(start + examplesPerBlock, data.count)
            try tables.fill(chain: chain, head: head, targetLeaf: leaf, steps: &steps, data: data,
                            range: block, batchSize: context.batchSize)
            if layout == nil {
                let classes = tables.probabilities.count / Swift.max(tables.count, 1)
                let sizes = bufferSizes(target: target, steps: steps, tables: tables)
                let rows = Swift.max(1, Swift.min(4096, rowFloats / Swift.max(1, sizes.perRow + classes + 4)))
                layout = (classes, rows, sizes)
            }
            let (classes, rows, sizes) = layout!
            let plannedSteps = steps
            Parallel.forChunks(target.deltaItems, costPerItem: 1 << 20) { range in
                let worker = EmpiricalWorker(target: target, steps: plannedSteps, classes: classes, maxRows: rows, sizes: sizes)
                for o in range {
                    worker.accumulate(item: o, weights: itemWeights[o], tables: tables, sums: sums + o * perItem)
                }
            }
            try Interrupt.check()
            if batchSquares != nil {
                batchSquares!.add(batchSums: sums, count: block.count)
                sums.update(repeating: 0, count: weight.value.count)
            }
            start = block.upperBound
        }
        if let batchSquares { return batchSquares.scores(shape: weight.value.shape) }
        let scores = Tensor(shape: weight.value.shape)
        let n = Double(data.count)
        for i in 0..<scores.count { scores[i] = Float(sums[i] / n) }
        (context.options.ranking ?? .signed).apply(to: scores)
        return scores
    }

    /// The widest perturbation state along the steps, over all items.
    private func bufferSizes(target: any DeltaScoring, steps: [DeltaStep], tables: EmpiricalBaseTables) -> EmpiricalBufferSizes {
        var sizes = EmpiricalBufferSizes()
        let inputShape = Array(tables.targetInput.shape.dropFirst())
        for o in 0..<target.deltaItems {
            var range = target.deltaItemRange(o, inputShape: inputShape)
            sizes.width = Swift.max(sizes.width, range.count)
            for step in steps {
                let scratch = step.scratchPerRow(range)
                sizes.extended = Swift.max(sizes.extended, scratch.extended)
                sizes.columns = Swift.max(sizes.columns, scratch.columns)
                sizes.planeMajor = Swift.max(sizes.planeMajor, scratch.planeMajor)
                range = step.outputRange(range)
                sizes.width = Swift.max(sizes.width, range.count)
            }
        }
        return sizes
    }
}
