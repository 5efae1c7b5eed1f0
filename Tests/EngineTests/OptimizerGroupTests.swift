import XCTest
@testable import Engine

/// Optimisers over parameter groups, state that lives as long as the optimiser, element
/// resets, and learning-rate schedules against their formulas.
final class OptimizerGroupTests: XCTestCase {
    /// Two groups with their own rate, momentum and weight decay, each updated as Torch's
    /// optim.sgd would with that group's settings.
    func testEachSGDGroupUsesItsOwnSettings() throws {
        let a = Linear(2, 1, bias: false), b = Linear(2, 1, bias: false)
        let model = Sequential([a, b])
        a.weightParameter.value.copy(from: Tensor(shape: [1, 2], values: [1, -1]))
        b.weightParameter.value.copy(from: Tensor(shape: [1, 2], values: [2, 0.5]))
        let ga = ParameterGroup([a.weightParameter], learningRate: 0.1, momentum: 0.9)
        let gb = ParameterGroup([b.weightParameter], learningRate: 0.01, weightDecay: 0.5)
        let sgd = SGD(groups: [ga, gb])
        var ta: [Double] = [1, -1], tb: [Double] = [2, 0.5], va: [Double] = [0, 0]
        for step in 0..<3 {
            let g: [Float] = [Float(step) + 1, -0.5]
            a.weightParameter.grad.copy(from: Tensor(shape: [1, 2], values: g))
            b.weightParameter.grad.copy(from: Tensor(shape: [1, 2], values: g))
            sgd.step(model)
            for i in 0..<2 {
                va[i] = step == 0 ? Double(g[i]) : 0.9 * va[i] + Double(g[i])
                ta[i] -= 0.1 * va[i]
                tb[i] -= 0.01 * (Double(g[i]) + 0.5 * tb[i])
                XCTAssertEqual(Double(a.weightParameter.value[i]), ta[i], accuracy: 1e-6)
                XCTAssertEqual(Double(b.weightParameter.value[i]), tb[i], accuracy: 1e-6)
            }
        }
        XCTAssertNil(sgd.velocity(of: b.weightParameter), "no momentum in group b, no velocity")
    }

