import Foundation

/// The layer whose weights `emp` scores, seen as a set of *items* (an output unit of a
/// Linear, an output channel of a convolution): zeroing one weight changes only its item's
/// part of the layer's output. Layers adopt it in `Layers/<Name>+Delta.swift`.
protocol DeltaScoring: Module {
    /// Items (output units or channels).
    var deltaItems: Int { get }
    /// Weights per item (a row of W).
    var deltaWeightsPerItem: Int { get }
    /// The flat per-example range of the output that item `item`'s perturbations occupy, for
    /// inputs of per-example shape `inputShape`.
    func deltaItemRange(_ item: Int, inputShape: [Int]) -> Range<Int>
    /// δ of this layer's output for each row of `rows` (row r: example `rows.example(r)`,
    /// weight `weights[r % rows.perturbations]` of the item's row of W zeroed), from the
    /// unperturbed input `x` [examples, inputShape], into `rows.src`.
    func initialDelta(_ rows: DeltaRows, item: Int, weights: ArraySlice<Int>, input x: UnsafePointer<Float>,
                      inputShape: [Int])
}

/// A module `emp` can follow a batch of perturbations through: it transforms the
/// perturbations δ of its input into those of its output, exactly, in delta form (changes of
/// activations, not activations). Layers adopt it in `Layers/<Name>+Delta.swift`.
protocol DeltaPropagating: Module {
    /// Floats per example of the two tables the step reads from the unperturbed pass.
    func deltaTableSizes(_ step: DeltaStep) -> (first: Int, second: Int)
    /// Fills the tables for `examples` examples of the unperturbed pass (input and output of
    /// this module), at the given rows of the tables.
    func fillDeltaTables(_ step: DeltaStep, input: UnsafePointer<Float>, output: UnsafePointer<Float>, examples: Int,
                         first: UnsafeMutablePointer<Float>, second: UnsafeMutablePointer<Float>)
    /// The flat per-example range of the output that a perturbation of `r` can change.
    func deltaOutputRange(_ r: Range<Int>, _ step: DeltaStep) -> Range<Int>
    /// Scratch floats per perturbation row beyond the input and output buffers.
    func deltaScratchPerRow(_ r: Range<Int>, _ step: DeltaStep) -> (extended: Int, columns: Int, planeMajor: Int)
    /// δy from δx = the rows of `rows.src` (range `r` of the input); returns true when δy is in
    /// `rows.dst`, false when it was computed in place.
    func updateDeltaOutput(_ rows: DeltaRows, range r: Range<Int>, _ step: DeltaStep) -> Bool
    /// As the last step before the loss: the logit changes transposed, [classes, rows], into
    /// `rows.logits`; returns false when the module does not do that (the worker transposes).
    func updateDeltaLogits(_ rows: DeltaRows, range r: Range<Int>, _ step: DeltaStep) -> Bool
}

extension DeltaPropagating {
    func deltaTableSizes(_ step: DeltaStep) -> (first: Int, second: Int) { (0, 0) }
    func fillDeltaTables(_ step: DeltaStep, input: UnsafePointer<Float>, output: UnsafePointer<Float>, examples: Int,
                         first: UnsafeMutablePointer<Float>, second: UnsafeMutablePointer<Float>) {}
    func deltaOutputRange(_ r: Range<Int>, _ step: DeltaStep) -> Range<Int> { r }
    func deltaScratchPerRow(_ r: Range<Int>, _ step: DeltaStep) -> (extended: Int, columns: Int, planeMajor: Int) { (0, 0, 0) }
    func updateDeltaLogits(_ rows: DeltaRows, range r: Range<Int>, _ step: DeltaStep) -> Bool { false }
}

/// What a delta step works on: one chunk of perturbation rows (example-major, row = e·Q + q
/// for Q perturbations) and the worker's buffers.
struct DeltaRows {
    /// Rows, the block-local example of row 0, perturbations per example.
    let rows: Int, e0: Int, perturbations: Int
    /// The step's input rows, and where it writes its output when not in place.
    let src: UnsafeMutablePointer<Float>, dst: UnsafeMutablePointer<Float>
    /// Scratch: a perturbation widened to whole planes, unfolded columns, a plane-major product.
    let extended: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>, planeMajor: UnsafeMutablePointer<Float>
    /// The logit changes [classes, rows] for the loss.
    let logits: UnsafeMutablePointer<Float>
    /// The step's tables from the unperturbed pass (see `DeltaPropagating.deltaTableSizes`).
    let first: UnsafePointer<Float>, second: UnsafePointer<Float>

    /// Block-local example of row r.
    @inline(__always) func example(_ r: Int) -> Int { e0 + r / perturbations }

    /// Widens each row of `src` (range r of a [C, H, W] activation) to whole planes [c0, c1),
    /// zero elsewhere; returns the buffer holding whole planes (src itself when r is aligned).
    func wholePlanes(range r: Range<Int>, shape: [Int]) -> UnsafeMutablePointer<Float> {
        let (c0, c1) = DeltaStep.planes(r, shape: shape)
        let hw = shape[shape.count - 2] * shape[shape.count - 1]
        if r.lowerBound == c0 * hw && r.upperBound == c1 * hw { return src }
        let wide = (c1 - c0) * hw, offset = r.lowerBound - c0 * hw, w = r.count
        for row in 0..<rows {
            let o = extended + row * wide
            o.update(repeating: 0, count: wide)
            (o + offset).update(from: src + row * w, count: w)
        }
        return extended
    }
}

