import Foundation

/// What a batch or epoch hook sees.
public struct TrainProgress {
    public var epoch: Int          // 1-based
    public var batch: Int          // 1-based within the epoch
    public var batches: Int        // per epoch
    public var loss: Float         // of this batch (per-batch hooks) or mean over the epoch
    public var examples: Int       // seen so far in this epoch
}

/// Result of an evaluation: classification error in percent and mean loss per example.
public struct Evaluation: CustomStringConvertible {
    public var errorPercent: Double
    public var loss: Double
    public var count: Int
    public var accuracyPercent: Double { 100 - errorPercent }
    public var description: String { String(format: "avg. loss: %.4f; avg. error: %.4f", loss, errorPercent) }
}

/// Minibatch training and evaluation of a classifier (Torch's train/test loops).
///
/// Each epoch visits the training set in an order drawn from a generator seeded once at
/// construction, so the same seed and thread count give bitwise identical weights.
public final class Trainer {
    public let model: Sequential
    public let criterion: Criterion
    public var optimizer: Optimizer
    public var batchSize: Int
    public var showProgress: Bool
    /// Called after each batch; an error thrown here stops training and propagates.
    public var onBatch: ((TrainProgress) throws -> Void)?
    /// Called after each epoch with the epoch's mean loss.
    public var onEpoch: ((TrainProgress) throws -> Void)?
    /// Learning-rate schedules, applied before every step (in this order).
    public var schedulers: [LearningRateScheduler] = []
    private var rng: RandomGenerator
    private(set) public var epochsDone = 0
    /// Optimiser steps taken, over every epoch so far.
    private(set) public var stepsDone = 0
    private let inputs = Tensor(), targets = Tensor()

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
        guard batchSize > 0 else { throw EngineError("batch size must be positive, got \(batchSize)") }
        guard data.count > 0 else { throw EngineError("\(data.name): no training images") }
        model.training()
        epochsDone += 1
        let order = rng.permutation(data.count)
        let batches = (data.count + batchSize - 1) / batchSize
        let bar = ProgressBar(total: batches, enabled: showProgress)
        var totalLoss = 0.0
        for b in 0..<batches {
            let range = (b * batchSize)..<Swift.min((b + 1) * batchSize, data.count)
            data.fillBatch(order[range], inputs: inputs, targets: targets)
            for s in schedulers { try s.apply(step: stepsDone, epoch: epochsDone - 1) }
            let loss = try step(inputs, targets)
            stepsDone += 1
            totalLoss += Double(loss) * Double(range.count)
            bar.update(b + 1)
            try onBatch?(TrainProgress(epoch: epochsDone, batch: b + 1, batches: batches, loss: loss, examples: range.upperBound))
            try Interrupt.check()
        }
        let mean = Float(totalLoss / Double(data.count))
        try onEpoch?(TrainProgress(epoch: epochsDone, batch: batches, batches: batches, loss: mean, examples: data.count))
        return mean
    }

    /// forward, loss, backward (down to the lowest trained layer), optimiser step.
    /// A loss that is not finite stops training before the step, so the weights stay finite.
    public func step(_ x: Tensor, _ y: Tensor) throws -> Float {
        model.zeroGradParameters()
        let out = try model.forward(x)
        let loss = try criterion.forward(out, y)
        guard loss.isFinite else {
            throw EngineError("training diverged: the loss is \(loss) at epoch \(Swift.max(epochsDone, 1)); the weights are left as they were before this step (try a smaller learning rate)")
        }
        let g = try criterion.backward(out, y)
        try model.backwardParametersOnly(x, g)
        optimizer.step(model)
        return loss
    }
}

/// Evaluates `model` on `data` in evaluation mode: error in percent and mean loss.
/// The model is left in evaluation mode.
public func evaluate(_ model: Module, on data: Dataset, criterion: Criterion = CrossEntropyCriterion(),
                     batchSize: Int = 250, showProgress: Bool = false) throws -> Evaluation {
    guard data.count > 0 else { throw EngineError("\(data.name): no images to evaluate on") }
    model.evaluate()
    let inputs = Tensor(), targets = Tensor()
    let batches = (data.count + batchSize - 1) / batchSize
    let bar = ProgressBar(total: batches, enabled: showProgress)
    var wrong = 0
    var loss = 0.0
    for b in 0..<batches {
        let range = (b * batchSize)..<Swift.min((b + 1) * batchSize, data.count)
        data.fillBatch(range, inputs: inputs, targets: targets)
        let out = try model.forward(inputs)
        loss += Double(try criterion.forward(out, targets)) * Double(range.count)
        wrong += misclassified(out, targets)
        bar.update(b + 1)
        try Interrupt.check()
    }
    return Evaluation(errorPercent: 100 * Double(wrong) / Double(data.count), loss: loss / Double(data.count), count: data.count)
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
