import XCTest
@testable import Engine

/// L1, L2 and group lasso penalties: their value and gradient against the formulas, their place in the
/// trainer's step (after backward, before `afterBackward`; in the reported loss), their effect
/// on training, and bad arguments.
final class PenaltyTests: XCTestCase {
    private let weights: [Float] = [0.5, -0.25, 0, 1.5, -2, 0.125]
    private let biases: [Float] = [0.1, -0.3]
    private let grads: [Float] = [0.01, -0.02, 0.3, 0, -0.5, 0.25]

    /// A Linear(3, 2) with known weights, biases and weight gradient (bias gradient 1, 2).
    private func layer() -> Linear {
        let fc = Linear(3, 2)
        fc.weightParameter.value.copy(from: Tensor(shape: [2, 3], values: weights))
        fc.bias!.value.copy(from: Tensor(shape: [2], values: biases))
        fc.weightParameter.grad.copy(from: Tensor(shape: [2, 3], values: grads))
        fc.bias!.grad.copy(from: Tensor(shape: [2], values: [1, 2]))
        return fc
    }

    func testL1GradientAndValueAreTheFormulaExactly() throws {
        let fc = layer()
        let lambda: Float = 0.01
        let p = try Penalty(.l1, strength: Double(lambda), parameters: fc.parameters)
        XCTAssertEqual(p.value(), Double(lambda) * (weights + biases).reduce(0.0) { $0 + Double(abs($1)) })
        p.addGradient()
        let sign: (Float) -> Float = { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }
        XCTAssertEqual(fc.weightParameter.grad.scalars, zip(grads, weights).map { $0 + lambda * sign($1) })
        XCTAssertEqual(fc.weightParameter.grad[2], grads[2], "the subgradient at θ = 0 is 0")
        XCTAssertEqual(fc.bias!.grad.scalars, [1 + lambda, 2 - lambda])
    }

    func testL2GradientAndValueAreTheFormulaExactly() throws {
        let fc = layer()
        let lambda: Float = 0.3
        let p = try Penalty(.l2, strength: Double(lambda), parameters: [fc.weightParameter])
        XCTAssertEqual(p.value(), Double(lambda) / 2 * weights.reduce(0.0) { $0 + Double($1) * Double($1) })
        p.addGradient()
        XCTAssertEqual(fc.weightParameter.grad.scalars, zip(grads, weights).map { $0 + lambda * $1 })
        XCTAssertEqual(fc.bias!.grad.scalars, [1, 2], "the bias is not in this penalty")
    }

    /// Groups of 3 consecutive weights (the Linear's two rows): R = λ·Σ_g √(Σθ² + ε),
    /// ∂R/∂θᵢ = λ·θᵢ/√(Σ_g θ² + ε), in double precision; an all-zero group adds √ε and no gradient.
    func testGroupLassoGradientAndValueAreTheFormula() throws {
        let fc = layer()
        let lambda = Double(Float(0.02))   // (λ is stored as a Float)
        let p = try Penalty(.groupLasso, strength: lambda, parameters: [fc.weightParameter], groupSize: 3)
        let norms = [0, 3].map { start in (weights[start..<start + 3].reduce(0.0) { $0 + Double($1) * Double($1) } + 1e-12).squareRoot() }
        XCTAssertEqual(p.value(), lambda * (norms[0] + norms[1]), accuracy: 1e-12)
        p.addGradient()
        let expected = weights.indices.map { grads[$0] + Float(lambda * Double(weights[$0]) / norms[$0 / 3]) }
        XCTAssertEqual(fc.weightParameter.grad.scalars, expected)
        XCTAssertEqual(fc.bias!.grad.scalars, [1, 2], "the bias is not in this penalty")
        let zero = Linear(3, 1)
        zero.weightParameter.value.zero()
        zero.weightParameter.grad.zero()
        let q = try Penalty(.groupLasso, strength: 1, parameters: [zero.weightParameter], groupSize: 3)
        XCTAssertEqual(q.value(), 1e-6, accuracy: 1e-15)
        q.addGradient()
        XCTAssertEqual(zero.weightParameter.grad.scalars, [0, 0, 0])
        XCTAssertThrowsError(try Penalty(.groupLasso, strength: 1, parameters: [fc.weightParameter], groupSize: 4), "6 is not a whole number of groups of 4")
        XCTAssertThrowsError(try Penalty(.l1, strength: 1, parameters: [fc.weightParameter], groupSize: 3), "a group size is the group lasso's")
    }

    /// A masked weight is 0 (W ⊙ M): it adds nothing to the value nor to its gradient; strength 0 does nothing.
    func testMaskedWeightsAndZeroStrength() throws {
        let fc = layer()
        try fc.weightParameter.setMask(Tensor(shape: [2, 3], values: [1, 1, 1, 0, 1, 1]))
        let maskedGradient = fc.weightParameter.grad[3]
        let p = try Penalty(.l1, strength: 1, parameters: [fc.weightParameter])
        XCTAssertEqual(p.value(), 0.5 + 0.25 + 2 + 0.125)
        p.addGradient()
        XCTAssertEqual(fc.weightParameter.grad[3], maskedGradient)
        try p.setStrength(0)
        let before = fc.weightParameter.grad.scalars
        p.addGradient()
        XCTAssertEqual(p.value(), 0)
        XCTAssertEqual(fc.weightParameter.grad.scalars, before)
    }