    /// Without groups the optimiser behaves as before: one group with its own settings.
    func testUngroupedSGDIsBitwiseTheSameAsOneGroupOfEveryParameter() throws {
        func train(_ grouped: Bool) throws -> [Float] {
            GlobalRandom.seed(3)
            let model = Sequential([try View(4), Linear(4, 5), Tanh(), Linear(5, 3)])
            let sgd = grouped ? SGD(groups: [ParameterGroup(model.allParameters, learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3)])
                              : SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3)
            let trainer = Trainer(model: model, optimizer: sgd, batchSize: 3, seed: 1)
            try trainer.trainEpoch(tinyData())
            return model.allParameters.flatMap(\.value.scalars)
        }
        XCTAssertEqual(try train(true).map(\.bitPattern), try train(false).map(\.bitPattern))
    }

    /// A group's settings may change between two steps, and frozen modules stay out of groups.
    func testSettingsChangeBetweenStepsAndFrozenModulesAreSkipped() throws {
        let a = Linear(2, 1, bias: false), b = Linear(2, 1, bias: false)
        let model = Sequential([a, b])
        let group = ParameterGroup([a.weightParameter, b.weightParameter], learningRate: 1)
        let sgd = SGD(groups: [group])
        a.weightParameter.value.zero(); b.weightParameter.value.zero()
        b.isFrozen = true   // (freezing zeroes the gradient: the gradients are set after it)
        a.weightParameter.grad.fill(1); b.weightParameter.grad.fill(1)
        sgd.step(model)
        XCTAssertEqual(a.weightParameter.value.scalars, [-1, -1])
        XCTAssertEqual(b.weightParameter.value.scalars, [0, 0], "frozen: no update")
        group.learningRate = 0.5
        b.isFrozen = false
        sgd.step(model)
        XCTAssertEqual(a.weightParameter.value.scalars, [-1.5, -1.5])
        XCTAssertEqual(b.weightParameter.value.scalars, [-0.5, -0.5])
    }

    /// Momentum survives two epochs of one trainer and two trainers sharing the optimiser; a
    /// reset of chosen elements zeroes exactly those.
    func testMomentumSurvivesTrainingCallsAndResetsPerElement() throws {
        GlobalRandom.seed(5)
        let model = Sequential([try View(4), Linear(4, 3)])
        let sgd = SGD(learningRate: 0.1, momentum: 0.9)
        let data = try tinyData()
        try Trainer(model: model, optimizer: sgd, batchSize: 4, seed: 2).trainEpoch(data)
        let w = model.modules[1].weight!
        let v1 = try XCTUnwrap(sgd.velocity(of: w)).scalars
        XCTAssertTrue(v1.contains { $0 != 0 })
        try Trainer(model: model, optimizer: sgd, batchSize: 4, seed: 2).trainEpoch(data)
        XCTAssertNotEqual(try XCTUnwrap(sgd.velocity(of: w)).scalars, v1, "the second call continues the same velocity")
        try sgd.resetState(of: w, elements: [0, 5])
        let v = try XCTUnwrap(sgd.velocity(of: w)).scalars
        XCTAssertEqual(v[0], 0); XCTAssertEqual(v[5], 0)
        XCTAssertEqual(v.enumerated().filter { $0.offset != 0 && $0.offset != 5 && $0.element == 0 }.count, 0)
        assertMessage(errorMessage { try sgd.resetState(of: w, elements: [12]) }, contains: ["element 13 does not exist (1...12)"])

        let adam = Adam(learningRate: 0.01)
        try Trainer(model: model, optimizer: adam, batchSize: 4, seed: 2).trainEpoch(data)
        try Trainer(model: model, optimizer: adam, batchSize: 4, seed: 2).trainEpoch(data)
        let moments = try XCTUnwrap(adam.moments(of: w))
        XCTAssertEqual(moments.t, 2 * 3, "two epochs of 3 batches: one step count")
        try adam.resetState(of: w, elements: [2])
        XCTAssertEqual(moments.m[2], 0); XCTAssertEqual(moments.v[2], 0)
        XCTAssertNotEqual(moments.m[3], 0)
    }

    func testAdamGroupsUseTheirOwnRates() throws {
        let a = Linear(1, 1, bias: false), b = Linear(1, 1, bias: false)
        let model = Sequential([a, b])
        a.weightParameter.value.zero(); b.weightParameter.value.zero()
        let adam = Adam(groups: [ParameterGroup([a.weightParameter], learningRate: 0.1),
                                 ParameterGroup([b.weightParameter], learningRate: 0.001, beta1: 0.5)])
        a.weightParameter.grad.fill(2); b.weightParameter.grad.fill(2)
        adam.step(model)
        // First Adam step: θ -= lr · ĝ/(|ĝ| + ε') = lr (to float rounding) for a positive gradient.
        XCTAssertEqual(a.weightParameter.value[0], -0.1, accuracy: 1e-6)
        XCTAssertEqual(b.weightParameter.value[0], -0.001, accuracy: 1e-8)
    }

    // MARK: - Schedules

    func testEachScheduleGivesItsFormula() throws {
        func rates(_ s: Schedule, _ n: Int = 8, base: Double = 0.1) throws -> [Double] {
            try (0..<n).map { try s.rate(base: base, at: $0, step: $0, epoch: 0) }
        }
        XCTAssertEqual(try rates(.constant), [Double](repeating: 0.1, count: 8))
        XCTAssertEqual(try rates(.step(every: 3, gamma: 0.5)), [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])
        XCTAssertEqual(try rates(.multiStep(milestones: [2, 5], gamma: 0.1)).map { ($0 * 1e6).rounded() / 1e6 },
                       [0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001])
        for (t, r) in try rates(.exponential(gamma: 0.9)).enumerated() { XCTAssertEqual(r, 0.1 * pow(0.9, Double(t)), accuracy: 1e-15) }
        let cosine = try rates(.cosine(total: 4, floor: 0.01), 6)
        for t in 0..<6 {
            XCTAssertEqual(cosine[t], 0.01 + 0.09 * 0.5 * (1 + cos(Double.pi * Double(min(t, 4)) / 4)), accuracy: 1e-15)
        }
        XCTAssertEqual(cosine[0], 0.1, accuracy: 1e-15); XCTAssertEqual(cosine[4], 0.01, accuracy: 1e-15); XCTAssertEqual(cosine[5], 0.01, accuracy: 1e-15)
        let warm = try rates(.warmup(steps: 4, then: .step(every: 2, gamma: 0.5)))
        XCTAssertEqual(warm.map { ($0 * 1e6).rounded() / 1e6 }, [0.025, 0.05, 0.075, 0.1, 0.1, 0.1, 0.05, 0.05])
        XCTAssertEqual(try rates(.custom { step, _ in 1 / Double(step + 1) }, 3), [1, 0.5, 1.0 / 3])
    }

    /// A scheduler assigns the group's rate before every step: per step, or per epoch.
    func testTheTrainerAppliesSchedulesPerStepOrPerEpoch() throws {
        GlobalRandom.seed(1)
        let model = Sequential([try View(4), Linear(4, 3)])
        let perStep = ParameterGroup([model.modules[1].weight!], learningRate: 0.1)
        let perEpoch = ParameterGroup([model.modules[1].bias!], learningRate: 1)
        let trainer = Trainer(model: model, optimizer: SGD(groups: [perStep, perEpoch]), batchSize: 4, seed: 0)
        trainer.schedulers = [try LearningRateScheduler(perStep, schedule: .exponential(gamma: 0.5), per: .step),
                              try LearningRateScheduler(perEpoch, schedule: .step(every: 1, gamma: 0.1), per: .epoch)]
        var seen = [(Float, Float)]()
        trainer.afterStep = { _ in seen.append((perStep.learningRate, perEpoch.learningRate)) }
        let data = try tinyData()
        try trainer.trainEpoch(data)
        try trainer.trainEpoch(data)
        XCTAssertEqual(trainer.stepsDone, 6)
        XCTAssertEqual(seen.map(\.0), [0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125])
        XCTAssertEqual(seen.map(\.1), [1, 1, 1, Float(0.1), Float(0.1), Float(0.1)])
    }

    func testBadSchedulesAreErrors() throws {
        let g = ParameterGroup([], learningRate: 0.1)
        assertMessage(errorMessage { try LearningRateScheduler(g, schedule: .step(every: 0, gamma: 0.5)) }, contains: ["period must be at least 1"])
        assertMessage(errorMessage { try LearningRateScheduler(g, schedule: .cosine(total: 10, floor: .nan)) }, contains: ["floor", "nan"])
        let nan = try LearningRateScheduler(g, schedule: .custom { _, _ in .nan })
        assertMessage(errorMessage { try nan.apply(step: 4, epoch: 0) }, contains: ["gave nan at step 5, epoch 1", "finite"])
        XCTAssertEqual(g.learningRate, 0.1, "a bad rate is not assigned")
    }

    /// 12 examples of 4 features in 3 classes.
    private func tinyData() throws -> Dataset {
        let pixels = (0..<48).map { UInt8(($0 * 37) % 251) }
        return try Dataset(name: "tiny", pixels: pixels, labels: (0..<12).map { Int32($0 % 3) }, channels: 1, height: 2, width: 2, classes: 3)
    }
}

