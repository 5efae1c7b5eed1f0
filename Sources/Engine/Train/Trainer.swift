import Foundation

/// What a hook sees.
public struct TrainProgress {
    public var epoch: Int          // 1-based (for `steps`, the epoch the steps count towards: epochs done + 1)
    public var batch: Int          // 1-based within the epoch (or within the `steps` call)
    public var batches: Int        // per epoch (or in the `steps` call)
    public var loss: Float         // of this batch (NaN before the forward pass), or mean over the epoch
    public var examples: Int       // seen so far in this epoch (or `steps` call)
    public var step: Int = 0       // optimiser steps taken before this one (all calls), from 0
    public var samples: Int = 0    // examples trained on before this batch (all calls)
    /// Examples of this batch whose highest score is not their class (nil before the forward
    /// pass, and for targets that are not one class per example).
    public var wrong: Int? = nil
}

/// Result of an evaluation: classification error in percent and mean loss per example, and
/// (when asked for with `topK`) the top-k error: the percentage of examples whose class is
/// not among the k highest scores.
public struct Evaluation: CustomStringConvertible {
    public var errorPercent: Double
    public var loss: Double
    public var count: Int
    public var topKErrorPercent: Double? = nil
    public var accuracyPercent: Double { 100 - errorPercent }
    public var description: String { String(format: "avg. loss: %.4f; avg. error: %.4f", loss, errorPercent) }
}

/// Minibatch training of a classifier (Torch's train loop), kept for as long as the training
/// goes on: the optimiser (and so its momentum), the counters and the shuffling generator
/// carry over from one `trainEpoch` or `steps` call to the next.
///
/// Each epoch visits the training set in an order drawn from a generator seeded once at
/// construction, so the same seed and thread count give bitwise identical weights.
///
/// One training step, with its hooks in order (a hook may change masks, weights, group
/// settings, frozen layers or the schedules; the rest of the step sees the change):
/// schedules assign their rates → training mode → `beforeForward` → forward, loss → backward
/// (parameter gradients computed and masked) → `penalties` (their values added to the loss,
/// their gradients to the parameters') → `afterBackward` → optimiser step → `afterStep`; after
/// the last step of an epoch, `afterEpoch` with the epoch's mean loss. An error thrown by a
/// hook stops training and propagates.
///
/// The loss the trainer reports (returned, and seen by the hooks) is the criterion's mean
/// loss over the batch plus Σ `Penalty.value()`. Every step starts by putting the model into
/// training mode (before `beforeForward`, so that hook may still change a module's mode for
/// the step); modules pinned to evaluation (`Module.isEvaluationPinned`) stay in evaluation.
public final class Trainer {
    public let model: Sequential
    public let criterion: Criterion
    public var optimizer: Optimizer
    public var batchSize: Int
    public var showProgress: Bool
    /// Before the forward pass of each step (`loss` is NaN).
    public var beforeForward: ((TrainProgress) throws -> Void)?
    /// After backward and the penalties, before the optimiser step: the place for gradient
    /// noise or clipping (it sees the full gradient).
    public var afterBackward: ((TrainProgress) throws -> Void)?
    /// After each optimiser step.
    public var afterStep: ((TrainProgress) throws -> Void)?
    /// After each epoch of `trainEpoch`, with the epoch's mean loss.
    public var afterEpoch: ((TrainProgress) throws -> Void)?
    /// Learning-rate schedules, applied before every step (in this order).
    public var schedulers: [LearningRateScheduler] = []
    /// Penalties added to the loss and its gradient after backward, before `afterBackward`
    /// (in this order); none: nothing is computed.
    public var penalties: [Penalty] = []
    private var rng: RandomGenerator
    /// The generator of the shuffling orders (read and set to resume a run where it stopped:
    /// the next epoch then visits the data in the order it would have).
    public var orderGenerator: RandomGenerator {
        get { rng }
        set { rng = newValue }
    }
    /// Epochs completed by `trainEpoch`.
    private(set) public var epochsDone = 0
    /// Optimiser steps taken, over every call so far.
    private(set) public var stepsDone = 0
    /// Examples trained on, over every call so far.
    private(set) public var samplesSeen = 0
    private let inputs = Tensor(), targets = Tensor()
    /// The current batch's targets (0-based class labels), for hooks: valid from
    /// `beforeForward` to `afterStep` of the step that drew them.
    public var batchTargets: Tensor { targets }
    /// Misclassified examples of the last batch trained on (nil unless one class per example).
    private var lastBatchWrong: Int?
    /// The running order of `steps` without replacement, and the next position in it.
    private var stepOrder: [Int] = [], stepCursor = 0