    /// One image, one step: the loss the trainer reports is the criterion's plus the penalty's
    /// value, and `afterBackward` sees the criterion's gradient plus the penalty's, bit for bit.
    func testTheTrainerAddsThePenaltyBeforeTheHookAndToTheLoss() throws {
        GlobalRandom.seed(7)
        let model = Sequential([try View(4), Linear(4, 3)])
        let w = model.modules[1].weight!
        let data = try Dataset(name: "one", pixels: [10, 200, 30, 140], labels: [2], channels: 1, height: 2, width: 2, classes: 3)
        let x = Tensor(), y = Tensor()
        data.fillBatch(0..<1, inputs: x, targets: y)
        // The reference: forward, loss, backward by hand.
        model.training()
        model.zeroGradParameters()
        let criterion = CrossEntropyCriterion()
        let out = try model.forward(x)
        let plainLoss = try criterion.forward(out, y)
        _ = try model.backward(x, try criterion.backward(out, y))
        let plainGrad = w.grad.scalars, theta = w.value.scalars

        let penalty = try Penalty(.l1, strength: 0.05, parameters: [w])
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.1), batchSize: 1)
        trainer.penalties = [penalty]
        var seenLoss = Float.nan, seenGrad: [Float] = []
        trainer.afterBackward = { p in seenLoss = p.loss; seenGrad = w.grad.scalars }
        let expectedLoss = Float(Double(plainLoss) + penalty.value())
        let returned = try trainer.steps(data, 1)
        XCTAssertEqual(seenLoss, expectedLoss)
        XCTAssertEqual(returned, expectedLoss)
        XCTAssertNotEqual(expectedLoss, plainLoss)
        XCTAssertEqual(seenGrad, zip(plainGrad, theta).map { $0 + Float(0.05) * ($1 > 0 ? 1 : $1 < 0 ? -1 : 0) })
    }

    /// L1 on plain SGD pulls the small weights to (about) 0 within a few steps; without it they stay.
    func testL1DrivesSmallWeightsTowardZero() throws {
        func train(_ lambda: Double?) throws -> (small: Double, start: [Float], end: [Float]) {
            GlobalRandom.seed(11)
            let model = Sequential([try View(4), Linear(4, 3)])
            let w = model.modules[1].weight!
            let start = w.value.scalars
            let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.1), batchSize: 4, seed: 3)
            if let lambda { trainer.penalties = [try Penalty(.l1, strength: lambda, parameters: [w])] }
            try trainer.steps(tinyData(), 15)
            let end = w.value.scalars
            let small = zip(start, end).filter { abs($0.0) < 0.25 }.reduce(0.0) { $0 + Double(abs($1.1)) }
            return (small, start, end)
        }
        let plain = try train(nil), l1 = try train(0.05)
        XCTAssertEqual(plain.start, l1.start)
        XCTAssertGreaterThanOrEqual(plain.start.filter { abs($0) < 0.25 }.count, 3, "the test needs some small weights")
        XCTAssertLessThan(l1.small, 0.5 * plain.small, "Σ|θ| of the initially small weights: \(l1.small) with L1, \(plain.small) without")
    }

    /// With SGD (momentum too), an L2 penalty λ gives the same weights as weightDecay λ, bit for bit.
    func testL2IsWeightDecayForSGD() throws {
        func train(penalty: Bool) throws -> [Float] {
            GlobalRandom.seed(5)
            let model = Sequential([try View(4), Linear(4, 5), Tanh(), Linear(5, 3)])
            let sgd = SGD(learningRate: 0.05, momentum: 0.9, weightDecay: penalty ? 0 : 0.01)
            let trainer = Trainer(model: model, optimizer: sgd, batchSize: 3, seed: 1)
            if penalty { trainer.penalties = [try Penalty(.l2, strength: 0.01, parameters: model.allParameters)] }
            try trainer.trainEpoch(tinyData())
            return model.allParameters.flatMap(\.value.scalars)
        }
        XCTAssertEqual(try train(penalty: true).map(\.bitPattern), try train(penalty: false).map(\.bitPattern))
    }

    func testBadArgumentsAreErrors() throws {
        let fc = layer()
        for bad in [-1, .nan, .infinity, 1e39] {
            assertMessage(errorMessage { try Penalty(.l1, strength: bad, parameters: fc.parameters) },
                          contains: ["strength of an l1 penalty must be a finite number >= 0"])
        }
        assertMessage(errorMessage { try Penalty(.l2, strength: 1, parameters: []) }, contains: ["an l2 penalty needs at least one parameter"])
        let p = try Penalty(.l2, strength: 0.5, parameters: fc.parameters)
        assertMessage(errorMessage { try p.setStrength(-0.1) }, contains: ["got -0.1"])
        XCTAssertEqual(p.strength, 0.5, "a rejected strength leaves the old one")
    }

    private func tinyData() throws -> Dataset {
        let pixels = (0..<48).map { UInt8(($0 * 37) % 251) }
        return try Dataset(name: "tiny", pixels: pixels, labels: (0..<12).map { Int32($0 % 3) }, channels: 1, height: 2, width: 2, classes: 3)
    }
}
