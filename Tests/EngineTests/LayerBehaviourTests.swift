import XCTest
@testable import Engine

/// Forward semantics of the layers: shapes, Torch's formulas, printing, errors.
final class LayerBehaviourTests: XCTestCase {
    override func setUp() {
        GlobalRandom.seed(42)
    }

    func testDescriptionsAsTorchPrintsThem() throws {
        XCTAssertEqual(ReLU().description, "nn.ReLU")
        XCTAssertEqual(Sigmoid().description, "nn.Sigmoid")
        XCTAssertEqual(Identity().description, "nn.Identity")
        XCTAssertEqual(SoftMax().description, "nn.SoftMax")
        XCTAssertEqual(LogSoftMax().description, "nn.LogSoftMax")
        XCTAssertEqual(try View(2400).description, "nn.View(2400)")
        XCTAssertEqual(try View(-1, 4).description, "nn.View(-1, 4)")
        XCTAssertEqual(try Reshape(2, 3).description, "nn.Reshape(2x3)")
        XCTAssertEqual(try Dropout().description, "nn.Dropout(0.500000)")
        XCTAssertEqual(try Dropout(0.25).description, "nn.Dropout(0.250000)")
        XCTAssertEqual(try BatchNormalization(100).description, "nn.BatchNormalization (2D) (100)")
        XCTAssertEqual(try SpatialBatchNormalization(16).description, "nn.SpatialBatchNormalization (4D) (16)")
    }

    // MARK: elementwise

    func testReLUAndSigmoidValues() throws {
        let x = Tensor(shape: [4], values: [-2, -0.5, 0, 3])
        XCTAssertEqual(try ReLU().forward(x).scalars, [0, 0, 0, 3])
        let y = try Sigmoid().forward(x).scalars
        for (v, e) in zip(y, [-2, -0.5, 0, 3].map { 1 / (1 + exp(-$0)) }) { XCTAssertEqual(v, Float(e), accuracy: 1e-6) }
    }

    func testIdentitySharesTheTensors() throws {
        let id = Identity(), x = TestData.uniform([2, 3]), g = TestData.uniform([2, 3], seed: 3)
        XCTAssertTrue(try id.forward(x) === x)
        XCTAssertTrue(try id.backward(x, g) === g)
    }

    // MARK: View and Reshape

    func testViewBatchHandlingAsTorch() throws {
        let v = try View(2400)
        XCTAssertEqual(try v.forward(Tensor(shape: [3, 96, 5, 5])).shape, [3, 2400])
        XCTAssertEqual(try v.forward(Tensor(shape: [96, 5, 5])).shape, [2400])
        XCTAssertEqual(try View(4).forward(Tensor(shape: [1, 4])).shape, [4])
        XCTAssertEqual(try View(-1, 4).forward(Tensor(shape: [3, 8])).shape, [6, 4])
        XCTAssertEqual(try View(2, -1).forward(Tensor(shape: [12])).shape, [2, 6])

        let perExample = try View([4], numInputDims: 2)
        XCTAssertEqual(try perExample.forward(Tensor(shape: [3, 2, 2])).shape, [3, 4])
        XCTAssertEqual(try perExample.forward(Tensor(shape: [2, 2])).shape, [4])

        XCTAssertThrowsError(try View(5).forward(Tensor(shape: [2, 3])))
        XCTAssertThrowsError(try View(0))
        XCTAssertThrowsError(try View(-1, -1))
        XCTAssertThrowsError(try View([]))
    }

    func testViewSharesMemoryBothWays() throws {
        let x = TestData.uniform([2, 3, 2]), v = try View(6)
        let y = try v.forward(x)
        XCTAssertEqual(y.shape, [2, 6])
        x[7] = 42
        XCTAssertEqual(y[7], 42)
        let g = TestData.uniform([2, 6])
        let gi = try v.backward(x, g)
        XCTAssertEqual(gi.shape, [2, 3, 2])
        g[3] = -7
        XCTAssertEqual(gi[3], -7)
        XCTAssertThrowsError(try v.backward(x, Tensor(shape: [5])))
    }

    func testReshapeBatchModeAsTorch() throws {
        XCTAssertEqual(try Reshape(2, 3).forward(Tensor(shape: [6])).shape, [2, 3])
        XCTAssertEqual(try Reshape(2, 3).forward(Tensor(shape: [4, 6])).shape, [4, 2, 3])
        XCTAssertEqual(try Reshape(2, 3).forward(Tensor(shape: [1, 6])).shape, [1, 2, 3])
        XCTAssertEqual(try Reshape(6).forward(Tensor(shape: [2, 3])).shape, [6])
        XCTAssertEqual(try Reshape(3, batchMode: true).forward(Tensor(shape: [2, 3])).shape, [2, 3])
        XCTAssertEqual(try Reshape(6, batchMode: false).forward(Tensor(shape: [2, 3])).shape, [6])
        XCTAssertThrowsError(try Reshape(6, batchMode: true).forward(Tensor(shape: [2, 3])))
        XCTAssertThrowsError(try Reshape(-1, 2))
        let x = TestData.uniform([4, 6])
        XCTAssertTrue(try Reshape(2, 3).forward(x).data == x.data, "Reshape shares the input's memory")
    }