    public init(model: Sequential, criterion: Criterion = CrossEntropyCriterion(), optimizer: Optimizer,
                batchSize: Int = 128, seed: UInt64 = 0, showProgress: Bool = false) {
        self.model = model
        self.criterion = criterion
        self.optimizer = optimizer
        self.batchSize = batchSize
        self.showProgress = showProgress
        rng = RandomGenerator(seed: seed)
    }

    /// One pass over `data` in a freshly shuffled order; returns the mean training loss.
    @discardableResult
    public func trainEpoch(_ data: Dataset) throws -> Float {
        try check(data)
        let order = rng.permutation(data.count)
        let batches = (data.count + batchSize - 1) / batchSize
        let bar = ProgressBar(total: batches, enabled: showProgress)
        var totalLoss = 0.0
        let epochIndex = epochsDone
        for b in 0..<batches {
            let range = (b * batchSize)..<Swift.min((b + 1) * batchSize, data.count)
            data.fillBatch(order[range], inputs: inputs, targets: targets)
            var progress = TrainProgress(epoch: epochIndex + 1, batch: b + 1, batches: batches, loss: .nan, examples: range.upperBound)
            let loss = try trainStep(&progress, epochIndex: epochIndex, count: range.count)
            totalLoss += Double(loss) * Double(range.count)
            bar.update(b + 1)
            try Interrupt.check()
        }
        epochsDone += 1
        let mean = Float(totalLoss / Double(data.count))
        try afterEpoch?(TrainProgress(epoch: epochsDone, batch: batches, batches: batches, loss: mean, examples: data.count,
                                      step: stepsDone, samples: samplesSeen))
        return mean
    }

    /// `count` steps of `batchSize` examples each; returns their mean loss. With `replacement`,
    /// each batch is drawn uniformly with replacement (as iterative magnitude pruning samples
    /// its minibatches); without, batches follow a shuffled order of `data` that carries over
    /// between calls and is drawn anew whenever it is used up (a pass's last batch may be
    /// smaller). Epochs are not counted here; per-epoch schedules see `epochsDone`.
    @discardableResult
    public func steps(_ data: Dataset, _ count: Int, replacement: Bool = false) throws -> Float {
        try check(data)
        guard count >= 0 else { throw EngineError("the number of steps must be 0 or more, got \(count)") }
        let bar = ProgressBar(total: count, enabled: showProgress)
        var totalLoss = 0.0, examples = 0
        var indices = [Int]()
        for k in 0..<count {
            indices.removeAll(keepingCapacity: true)
            if replacement {
                for _ in 0..<batchSize { indices.append(Int(rng.next() % UInt64(data.count))) }
            } else {
                if stepCursor >= stepOrder.count { stepOrder = rng.permutation(data.count); stepCursor = 0 }
                let end = Swift.min(stepCursor + batchSize, stepOrder.count)
                indices.append(contentsOf: stepOrder[stepCursor..<end])
                stepCursor = end
            }
            data.fillBatch(indices, inputs: inputs, targets: targets)
            examples += indices.count
            var progress = TrainProgress(epoch: epochsDone + 1, batch: k + 1, batches: count, loss: .nan, examples: examples)
            totalLoss += Double(try trainStep(&progress, epochIndex: epochsDone, count: indices.count)) * Double(indices.count)
            bar.update(k + 1)
            try Interrupt.check()
        }
        return examples == 0 ? .nan : Float(totalLoss / Double(examples))
    }

    private func check(_ data: Dataset) throws {
        guard batchSize > 0 else { throw EngineError("batch size must be positive, got \(batchSize)") }
        guard data.count > 0 else { throw EngineError("\(data.name): no training images") }
    }

