import XCTest
@testable import Engine

/// Modules pinned to evaluation mode (`Module.isEvaluationPinned`) stay there through
/// `training()` of any container and through the trainer's epochs, while the rest trains.
final class EvaluationPinTests: XCTestCase {
    /// y = γ (x - running_mean)/√(running_var + ε) + β, per feature, of a [B, n] input.
    private func runningStatisticsOutput(_ bn: BatchNormalization, _ x: Tensor) -> [Float] {
        let n = bn.nOutput
        return (0..<x.count).map { i in
            let c = i % n
            let s = Float(1 / (Double(bn.runningVar[c]) + bn.eps).squareRoot())
            return (x[i] - bn.runningMean[c]) * s * bn.weight!.value[c] + bn.bias!.value[c]
        }
    }

    /// Two batch norms in one Sequential: the frozen, pinned one keeps its running statistics
    /// bit for bit through an epoch and normalises with them in every training forward; the
    /// other updates its statistics and normalises with the batch's.
    func testAPinnedBatchNormKeepsAndUsesItsRunningStatisticsWhileAnotherTrains() throws {
        GlobalRandom.seed(2)
        let bn1 = try BatchNormalization(3), bn2 = try BatchNormalization(3)
        let model = Sequential([try View(4), Linear(4, 3), bn1, Tanh(), Linear(3, 3), bn2])
        // Running statistics that are not those of any batch, so that using them shows.
        bn1.runningMean.copy(from: Tensor(shape: [3], values: [0.2, -0.1, 0.05]))
        bn1.runningVar.copy(from: Tensor(shape: [3], values: [0.5, 2, 1.5]))
        bn1.isFrozen = true
        bn1.isEvaluationPinned = true
        XCTAssertFalse(bn1.isTraining, "pinning puts the module into evaluation mode at once")
        let mean1 = bn1.runningMean.scalars, var1 = bn1.runningVar.scalars
        let mean2 = bn2.runningMean.scalars, var2 = bn2.runningVar.scalars
        var checked = 0
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.1), batchSize: 4, seed: 1)
        trainer.afterBackward = { _ in
            XCTAssertFalse(bn1.isTraining)
            XCTAssertTrue(bn2.isTraining)
            let x1 = model.modules[1].output, x2 = model.modules[4].output
            XCTAssertEqual(bn1.output.scalars, self.runningStatisticsOutput(bn1, x1), accuracy: 1e-6)
            XCTAssertNotEqual(bn2.output.scalars, self.runningStatisticsOutput(bn2, x2), accuracy: 1e-3)
            checked += 1
        }
        try trainer.trainEpoch(tinyData())
        XCTAssertEqual(checked, 3)
        XCTAssertEqual(bn1.runningMean.scalars, mean1)
        XCTAssertEqual(bn1.runningVar.scalars, var1)
        XCTAssertNotEqual(bn2.runningMean.scalars, mean2)
        XCTAssertNotEqual(bn2.runningVar.scalars, var2)

        // evaluate() applies to everything; unpinned, the next training() trains it again.
        model.evaluate()
        XCTAssertFalse(bn2.isTraining)
        bn1.isEvaluationPinned = false
        XCTAssertFalse(bn1.isTraining, "unpinning changes no mode")
        model.training()
        XCTAssertTrue(bn1.isTraining)
    }

    /// A pinned dropout passes its input through in training; unpinned it drops units again.
    func testAPinnedDropoutPassesItsInputThrough() throws {
        GlobalRandom.seed(3)
        let dropout = try Dropout(0.5)
        let model = Sequential([dropout, Linear(8, 2)])
        let x = Tensor(shape: [4, 8], values: (0..<32).map { Float($0) / 10 + 0.1 })
        dropout.isEvaluationPinned = true
        model.training()
        XCTAssertEqual(try dropout.forward(x).scalars, x.scalars)
        dropout.isEvaluationPinned = false
        model.training()
        XCTAssertNotEqual(try dropout.forward(x).scalars, x.scalars)
    }

    /// A pinned container keeps itself and everything inside it in evaluation mode.
    func testAPinnedContainerKeepsItsModulesInEvaluation() throws {
        let inner = Sequential([try Dropout(0.3), try BatchNormalization(2)])
        let outer = Sequential([Linear(2, 2), inner])
        inner.isEvaluationPinned = true
        outer.training()
        XCTAssertTrue(outer.isTraining)
        XCTAssertTrue(outer.modules[0].isTraining)
        XCTAssertEqual([inner, inner.modules[0], inner.modules[1]].map(\.isTraining), [false, false, false])
    }

    /// Each step starts in training mode: a hook's evaluation pass does not outlast its step.
    func testEveryStepStartsInTrainingMode() throws {
        GlobalRandom.seed(4)
        let bn = try BatchNormalization(3)
        let model = Sequential([try View(4), Linear(4, 3), bn])
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.1), batchSize: 4)
        var modes = [Bool]()
        trainer.beforeForward = { _ in modes.append(bn.isTraining) }
        trainer.afterStep = { _ in model.evaluate() }
        try trainer.steps(tinyData(), 3)
        XCTAssertEqual(modes, [true, true, true])
    }

    private func tinyData() throws -> Dataset {
        let pixels = (0..<48).map { UInt8(($0 * 37) % 251) }
        return try Dataset(name: "tiny", pixels: pixels, labels: (0..<12).map { Int32($0 % 3) }, channels: 1, height: 2, width: 2, classes: 3)
    }
}

/// Arrays equal (or not) elementwise to within `accuracy`.
private func XCTAssertEqual(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    XCTAssertFalse(zip(a, b).contains { abs($0 - $1) > accuracy }, "\(a) != \(b)", file: file, line: line)
}

private func XCTAssertNotEqual(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertTrue(zip(a, b).contains { abs($0 - $1) > accuracy }, "\(a) == \(b) to \(accuracy)", file: file, line: line)
}