    // MARK: Dropout

    func testDropoutScalesKeptUnitsAndDropsAboutP() throws {
        let d = try Dropout(0.3)
        let x = Tensor(shape: [4000], repeating: 2)
        let y = try d.forward(x)
        let dropped = y.zeroCount()
        XCTAssertEqual(Double(dropped) / 4000, 0.3, accuracy: 0.03)
        for i in 0..<y.count where y[i] != 0 { XCTAssertEqual(y[i], 2 / 0.7, accuracy: 1e-5) }
        let gi = try d.backward(x, Tensor(shape: [4000], repeating: 1))
        for i in 0..<y.count { XCTAssertEqual(gi[i], y[i] / 2, accuracy: 1e-6) }

        d.evaluate()
        XCTAssertEqual(try d.forward(x).scalars, x.scalars)
        XCTAssertEqual(try d.backward(x, x).scalars, x.scalars)
    }

    func testDropoutVersion1ScalesAtEvaluation() throws {
        let d = try Dropout(0.25, v1: true)
        let x = Tensor(shape: [100], repeating: 1)
        XCTAssertEqual(Set(try d.forward(x).scalars), [0, 1])
        d.evaluate()
        XCTAssertEqual(try d.forward(x).scalars, Array(repeating: 0.75, count: 100))
    }

    func testDropoutNoiseIsReproducible() throws {
        let x = Tensor(shape: [64], repeating: 1)
        GlobalRandom.seed(5)
        let a = try Dropout().forward(x).scalars
        GlobalRandom.seed(5)
        let d = try Dropout()
        XCTAssertEqual(try d.forward(x).scalars, a, "same global seed, same mask")
        XCTAssertNotEqual(try d.forward(x).scalars, a, "a new mask on each forward")

        d.reuseNoise = true
        let kept = try d.forward(x).scalars
        XCTAssertEqual(try d.forward(x).scalars, kept, "reuseNoise keeps the mask")

        d.reuseNoise = false
        d.seed(9)
        let seeded = try d.forward(x).scalars
        d.seed(9)
        XCTAssertEqual(try d.forward(x).scalars, seeded)
    }

    func testDropoutValidation() throws {
        XCTAssertThrowsError(try Dropout(1))
        XCTAssertThrowsError(try Dropout(-0.1))
        XCTAssertThrowsError(try Dropout().setP(1.5))
        let none = try Dropout(0)
        let x = TestData.uniform([10])
        XCTAssertEqual(try none.forward(x).scalars, x.scalars)
        XCTAssertThrowsError(try Dropout().backward(x, x), "backward in training needs a forward")
    }

    // MARK: batch normalisation

    func testBatchNormalizationRunningStatisticsFollowTorch() throws {
        let bn = try BatchNormalization(2)
        bn.weightParameter!.value.fill(1)
        let x = Tensor(shape: [3, 2], values: [1, 2, 3, 6, 5, 10])
        let y = try bn.forward(x)
        // feature 0: mean 3, biased variance 8/3, unbiased 4; feature 1: mean 6, 32/3, 16.
        XCTAssertEqual(bn.runningMean.scalars[0], 0.3, accuracy: 1e-6)
        XCTAssertEqual(bn.runningMean.scalars[1], 0.6, accuracy: 1e-6)
        XCTAssertEqual(bn.runningVar.scalars[0], 0.9 + 0.1 * 4, accuracy: 1e-6)
        XCTAssertEqual(bn.runningVar.scalars[1], 0.9 + 0.1 * 16, accuracy: 1e-6)
        XCTAssertEqual(y[0], Float(-2 / (8.0 / 3 + 1e-5).squareRoot()), accuracy: 1e-5)
        XCTAssertEqual(y[5], Float(4 / (32.0 / 3 + 1e-5).squareRoot()), accuracy: 1e-5)

        try bn.forward(x)
        XCTAssertEqual(bn.runningMean.scalars[0], 0.9 * 0.3 + 0.3, accuracy: 1e-6)
        XCTAssertEqual(bn.runningVar.scalars[1], 0.9 * 2.5 + 1.6, accuracy: 1e-5)
    }

    func testSpatialBatchNormalizationStatisticsPerChannel() throws {
        let bn = try SpatialBatchNormalization(3, eps: 1e-3, momentum: 0.25)
        let x = TestData.uniform([2, 3, 2, 2], -1, 3)
        let y = try bn.forward(x)
        for c in 0..<3 {
            var values: [Double] = [], outputs: [Double] = []
            for b in 0..<2 { for k in 0..<4 {
                values.append(Double(x[(b * 3 + c) * 4 + k]))
                outputs.append(Double(y[(b * 3 + c) * 4 + k]))
            } }
            let mean = values.reduce(0, +) / 8
            let squares = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
            XCTAssertEqual(Double(bn.runningMean[c]), 0.25 * mean, accuracy: 1e-6)
            XCTAssertEqual(Double(bn.runningVar[c]), 0.75 + 0.25 * squares / 7, accuracy: 1e-5)
            let gamma = Double(bn.weightParameter!.value[c]), beta = Double(bn.biasParameter!.value[c])
            for (v, o) in zip(values, outputs) {
                XCTAssertEqual(o, (v - mean) / (squares / 8 + 1e-3).squareRoot() * gamma + beta, accuracy: 1e-5)
            }
        }
    }

