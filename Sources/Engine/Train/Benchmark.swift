import Foundation

/// One benchmark measurement: training and inference speed of a net on this machine.
public struct BenchResult: Codable {
    public var net: String
    public var threads: Int
    public var batchSize: Int
    public var forwardFLOPPerImage: Double
    public var epochSeconds: Double          // per 60k images
    public var inferenceSeconds: Double      // 10k images at batch 1000, best of 3
    public var trainGFLOPS: Double           // 3 × forward FLOPs convention, as the PyTorch anchor
    public var inferenceGFLOPS: Double
    /// Peak resident memory of the process after the training epoch (data loaded, model,
    /// optimiser state and batch buffers), and after the batch-1000 inference as well.
    public var trainingPeakResidentMB: Double
    public var peakResidentMB: Double
    public var blasCore: String
    public var data: String
}

/// Training and inference timing on the nets of `ModelZoo`, following the PyTorch anchor's
/// protocol (../shared/bench): SGD lr 0.01 momentum 0.9, batch 128, warm-up steps first,
/// then one timed epoch of 60k images (shuffle, batch gather, forward, backward, step), and
/// 10k-image inference at batch 1000 in evaluation mode.
public enum Benchmark {
    public static func run(net: String, threads: Int, train: Dataset, test: Dataset,
                           epochImages: Int = 60_000, inferenceImages: Int = 10_000,
                           warmupSteps: Int = 30) throws -> BenchResult {
        guard let spec = ModelZoo.named(net) else {
            throw EngineError("unknown net '\(net)'; known: \(ModelZoo.names.joined(separator: ", "))")
        }
        Parallel.setThreads(threads)
        GlobalRandom.seed(0)
        let model = try ModelZoo.build(spec)
        let flop = try forwardFLOPs(model, imageShape: [train.channels, train.height, train.width])
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.01, momentum: 0.9), batchSize: 128, seed: 0)

        // Warm-up on the first images.
        try trainer.trainEpoch(train.prefix(warmupSteps * 128))

        let epochData = repeated(train, to: epochImages)
        let t0 = DispatchTime.now().uptimeNanoseconds
        try trainer.trainEpoch(epochData)
        let epoch = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let trainingPeak = peakResidentMegabytes()

        let inferData = repeated(test, to: inferenceImages)
        var best = Double.infinity
        for _ in 0..<3 {
            let t1 = DispatchTime.now().uptimeNanoseconds
            _ = try evaluate(model, on: inferData, batchSize: 1000)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e9)
        }
        return BenchResult(
            net: net, threads: threads, batchSize: 128, forwardFLOPPerImage: flop,
            epochSeconds: epoch, inferenceSeconds: best,
            trainGFLOPS: 3 * flop * Double(epochImages) / epoch / 1e9,
            inferenceGFLOPS: flop * Double(inferenceImages) / best / 1e9,
            trainingPeakResidentMB: trainingPeak, peakResidentMB: peakResidentMegabytes(), blasCore: BLAS.coreName, data: train.name)
    }

    /// The first `n` images of `d`, cycling when it has fewer.
    static func repeated(_ d: Dataset, to n: Int) -> Dataset {
        if d.count >= n { return d.prefix(n) }
        var px = [UInt8](), lb = [Int32]()
        while lb.count < n {
            let k = min(d.count, n - lb.count)
            px.append(contentsOf: d.pixels[0..<(k * d.imageSize)])
            lb.append(contentsOf: d.labels[0..<k])
        }
        return try! Dataset(name: d.name, pixels: px, labels: lb, channels: d.channels, height: d.height, width: d.width, classes: d.classes)
    }

    /// Multiply-add FLOPs of one image's forward pass (2 per multiply-accumulate in
    /// convolutions and linear layers, wherever they sit in the net; activations, pooling and
    /// loss not counted), found by running a batch of two images (a batch, so that every layer
    /// takes it as one) and reading each layer's output size.
    public static func forwardFLOPs(_ model: Sequential, imageShape: [Int]) throws -> Double {
        _ = try model.forward(Tensor(shape: [2] + imageShape))
        var total = 0.0
        for m in allModules(model) {
            if let c = m as? SpatialConvolution {
                total += Double(c.output.count) * Double(c.nInputPlane * c.kH * c.kW)   // 2 FLOPs × half the batch's outputs
            } else if let l = m as? Linear {
                total += 2 * Double(l.inputSize * l.outputSize)
            }
        }
        model.clearState()
        return total
    }

    /// Synthetic MNIST-shaped data (random pixels, labels), for machines without datasets.
    public static func syntheticData(count: Int, seed: UInt64 = 0) -> Dataset {
        var rng = RandomGenerator(seed: seed)
        var px = [UInt8](repeating: 0, count: count * 784)
        for i in px.indices { px[i] = UInt8(truncatingIfNeeded: rng.next()) }
        let lb = (0..<count).map { _ in Int32(rng.next() % 10) }
        return try! Dataset(name: "synthetic", pixels: px, labels: lb, channels: 1, height: 28, width: 28, classes: 10)
    }
}

/// Peak resident set size of this process in MB (getrusage's ru_maxrss, KB on Linux).
public func peakResidentMegabytes() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024
}

/// This process's CPU seconds (user + system, all threads).
public func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
