import XCTest
@testable import Engine

/// `emp` (fast, delta propagation) against `emp-naive` (one engine evaluation per weight) and
/// against the exact double-precision definition L(W with W_i = 0) - L(W).
final class PrunerEmpiricalTests: XCTestCase {
    override func tearDown() { Parallel.setThreads(1) }

    /// Exact scores of every weight of `layer` by the double-precision reference, and the scale
    /// of the terms they sum: c_i = (1/N) Σ_e |ℓ_e(W with W_i = 0) - ℓ_e(W)|.
    private func exactScores(_ model: Sequential, layer: Int, data: Dataset) throws -> (scores: [Double], scale: [Double]) {
        let w = try Pruning.weight(of: model, layer: layer).value
        let inputs = Tensor(), targets = Tensor()
        data.fillBatch(0..<data.count, inputs: inputs, targets: targets)
        func losses() throws -> [Double] {
            try (0..<data.count).map { e in
                ReferenceNet.crossEntropy(try ReferenceNet.logits(model, example: inputs, e), Int(targets[e]))
            }
        }
        let base = try losses()
        var scores = [Double](), scale = [Double]()
        for i in 0..<w.count {
            let saved = w[i]
            w[i] = 0
            let changed = try losses()
            w[i] = saved
            let d = zip(changed, base).map { $0 - $1 }
            scores.append(d.reduce(0, +) / Double(data.count))
            scale.append(d.reduce(0) { $0 + Swift.abs($1) } / Double(data.count))
        }
        return (scores, scale)
    }

    /// |a_i - b_i| ≤ rtol · c_i for every weight, c_i the scale of the per-example terms (the
    /// score is their mean, so float rounding of the terms is relative to c_i, not to their sum).
    @discardableResult
    private func assertClose(_ a: Tensor, _ b: [Double], scale: [Double], rtol: Double, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) -> Double {
        XCTAssertGreaterThan(b.map { Swift.abs($0) }.max() ?? 0, 1e-4, "\(what): scores too small to test anything", file: file, line: line)
        var worst = (ratio: 0.0, index: 0)
        for i in 0..<b.count {
            let ratio = Swift.abs(Double(a[i]) - b[i]) / (rtol * Swift.max(scale[i], 1e-12))
            if ratio > worst.ratio { worst = (ratio, i) }
        }
        XCTAssertLessThanOrEqual(worst.ratio, 1, "\(what): weight \(worst.index): \(a[worst.index]) vs \(b[worst.index]) (scale \(scale[worst.index]))",
                                 file: file, line: line)
        print("\(what): worst error \(worst.ratio * rtol) of the term scale")
        return worst.ratio * rtol
    }

    /// max_i |a_i - b_i| ≤ rtol · max_j |b_j|: norm-wise relative agreement over the layer.
    private func assertNormwiseClose(_ a: Tensor, _ b: Tensor, rtol: Double, _ what: String,
                                     file: StaticString = #filePath, line: UInt = #line) {
        let largest = Double(b.scalars.map { Swift.abs($0) }.max() ?? 0)
        let error = Double(a.maxAbsDifference(b))
        XCTAssertGreaterThan(largest, 1e-4, "\(what): scores too small to test anything", file: file, line: line)
        XCTAssertLessThanOrEqual(error, rtol * largest, "\(what)", file: file, line: line)
        print("\(what): norm-wise error \(error / largest)")
    }

    private func settings(_ data: Dataset, batch: Int = 7) -> PruningSettings {
        PruningSettings(scoringSet: data, batchSize: batch, seed: 1)
    }

