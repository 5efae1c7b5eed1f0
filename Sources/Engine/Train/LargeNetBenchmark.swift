import Foundation

/// One measurement of a net larger than LeNet: the time of one training step and of one
/// inference pass over a random batch, as ../shared/bench/torch_bignets.py measures PyTorch.
public struct LargeNetResult: Codable {
    public var net: String
    public var threads: Int
    public var batchSize: Int
    public var inputShape: [Int]
    public var parameters: Int
    public var forwardFLOPPerImage: Double
    /// Seconds of one training step: zero the gradients, forward, cross-entropy, backward (no
    /// optimiser step, as the PyTorch anchor), the mean of `steps` after one warm-up step.
    public var trainStepSeconds: Double
    /// CPU seconds (all threads) of the same steps, per step.
    public var trainStepCPUSeconds: Double
    /// Seconds of one forward pass of the batch in evaluation mode, the mean of `steps`.
    public var inferenceSeconds: Double
    public var trainGFLOPS: Double       // 3 × forward FLOPs per image × batch / step
    public var inferenceGFLOPS: Double
    /// Peak resident memory of the process after the training steps.
    public var trainingPeakResidentMB: Double
    public var steps: Int
}

/// Training-step and inference timing of a given net on a random batch: inputs uniform in
/// [0, 1), every label class 1, weights as the net's constructors drew them (seed 0), the
/// protocol of the PyTorch anchor for larger nets (torch_bignets.py), so the two compare.
public enum LargeNetBenchmark {
    public static func run(net name: String, model: Sequential, inputShape: [Int], threads: Int,
                           batchSize: Int = 128, steps: Int = 5) throws -> LargeNetResult {
        Parallel.setThreads(threads)
        var rng = RandomGenerator(seed: 0)
        let x = Tensor(shape: [batchSize] + inputShape)
        x.fillUniform(0, 1, &rng)
        let labels = Tensor(shape: [batchSize])   // class 1 (index 0) for every image, as the anchor
        let criterion = CrossEntropyCriterion()
        model.evaluate()   // batch norm in evaluation mode for the one-image pass
        let flop = try Benchmark.forwardFLOPs(model, imageShape: inputShape)

        func step() throws {
            model.zeroGradParameters()
            let y = try model.forward(x)
            try criterion.forward(y, labels)
            try model.backwardParametersOnly(x, try criterion.backward(y, labels))   // as the trainer: no input gradient of the first layer
        }
        model.training()
        try step()
        let c0 = processCPUSeconds(), t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<steps { try step() }
        let train = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / Double(steps)
        let trainCPU = (processCPUSeconds() - c0) / Double(steps)
        let peak = peakResidentMegabytes()

        model.evaluate()
        _ = try model.forward(x)
        let t1 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<steps { _ = try model.forward(x) }
        let infer = Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e9 / Double(steps)
        return LargeNetResult(
            net: name, threads: threads, batchSize: batchSize, inputShape: inputShape,
            parameters: leafModules(model).flatMap(\.parameters).reduce(0) { $0 + $1.value.count }, forwardFLOPPerImage: flop,
            trainStepSeconds: train, trainStepCPUSeconds: trainCPU, inferenceSeconds: infer,
            trainGFLOPS: 3 * flop * Double(batchSize) / train / 1e9,
            inferenceGFLOPS: flop * Double(batchSize) / infer / 1e9,
            trainingPeakResidentMB: peak, steps: steps)
    }
}
