import XCTest
@testable import Engine

/// `l1` / `l2`: only the scales are trained; the model is left bit for bit as it was.
final class PrunerLearnedScaleTests: XCTestCase {
    private func settings(_ data: Dataset, lambda: Float, epochs: Int = 1, momentum: Float = 0.9, batch: Int = 8) -> PruningSettings {
        var o = PrunerOptions()
        o.scalePenalty = lambda
        o.scaleEpochs = epochs
        o.scaleMomentum = momentum
        o.scaleLearningRate = 0.5
        return PruningSettings(scoringSet: data, batchSize: batch, seed: 3, options: o)
    }

    func testWeightsAndTheRestOfTheModelAreLeftBitIdentical() throws {
        let data = PrunerFixtures.data(20, size: 10, classes: 4)
        for penalty in [LearnedScalePruner.Penalty.l1, .l2] {
            let model = try PrunerFixtures.miniLeNet()
            model.training()
            (model.modules[0] as! SpatialConvolution).isFrozen = true
            for p in model.allParameters { p.grad.fill(0.25) }
            let mask = Tensor(shape: [6, 16], repeating: 1)
            mask[5] = 0
            try Pruning.weight(of: model, layer: 8).setMask(mask)
            let before = model.allParameters.map { $0.value.scalars.map(\.bitPattern) + $0.grad.scalars.map(\.bitPattern) }
            let scores = try Pruning.scores(model: model, layer: 8, pruner: LearnedScalePruner(penalty),
                                            settings: settings(data, lambda: 1e-3, epochs: 2))
            let after = model.allParameters.map { $0.value.scalars.map(\.bitPattern) + $0.grad.scalars.map(\.bitPattern) }
            XCTAssertEqual(after, before, "\(penalty): parameters or gradients changed")
            XCTAssertTrue(model.isTraining)
            XCTAssertTrue(model.modules[0].isFrozen)
            XCTAssertFalse(model.modules[7].isFrozen)
            XCTAssertEqual(scores.shape, [6, 16])
            XCTAssertTrue((0..<scores.count).contains { scores[$0] != 1 }, "\(penalty): the scales did not move")
        }
    }

    /// One batch, one epoch, no momentum: s = 1 - lr (g ⊙ w + penalty'(1)), with g the layer's
    /// gradient of the mean loss (what taylor1 uses): the scales see exactly the chain rule.
    func testOneStepIsTheChainRuleOnTheScales() throws {
        let data = PrunerFixtures.data(12, size: 4, classes: 3)
        let model = try PrunerFixtures.mlp()
        let context = try PruningContext(model: model, layer: 4, settings: settings(data, lambda: 0.01, momentum: 0, batch: 12))
        let g = try context.gradient(), w = context.weight.value
        let l1 = try LearnedScalePruner(.l1).scores(context)
        let l2 = try LearnedScalePruner(.l2).scores(context)
        for i in 0..<w.count {
            XCTAssertEqual(l1[i], Swift.abs(1 - 0.5 * (g[i] * w[i] + 0.01)), accuracy: 1e-6)
            XCTAssertEqual(l2[i], Swift.abs(1 - 0.5 * (g[i] * w[i] + 0.02)), accuracy: 1e-6)
        }
    }

    func testAStrongerPenaltyShrinksTheScalesMore() throws {
        let data = PrunerFixtures.data(16, size: 4, classes: 3)
        let model = try PrunerFixtures.mlp()
        let weak = try Pruning.scores(model: model, layer: 2, pruner: LearnedScalePruner(.l1), settings: settings(data, lambda: 1e-4))
        let strong = try Pruning.scores(model: model, layer: 2, pruner: LearnedScalePruner(.l1), settings: settings(data, lambda: 1e-2))
        XCTAssertLessThan(strong.sum(), weak.sum())
    }
}