    func testFastEqualsExactAndNaiveOnEveryLayerOfAnMLP() throws {
        let data = PrunerFixtures.data(40, size: 4, classes: 3)
        let model = try PrunerFixtures.mlp()
        for layer in [2, 4, 6] {
            let s = settings(data)
            let fast = try Pruning.scores(model: model, layer: layer, pruner: EmpiricalPruner(), settings: s)
            let naive = try Pruning.scores(model: model, layer: layer, pruner: EmpiricalNaivePruner(), settings: s)
            let exact = try exactScores(model, layer: layer, data: data)
            assertClose(fast, exact.scores, scale: exact.scale, rtol: 1e-5, "fast vs exact, layer \(layer)")
            assertClose(naive, exact.scores, scale: exact.scale, rtol: 1e-3, "naive vs exact, layer \(layer)")
            assertNormwiseClose(fast, naive, rtol: 1e-5, "fast vs naive, layer \(layer)")
        }
    }

    func testFastEqualsExactAndNaiveOnEveryLayerOfAMiniLeNet() throws {
        let data = PrunerFixtures.data(24, size: 10, classes: 4)
        let model = try PrunerFixtures.miniLeNet()
        for layer in [1, 4, 8, 10] {
            let s = settings(data, batch: 5)
            let fast = try Pruning.scores(model: model, layer: layer, pruner: EmpiricalPruner(), settings: s)
            let naive = try Pruning.scores(model: model, layer: layer, pruner: EmpiricalNaivePruner(), settings: s)
            let exact = try exactScores(model, layer: layer, data: data)
            assertClose(fast, exact.scores, scale: exact.scale, rtol: 1e-5, "fast vs exact, layer \(layer)")
            assertClose(naive, exact.scores, scale: exact.scale, rtol: 1e-3, "naive vs exact, layer \(layer)")
            assertNormwiseClose(fast, naive, rtol: 1e-5, "fast vs naive, layer \(layer)")
        }
    }

    func testFastFollowsReLUAndSigmoidExactly() throws {
        let data = PrunerFixtures.data(30, size: 4, classes: 3)
        let model = try PrunerFixtures.mlp(activations: (ReLU(), Sigmoid()))
        for layer in [2, 4] {
            let fast = try Pruning.scores(model: model, layer: layer, pruner: EmpiricalPruner(), settings: settings(data))
            let exact = try exactScores(model, layer: layer, data: data)
            assertClose(fast, exact.scores, scale: exact.scale, rtol: 1e-5, "layer \(layer)")
        }
    }

    func testStridedPaddedConvolutionsFeedingAConvolution() throws {
        let data = PrunerFixtures.data(16, size: 9, classes: 3)
        GlobalRandom.seed(8)
        let model = Sequential([
            SpatialConvolution(1, 2, 3, 3, 2, 2, 1, 1), Tanh(),          // 9x9 -> 5x5
            SpatialConvolution(2, 3, 2, 2), Tanh(), SpatialMaxPooling(2, 2), // 5x5 -> 4x4 -> 2x2
            try View(12), Linear(12, 3),
        ])
        PrunerFixtures.widen(model, seed: 8)
        for layer in [1, 3, 7] {
            let fast = try Pruning.scores(model: model, layer: layer, pruner: EmpiricalPruner(), settings: settings(data))
            let naive = try Pruning.scores(model: model, layer: layer, pruner: EmpiricalNaivePruner(), settings: settings(data))
            let exact = try exactScores(model, layer: layer, data: data)
            assertClose(fast, exact.scores, scale: exact.scale, rtol: 1e-5, "strided net, layer \(layer)")
            assertNormwiseClose(fast, naive, rtol: 1e-5, "strided net, fast vs naive, layer \(layer)")
        }
    }

    func testSmallRowBuffersAndBlocksGiveTheSameScores() throws {
        let data = PrunerFixtures.data(24, size: 10, classes: 4)
        let model = try PrunerFixtures.miniLeNet()
        var small = EmpiricalPruner()
        small.blockSize = 5
        small.rowFloats = 3000
        for layer in [1, 8] {
            let a = try Pruning.scores(model: model, layer: layer, pruner: EmpiricalPruner(), settings: settings(data))
            let b = try Pruning.scores(model: model, layer: layer, pruner: small, settings: settings(data))
            XCTAssertLessThan(a.maxAbsDifference(b), 1e-7 * Float(a.scalars.map { Swift.abs($0) }.max()!), "layer \(layer)")
        }
    }