    func testBatchNormalizationEvaluationUsesRunningStatistics() throws {
        let bn = try BatchNormalization(2)
        bn.runningMean.copy(from: Tensor(shape: [2], values: [1, -1]))
        bn.runningVar.copy(from: Tensor(shape: [2], values: [4, 0.25]))
        bn.weightParameter!.value.copy(from: Tensor(shape: [2], values: [2, 3]))
        bn.biasParameter!.value.copy(from: Tensor(shape: [2], values: [0.5, -0.5]))
        bn.evaluate()
        let y = try bn.forward(Tensor(shape: [1, 2], values: [3, 0]))
        XCTAssertEqual(y[0], Float(2 / (4 + 1e-5).squareRoot() * 2 + 0.5), accuracy: 1e-5)
        XCTAssertEqual(y[1], Float(1 / (0.25 + 1e-5).squareRoot() * 3 - 0.5), accuracy: 1e-5)
        XCTAssertEqual(bn.runningMean.scalars, [1, -1], "evaluation leaves the running statistics alone")
    }

    func testBatchNormalizationInitialisationAndBuffers() throws {
        let bn = try BatchNormalization(50)
        XCTAssertTrue(bn.weightParameter!.value.scalars.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertGreaterThan(Set(bn.weightParameter!.value.scalars).count, 40)
        XCTAssertEqual(bn.biasParameter!.value.scalars, Array(repeating: 0, count: 50))
        try bn.forward(TestData.uniform([4, 50]))
        bn.reset(&GlobalRandom.generator)
        XCTAssertEqual(bn.runningMean.scalars, Array(repeating: 0, count: 50))
        XCTAssertEqual(bn.runningVar.scalars, Array(repeating: 1, count: 50))
        XCTAssertEqual(bn.buffers.map(\.name), ["running_mean", "running_var"])
        XCTAssertTrue(bn.buffers[0].value === bn.runningMean && bn.buffers[1].value === bn.runningVar)
        XCTAssertEqual(bn.parameters.map(\.name), ["weight", "bias"])
        XCTAssertTrue(try BatchNormalization(3, affine: false).parameters.isEmpty)
    }

    func testBatchNormalizationRejectsBadInput() throws {
        let bn = try BatchNormalization(3)
        XCTAssertThrowsError(try bn.forward(Tensor(shape: [3])), "Torch supports mini-batches only")
        XCTAssertThrowsError(try bn.forward(Tensor(shape: [2, 4])))
        XCTAssertThrowsError(try bn.forward(Tensor(shape: [1, 3])), "one value per feature has no variance")
        XCTAssertThrowsError(try bn.backward(Tensor(shape: [2, 3]), Tensor(shape: [2, 3])), "backward before forward")
        bn.evaluate()
        XCTAssertNoThrow(try bn.forward(Tensor(shape: [1, 3])))
        XCTAssertThrowsError(try SpatialBatchNormalization(3).forward(Tensor(shape: [2, 3])))
        XCTAssertThrowsError(try BatchNormalization(0))
        XCTAssertThrowsError(try BatchNormalization(3, momentum: 2))
    }

    // MARK: SoftMax

    func testSoftMaxRowsSumToOne() throws {
        let x = TestData.uniform([4, 7], -5, 5)
        let p = try SoftMax().forward(x), logP = try LogSoftMax().forward(x)
        for r in 0..<4 {
            var s = 0.0, sl = 0.0
            for k in 0..<7 {
                s += Double(p[r * 7 + k])
                sl += exp(Double(logP[r * 7 + k]))
                XCTAssertEqual(logP[r * 7 + k], log(p[r * 7 + k]), accuracy: 1e-5)
            }
            XCTAssertEqual(s, 1, accuracy: 1e-6)
            XCTAssertEqual(sl, 1, accuracy: 1e-6)
        }
    }

    func testSoftMaxIsStableForLargeInputs() throws {
        let x = Tensor(shape: [3], values: [1000, 1001, 1002])
        let p = try SoftMax().forward(x).scalars, logP = try LogSoftMax().forward(x).scalars
        let z = 1 + exp(-1.0) + exp(-2.0)
        XCTAssertEqual(p[2], Float(1 / z), accuracy: 1e-6)
        XCTAssertEqual(logP[0], Float(-2 - log(z)), accuracy: 1e-5)
        XCTAssertTrue((p + logP).allSatisfy { $0.isFinite })
        XCTAssertThrowsError(try SoftMax().forward(Tensor(shape: [2, 2, 2])))
    }
}
