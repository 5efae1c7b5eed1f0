import XCTest
@testable import Engine

/// A small residual net (table containers, option-A shortcut) learns a synthetic problem.
final class ResidualTrainingTests: XCTestCase {
    private func synthetic(_ n: Int, seed: UInt64) throws -> Dataset { try TestData.brightRows(n, seed: seed) }

    func testSmallResidualNetLearnsTheSyntheticProblem() throws {
        let model = try ContainerFixtures.residualNet()
        let train = try synthetic(512, seed: 1), test = try synthetic(256, seed: 2)
        let before = try evaluate(model, on: test)
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.05, momentum: 0.9), batchSize: 32, seed: 0)
        var losses: [Float] = []
        trainer.afterEpoch = { losses.append($0.loss) }
        for _ in 0..<3 { try trainer.trainEpoch(train) }
        let after = try evaluate(model, on: test)
        XCTAssertGreaterThan(before.errorPercent, 50)
        XCTAssertLessThanOrEqual(after.errorPercent, 5, "a residual net separates 4 bright rows")
        XCTAssertLessThan(losses.last!, losses.first!)
    }

    /// The same seed gives the same weights: the table path is deterministic.
    func testTrainingThroughTablesIsReproducible() throws {
        func weights() throws -> [[Float]] {
            let model = try ContainerFixtures.residualNet(seed: 5)
            let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.05, momentum: 0.9), batchSize: 16, seed: 3)
            try trainer.trainEpoch(try synthetic(64, seed: 1))
            return model.allParameters.map(\.value.scalars)
        }
        XCTAssertEqual(try weights(), try weights())
    }
}