    func testScoresDoNotDependOnTheThreadCount() throws {
        let data = PrunerFixtures.data(24, size: 10, classes: 4)
        let model = try PrunerFixtures.miniLeNet()
        Parallel.setThreads(1)
        let one = try Pruning.scores(model: model, layer: 4, pruner: EmpiricalPruner(), settings: settings(data))
        Parallel.setThreads(2)
        let two = try Pruning.scores(model: model, layer: 4, pruner: EmpiricalPruner(), settings: settings(data))
        XCTAssertEqual(one.scalars, two.scalars)
    }

    func testPrunedWeightsScoreZeroAndTheOthersAreUnchanged() throws {
        let data = PrunerFixtures.data(24, size: 10, classes: 4)
        let model = try PrunerFixtures.miniLeNet()
        let w = try Pruning.weight(of: model, layer: 4)
        let mask = Tensor(shape: w.value.shape, repeating: 1)
        for i in stride(from: 0, to: mask.count, by: 3) { mask[i] = 0 }
        try w.setMask(mask)
        let fast = try Pruning.scores(model: model, layer: 4, pruner: EmpiricalPruner(), settings: settings(data))
        let exact = try exactScores(model, layer: 4, data: data)
        for i in stride(from: 0, to: mask.count, by: 3) { XCTAssertEqual(fast[i], 0) }
        assertClose(fast, exact.scores, scale: exact.scale, rtol: 1e-5, "masked conv layer")
    }

    func testTheModelIsLeftAsItWas() throws {
        let data = PrunerFixtures.data(12, size: 10, classes: 4)
        let model = try PrunerFixtures.miniLeNet()
        model.training()
        let before = model.allParameters.map { $0.value.scalars + $0.grad.scalars }
        _ = try Pruning.scores(model: model, layer: 1, pruner: EmpiricalPruner(), settings: settings(data))
        _ = try Pruning.scores(model: model, layer: 8, pruner: EmpiricalNaivePruner(), settings: settings(data))
        XCTAssertEqual(model.allParameters.map { $0.value.scalars + $0.grad.scalars }, before)
        XCTAssertTrue(model.isTraining)
    }

    func testUnsupportedModulesAndLossesAreNamed() throws {
        let data = PrunerFixtures.data(8, size: 4, classes: 3)
        let model = Sequential([try View(16), Linear(16, 5), SoftMax(), Linear(5, 3)])
        XCTAssertThrowsError(try Pruning.scores(model: model, layer: 2, pruner: EmpiricalPruner(), settings: settings(data))) {
            XCTAssertTrue("\($0)".contains("nn.SoftMax"), "\($0)")
        }
        let mlp = try PrunerFixtures.mlp()
        var s = settings(data)
        s.criterion = MSECriterion()
        XCTAssertThrowsError(try Pruning.scores(model: mlp, layer: 2, pruner: EmpiricalPruner(), settings: s)) {
            XCTAssertTrue("\($0)".contains("nn.MSECriterion"), "\($0)")
        }
        XCTAssertThrowsError(try Pruning.scores(model: mlp, layer: 2, pruner: EmpiricalPruner(), settings: PruningSettings())) {
            XCTAssertTrue("\($0)".contains("scoring set"), "\($0)")
        }
    }

    func testLogSoftMaxWithClassNLLIsTheSameLoss() throws {
        let data = PrunerFixtures.data(20, size: 4, classes: 3)
        let model = try PrunerFixtures.mlp()
        let ce = try Pruning.scores(model: model, layer: 4, pruner: EmpiricalPruner(), settings: settings(data))
        model.add(LogSoftMax())
        var s = settings(data)
        s.criterion = ClassNLLCriterion()
        let nll = try Pruning.scores(model: model, layer: 4, pruner: EmpiricalPruner(), settings: s)
        XCTAssertEqual(ce.scalars, nll.scalars)
    }
}
