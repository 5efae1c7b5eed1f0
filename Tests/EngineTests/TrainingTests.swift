import XCTest
@testable import Engine

/// The training loop: reproducible by seed, and it learns.
final class TrainingTests: XCTestCase {
    private func synthetic(_ n: Int, seed: UInt64) throws -> Dataset { try TestData.brightRows(n, seed: seed) }

    private func smallConvNet() throws -> Sequential {
        Sequential([SpatialConvolution(1, 4, 3, 3, 1, 1, 1, 1), Tanh(), SpatialMaxPooling(2, 2), try View(64),
                    Linear(64, 16), Tanh(), Linear(16, 10)])
    }

    private func trainedWeights(threads: Int, seed: UInt64) throws -> [[Float]] {
        Parallel.setThreads(threads)
        defer { Parallel.setThreads(1) }
        GlobalRandom.seed(seed)
        let model = try smallConvNet()
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.05, momentum: 0.9), batchSize: 16, seed: seed)
        let data = try synthetic(256, seed: 1)
        for _ in 0..<2 { try trainer.trainEpoch(data) }
        return model.allParameters.map(\.value.scalars)
    }

    func testSameSeedAndThreadsGiveBitwiseIdenticalWeights() throws {
        for threads in [1, 2] {
            let a = try trainedWeights(threads: threads, seed: 3), b = try trainedWeights(threads: threads, seed: 3)
            XCTAssertEqual(a, b, "\(threads) thread(s)")
        }
        XCTAssertNotEqual(try trainedWeights(threads: 1, seed: 3), try trainedWeights(threads: 1, seed: 4))
    }

    func testSmallConvNetLearnsSyntheticProblem() throws {
        GlobalRandom.seed(0)
        let model = try smallConvNet()
        let train = try synthetic(512, seed: 1), test = try synthetic(256, seed: 2)
        let before = try evaluate(model, on: test)
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.05, momentum: 0.9), batchSize: 32, seed: 0)
        var epochLosses: [Float] = []
        trainer.afterEpoch = { epochLosses.append($0.loss) }
        for _ in 0..<4 { try trainer.trainEpoch(train) }
        let after = try evaluate(model, on: test)
        XCTAssertGreaterThan(before.errorPercent, 50)
        XCTAssertLessThanOrEqual(after.errorPercent, 5, "a net this size separates 4 bright rows")
        XCTAssertLessThan(epochLosses.last!, epochLosses.first!)
    }

    func testHookErrorStopsTraining() throws {
        GlobalRandom.seed(0)
        let trainer = Trainer(model: try smallConvNet(), optimizer: SGD(), batchSize: 16)
        var seen = 0
        trainer.afterStep = { p in
            seen = p.batch
            if p.batch == 3 { throw EngineError("stop here") }
        }
        XCTAssertThrowsError(try trainer.trainEpoch(try synthetic(256, seed: 1))) {
            XCTAssertEqual(($0 as? EngineError)?.message, "stop here")
        }
        XCTAssertEqual(seen, 3)
    }
}