    /// One step on the batch in `inputs`/`targets` (`count` examples), with schedules and hooks.
    private func trainStep(_ progress: inout TrainProgress, epochIndex: Int, count: Int) throws -> Float {
        progress.step = stepsDone
        progress.samples = samplesSeen
        for s in schedulers { try s.apply(step: stepsDone, epoch: epochIndex) }
        model.training()   // each step, so a hook's evaluation pass (or unpinning) does not outlast it
        try beforeForward?(progress)
        let loss = try lossAndGradients(inputs, targets)
        progress.loss = loss
        progress.wrong = lastBatchWrong
        try afterBackward?(progress)
        optimizer.step(model)
        stepsDone += 1
        samplesSeen += count
        try afterStep?(progress)
        return loss
    }

    /// forward, loss, backward (down to the lowest trained layer), penalties, optimiser step;
    /// no hooks, schedules or counters.
    /// A loss that is not finite stops training before the step, so the weights stay finite.
    public func step(_ x: Tensor, _ y: Tensor) throws -> Float {
        let loss = try lossAndGradients(x, y)
        optimizer.step(model)
        return loss
    }

    /// Zeroes the gradients (of the modules still trained, and of the penalties' parameters:
    /// a frozen module's stay 0 without work), then forward, loss, backward down to the lowest
    /// trained layer, then the penalties: returns criterion loss + Σ penalty values.
    private func lossAndGradients(_ x: Tensor, _ y: Tensor) throws -> Float {
        model.zeroTrainedGradients()
        for p in penalties { for q in p.parameters { q.grad.zero() } }
        let out = try model.forward(x)
        var loss = try criterion.forward(out, y)
        lastBatchWrong = out.dim == 2 && y.count == out.shape[0] && y.count > 0 ? misclassified(out, y) : nil
        try checkFinite(loss)
        try model.backwardParametersOnly(x, try criterion.backward(out, y))
        if !penalties.isEmpty {
            loss = Float(Double(loss) + Penalty.apply(penalties))
            try checkFinite(loss)
        }
        return loss
    }

    private func checkFinite(_ loss: Float) throws {
        guard loss.isFinite else {
            throw EngineError("training diverged: the loss is \(loss) at epoch \(epochsDone + 1), step \(stepsDone + 1); the weights are left as they were before this step (try a smaller learning rate)")
        }
    }
}

/// Evaluates `model` on `data` in evaluation mode: error in percent and mean loss, and with
/// `topK` = k the top-k error in the same pass (`topKCorrect`). The model is left in
/// evaluation mode.
public func evaluate(_ model: Module, on data: Dataset, criterion: Criterion = CrossEntropyCriterion(),
                     batchSize: Int = 250, showProgress: Bool = false, topK: Int? = nil) throws -> Evaluation {
    guard data.count > 0 else { throw EngineError("\(data.name): no images to evaluate on") }
    model.evaluate()
    let inputs = Tensor(), targets = Tensor()
    let batches = (data.count + batchSize - 1) / batchSize
    return try evaluateBatches(batches, examples: data.count, criterion: criterion, showProgress: showProgress, topK: topK) { b in
        let range = (b * batchSize)..<Swift.min((b + 1) * batchSize, data.count)
        data.fillBatch(range, inputs: inputs, targets: targets)
        return (try model.forward(inputs), targets)
    }
}

/// The loop of every evaluation: `batch(b)` gives batch b's outputs and targets; the loss,
/// errors and top-k counts are summed over the batches, with the weights frozen.
private func evaluateBatches(_ batches: Int, examples: Int, criterion: Criterion, showProgress: Bool, topK: Int?,
                             _ batch: (Int) throws -> (Tensor, Tensor)) throws -> Evaluation {
    let bar = ProgressBar(total: batches, enabled: showProgress)
    var wrong = 0, topKRight = 0
    var loss = 0.0
    // Nothing writes a weight while the batches run: the sparse layers build their rows once.
    try SparseChoice.withFrozenWeights {
        for b in 0..<batches {
            let (out, targets) = try batch(b)
            loss += Double(try criterion.forward(out, targets)) * Double(targets.count)
            wrong += misclassified(out, targets)
            if let k = topK { topKRight += try topKCorrect(out, targets, k: k) }
            bar.update(b + 1)
            try Interrupt.check()
        }
    }
    return Evaluation(errorPercent: 100 * Double(wrong) / Double(examples), loss: loss / Double(examples), count: examples,
                      topKErrorPercent: topK.map { _ in 100 * Double(examples - topKRight) / Double(examples) })
}

