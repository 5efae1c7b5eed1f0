/// Saves what a scoring pass may disturb in a model, and puts it back: training/evaluation
/// mode, each module's `isFrozen` flag, and every parameter's accumulated gradient. Scoring
/// passes run in evaluation mode (no dropout noise, batch norm on its running statistics)
/// and never change parameter values or buffers.
struct ModelStateGuard {
    private let model: Module
    private let wasTraining: Bool
    private let frozen: [(Module, Bool)]
    private let gradients: [(Parameter, Tensor)]

    init(_ model: Module) {
        self.model = model
        wasTraining = model.isTraining
        frozen = allModules(model).map { ($0, $0.isFrozen) }
        gradients = model.allParameters.map { ($0, $0.grad.clone()) }
    }

    func restore() {
        for (m, f) in frozen { m.isFrozen = f }
        for (p, g) in gradients { p.grad.copy(from: g) }
        if wasTraining { model.training() } else { model.evaluate() }
    }
}

/// Runs `body` over `data` in consecutive batches of at most `batchSize` images, with the
/// batch's inputs [b, C, H, W], 0-based class targets [b], and the range of image indices.
func forEachBatch(_ data: Dataset, batchSize: Int, _ body: (Tensor, Tensor, Range<Int>) throws -> Void) throws {
    guard batchSize > 0 else { throw EngineError("batch size must be positive, got \(batchSize)") }
    let inputs = Tensor(), targets = Tensor()
    var start = 0
    while start < data.count {
        let range = start..<Swift.min(start + batchSize, data.count)
        data.fillBatch(range, inputs: inputs, targets: targets)
        try body(inputs, targets, range)
        start = range.upperBound
    }
}