/// One downstream step and the per-example shapes of its input and output.
struct DeltaStep {
    let module: any DeltaPropagating
    let leaf: Int
    var inputShape: [Int] = []
    var outputShape: [Int] = []
    var inputCount: Int { inputShape.reduce(1, *) }
    var outputCount: Int { outputShape.reduce(1, *) }

    static func make(_ m: Module, leaf: Int, layerName: String) throws -> DeltaStep {
        guard let module = m as? any DeltaPropagating else {
            throw EngineError("emp cannot follow a weight's perturbation through \(layerName) (\(m.typeName)): supported downstream are nn.Linear, nn.SpatialConvolution, nn.Tanh, nn.Sigmoid, nn.ReLU, nn.Dropout, nn.SpatialMaxPooling, nn.View, nn.Reshape, nn.Identity; use the pruner emp-naive for this model")
        }
        return DeltaStep(module: module, leaf: leaf)
    }

    /// The planes [c0, c1) of a [C, H, W] activation that contain the flat range `r`.
    static func planes(_ r: Range<Int>, shape: [Int]) -> (Int, Int) {
        let hw = shape[shape.count - 2] * shape[shape.count - 1]
        return (r.lowerBound / hw, (r.upperBound + hw - 1) / hw)
    }

    /// The flat per-example range of this step's output that a perturbation of `r` can change.
    func outputRange(_ r: Range<Int>) -> Range<Int> { module.deltaOutputRange(r, self) }

    /// Scratch floats per perturbation row beyond the input and output buffers.
    func scratchPerRow(_ r: Range<Int>) -> (extended: Int, columns: Int, planeMajor: Int) { module.deltaScratchPerRow(r, self) }
}

/// Activations of the unperturbed forward pass over a block of scoring examples, in the
/// forms the delta steps read (one row per example).
final class EmpiricalBaseTables {
    /// Input of the scored layer [n, features].
    var targetInput = Tensor()
    /// Per step: first and second table (see `DeltaPropagating.deltaTableSizes`), empty when unused.
    var first: [Tensor]
    var second: [Tensor]
    /// softmax of the logits [n, classes] and the 0-based targets.
    var probabilities = Tensor()
    var targets: [Int] = []
    var count = 0

    init(steps: Int) {
        first = (0..<steps).map { _ in Tensor() }
        second = (0..<steps).map { _ in Tensor() }
    }

    /// Runs the model over `data[range]` in batches and fills the tables.
    func fill(chain: LayerChain, head: SoftmaxCrossEntropyHead, targetLeaf: Int, steps: inout [DeltaStep],
              data: Dataset, range: Range<Int>, batchSize: Int) throws {
        count = range.count
        targets = []
        let inputs = Tensor(), labels = Tensor()
        var start = range.lowerBound
        while start < range.upperBound {
            let batch = start..<Swift.min(start + batchSize, range.upperBound)
            data.fillBatch(batch, inputs: inputs, targets: labels)
            _ = try chain.model.forward(inputs)
            let b = batch.count, row0 = batch.lowerBound - range.lowerBound
            let x = chain.input(ofLeaf: targetLeaf, modelInput: inputs)
            copyRows(x, into: targetInput, row0: row0, batch: b)
            for s in steps.indices {
                let input = chain.input(ofLeaf: steps[s].leaf, modelInput: inputs)
                let output = chain.leaves[steps[s].leaf].output
                if steps[s].inputShape.isEmpty {
                    steps[s].inputShape = Array(input.shape.dropFirst())
                    steps[s].outputShape = Array(output.shape.dropFirst())
                }
                try fillStep(steps[s], s, input: input, output: output, row0: row0, batch: b)
            }
            let z = head.logits(chain, modelInput: inputs)
            let classes = z.count / b
            if probabilities.count != count * classes { probabilities.resize([count, classes]) }
            for e in 0..<b {
                SoftmaxCrossEntropyHead.probabilities(z.data + e * classes, classes: classes,
                                                      into: probabilities.data + (row0 + e) * classes)
                targets.append(Int(labels[e]))
            }
            start = batch.upperBound
        }
    }

    private func copyRows(_ src: Tensor, into dst: Tensor, row0: Int, batch b: Int) {
        let f = src.count / b
        let shape = [count] + Array(src.shape.dropFirst())
        if dst.shape != shape { dst.resize(shape) }
        (dst.data + row0 * f).update(from: src.data, count: b * f)
    }

    private func fillStep(_ step: DeltaStep, _ s: Int, input: Tensor, output: Tensor, row0: Int, batch b: Int) throws {
        let sizes = step.module.deltaTableSizes(step)
        if sizes.first > 0 && first[s].count != count * sizes.first { first[s].resize([count, sizes.first]) }
        if sizes.second > 0 && second[s].count != count * sizes.second { second[s].resize([count, sizes.second]) }
        step.module.fillDeltaTables(step, input: input.data, output: output.data, examples: b,
                                    first: first[s].data + (sizes.first > 0 ? row0 * sizes.first : 0),
                                    second: second[s].data + (sizes.second > 0 ? row0 * sizes.second : 0))
    }
}