/// A dataset as the input of one module of a Sequential: the outputs of the modules before
/// module `layer` (1-based) of a model, batch by batch, computed once in evaluation mode. A
/// sensitivity sweep prunes one layer per cell: what comes before it does not change, so each
/// cell's test runs only from the pruned layer on (`evaluate(_:on:)`), with the same batches,
/// so the same numbers, as a full evaluation.
public final class LayerInputs {
    /// The module (1-based) these are the inputs of.
    public let layer: Int
    public let count: Int
    public let name: String
    private let batches: [(inputs: Tensor, targets: Tensor)]

    public init(_ model: Sequential, _ data: Dataset, layer: Int, batchSize: Int = 250) throws {
        guard data.count > 0 else { throw EngineError("\(data.name): no images to evaluate on") }
        guard layer >= 1 && layer <= model.count else {
            throw EngineError("layer \(layer) does not exist: the model has layers 1..\(model.count)")
        }
        self.layer = layer
        count = data.count
        name = data.name
        model.evaluate()
        var batches: [(Tensor, Tensor)] = []
        try SparseChoice.withFrozenWeights {
            for start in stride(from: 0, to: data.count, by: batchSize) {
                let inputs = Tensor(), targets = Tensor()
                data.fillBatch(start..<Swift.min(start + batchSize, data.count), inputs: inputs, targets: targets)
                var x = inputs
                for m in model.modules[0..<(layer - 1)] { x = try m.forward(x) }
                batches.append((layer > 1 ? x.clone() : x, targets))
                try Interrupt.check()
            }
        }
        self.batches = batches
    }

    /// The inputs of module `layer` computed from `earlier`, the inputs of an earlier module of
    /// the same model: only the modules between them run, on the same batches, so the numbers
    /// are those of the whole prefix.
    public init(_ model: Sequential, from earlier: LayerInputs, layer: Int) throws {
        guard layer > earlier.layer && layer <= model.count else {
            throw EngineError("layer \(layer): the inputs of layer \(earlier.layer) give those of a later layer up to \(model.count)")
        }
        self.layer = layer
        count = earlier.count
        name = earlier.name
        model.evaluate()
        let between = model.modules[(earlier.layer - 1)..<(layer - 1)]
        var batches: [(Tensor, Tensor)] = []
        try SparseChoice.withFrozenWeights {
            for b in earlier.batches {
                var x = b.inputs
                for m in between { x = try m.forward(x) }
                batches.append((x.clone(), b.targets))
                try Interrupt.check()
            }
        }
        self.batches = batches
    }

    /// Evaluates modules `layer`... of `model` (a model of the same architecture as the one
    /// these inputs came from, whose earlier modules are unchanged) on the inputs, as
    /// `evaluate(_:on:)` of the dataset would.
    public func evaluate(_ model: Sequential, criterion: Criterion = CrossEntropyCriterion(), topK: Int? = nil) throws -> Evaluation {
        guard model.count >= layer else {
            throw EngineError("these inputs are of layer \(layer); the model has layers 1..\(model.count)")
        }
        model.evaluate()
        let suffix = model.modules[(layer - 1)...]
        return try evaluateBatches(batches.count, examples: count, criterion: criterion, showProgress: false, topK: topK) { b in
            var x = batches[b].inputs
            for m in suffix { x = try m.forward(x) }
            return (x, batches[b].targets)
        }
    }
}

/// Number of rows of `scores` [n, classes] whose first maximum is not the target class.
public func misclassified(_ scores: Tensor, _ targets: Tensor) -> Int {
    let n = targets.count, c = scores.count / Swift.max(n, 1)
    let s = scores.data
    var wrong = 0
    for b in 0..<n {
        let row = s + b * c
        var best = 0
        for k in 1..<c where row[k] > row[best] { best = k }
        if best != Int(targets[b]) { wrong += 1 }
    }
    return wrong
}