/// The long-lived trainer: hooks in their documented order and state, steps with and without
/// replacement, counters across calls.
final class TrainerHookTests: XCTestCase {
    private func tinyData() throws -> Dataset {
        let pixels = (0..<48).map { UInt8(($0 * 37) % 251) }
        return try Dataset(name: "tiny", pixels: pixels, labels: (0..<12).map { Int32($0 % 3) }, channels: 1, height: 2, width: 2, classes: 3)
    }

    func testHooksFireInOrderWithTheirState() throws {
        GlobalRandom.seed(1)
        let model = Sequential([try View(4), Linear(4, 3)])
        let w = model.modules[1].weight!
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.1), batchSize: 5, seed: 0)
        var log = [String]()
        var before: [Float] = []
        trainer.beforeForward = { p in
            log.append("before \(p.epoch).\(p.batch) step \(p.step) samples \(p.samples) loss \(p.loss.isNaN ? "nan" : "set")")
        }
        trainer.afterBackward = { p in
            log.append("backward \(p.batch) grad \(w.grad.scalars.contains { $0 != 0 } ? "set" : "zero")")
            before = w.value.scalars
        }
        trainer.afterStep = { p in log.append("step \(p.batch) moved \(w.value.scalars != before)") }
        trainer.afterEpoch = { p in log.append("epoch \(p.epoch) of \(p.batches) batches, \(p.examples) examples") }
        try trainer.trainEpoch(try tinyData())
        XCTAssertEqual(log, [
            "before 1.1 step 0 samples 0 loss nan", "backward 1 grad set", "step 1 moved true",
            "before 1.2 step 1 samples 5 loss nan", "backward 2 grad set", "step 2 moved true",
            "before 1.3 step 2 samples 10 loss nan", "backward 3 grad set", "step 3 moved true",
            "epoch 1 of 3 batches, 12 examples",
        ])
        XCTAssertEqual(trainer.stepsDone, 3); XCTAssertEqual(trainer.samplesSeen, 12); XCTAssertEqual(trainer.epochsDone, 1)
    }

    /// A mask installed in afterStep holds from the very next forward pass.
    func testAMaskChangedInAHookHoldsFromTheNextForward() throws {
        GlobalRandom.seed(2)
        let model = Sequential([try View(4), Linear(4, 3)])
        let w = model.modules[1].weight!
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.1, momentum: 0.9), batchSize: 4, seed: 0)
        let mask = Tensor(shape: w.value.shape, repeating: 1)
        mask[0] = 0; mask[7] = 0
        var seenAtForward = [[Float]]()
        trainer.beforeForward = { p in seenAtForward.append([w.value[0], w.value[7]]) }
        trainer.afterStep = { p in if p.batch == 1 { try w.setMask(mask) } }
        try trainer.trainEpoch(try tinyData())
        XCTAssertNotEqual(seenAtForward[0], [0, 0])
        XCTAssertEqual(seenAtForward[1], [0, 0])
        XCTAssertEqual(seenAtForward[2], [0, 0])
        XCTAssertEqual([w.value[0], w.value[7]], [0, 0])
    }

    func testStepsWithAndWithoutReplacement() throws {
        GlobalRandom.seed(3)
        let model = Sequential([try View(4), Linear(4, 3)])
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.05), batchSize: 5, seed: 4)
        var sizes = [Int]()
        trainer.afterStep = { p in sizes.append(p.examples) }
        try trainer.steps(try tinyData(), 4)
        // 12 examples in batches of 5 without replacement: 5, 5, 2 (the pass ends), then 5 of a new order.
        XCTAssertEqual(sizes, [5, 10, 12, 17])
        XCTAssertEqual(trainer.samplesSeen, 17)
        sizes = []
        try trainer.steps(try tinyData(), 3, replacement: true)
        XCTAssertEqual(sizes, [5, 10, 15])
        XCTAssertEqual(trainer.stepsDone, 7); XCTAssertEqual(trainer.epochsDone, 0)
        // Deterministic: the same seed draws the same batches.
        func weights(_ replacement: Bool) throws -> [UInt32] {
            GlobalRandom.seed(3)
            let m = Sequential([try View(4), Linear(4, 3)])
            let t = Trainer(model: m, optimizer: SGD(learningRate: 0.05), batchSize: 5, seed: 4)
            try t.steps(try tinyData(), 6, replacement: replacement)
            return m.allParameters.flatMap(\.value.scalars).map(\.bitPattern)
        }
        XCTAssertEqual(try weights(true), try weights(true))
        XCTAssertNotEqual(try weights(true), try weights(false))
    }

    func testAHookThatThrowsStopsTraining() throws {
        let model = Sequential([try View(4), Linear(4, 3)])
        let trainer = Trainer(model: model, optimizer: SGD(), batchSize: 4, seed: 0)
        trainer.afterBackward = { p in if p.batch == 2 { throw EngineError("hook failed at batch \(p.batch)") } }
        assertMessage(errorMessage { try trainer.trainEpoch(try self.tinyData()) }, contains: ["hook failed at batch 2"])
        XCTAssertEqual(trainer.stepsDone, 1, "the failing step was not taken")
    }
}
