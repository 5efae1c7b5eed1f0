import XCTest
@testable import Engine

/// Every module's input and parameter gradients against finite differences (`GradientCheck`).
final class LayerGradientTests: XCTestCase {
    override func setUp() {
        GlobalRandom.seed(42)
    }

    // MARK: the checker itself

    /// y = x², with a backward that is right or off by 5%.
    private final class Square: Module {
        let slope: Float
        init(slope: Float) { self.slope = slope; super.init() }
        override func updateOutput(_ input: Tensor) throws -> Tensor {
            output.resize(input.shape)
            for i in 0..<input.count { output[i] = input[i] * input[i] }
            return output
        }
        override func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
            gradInput.resize(input.shape)
            for i in 0..<input.count { gradInput[i] = slope * input[i] * gradOutput[i] }
            return gradInput
        }
    }

    func testCheckerAcceptsARightGradientAndRejectsAWrongOne() throws {
        let x = TestData.uniform([4, 5])
        XCTAssertTrue(try GradientCheck.check(Square(slope: 2), input: x)[0].passed)
        let wrong = try GradientCheck.check(Square(slope: 2.1), input: x)[0]
        XCTAssertFalse(wrong.passed, "a 5% error must be caught: \(wrong)")
    }

    func testCheckerCatchesAWrongParameterGradient() throws {
        /// Linear whose weight gradient is scaled by 1.05.
        final class SkewedLinear: Module {
            let inner = Linear(3, 2)
            override var parameters: [Parameter] { inner.parameters }
            override func updateOutput(_ input: Tensor) throws -> Tensor { try inner.updateOutput(input) }
            override func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
                try inner.updateGradInput(input, gradOutput)
            }
            override func accGradParameters(_ input: Tensor, _ gradOutput: Tensor, scale: Float) throws {
                try inner.accGradParameters(input, gradOutput, scale: scale * 1.05)
            }
        }
        let reports = try GradientCheck.check(SkewedLinear(), input: TestData.uniform([4, 3]))
        XCTAssertTrue(reports[0].passed, "\(reports[0])")
        XCTAssertFalse(reports[1].passed, "weight: \(reports[1])")
    }

    // MARK: engine modules

    func testLinear() throws {
        assertGradients(Linear(4, 3), TestData.uniform([5, 4]))
        assertGradients(Linear(4, 3), TestData.uniform([4]), .init(), "Linear on one example")
        assertGradients(Linear(4, 3, bias: false), TestData.uniform([2, 4]), .init(), "Linear without bias")
    }

    func testTanh() {
        assertGradients(Tanh(), TestData.uniform([3, 7], -2, 2))
    }

    func testReLU() {
        assertGradients(ReLU(), TestData.spaced([3, 8]))
        assertGradients(ReLU(inplace: true), TestData.spaced([2, 3, 2, 2]))
    }

    func testSigmoid() {
        assertGradients(Sigmoid(), TestData.uniform([3, 7], -3, 3))
    }

    func testIdentity() {
        assertGradients(Identity(), TestData.uniform([2, 3, 4]))
    }

    func testViewAndReshape() throws {
        assertGradients(try View(12), TestData.uniform([2, 3, 2, 2]))
        assertGradients(try View(-1, 4), TestData.uniform([3, 8]))
        assertGradients(try Reshape(3, 4), TestData.uniform([2, 12]))
        assertGradients(try Reshape(6, 2, batchMode: false), TestData.uniform([3, 4]))
    }

    func testDropoutWithFixedNoise() throws {
        let training = try Dropout(0.4)
        training.reuseNoise = true
        assertGradients(training, TestData.uniform([4, 6]), .init(), "Dropout training")

        let v1 = try Dropout(0.3, v1: true)
        v1.reuseNoise = true
        assertGradients(v1, TestData.uniform([4, 6]), .init(), "Dropout v1 training")

        let evaluation = try Dropout(0.5)
        evaluation.evaluate()
        assertGradients(evaluation, TestData.uniform([4, 6]), .init(), "Dropout evaluation")

        let v1Evaluation = try Dropout(0.25, v1: true)
        v1Evaluation.evaluate()
        assertGradients(v1Evaluation, TestData.uniform([4, 6]), .init(), "Dropout v1 evaluation")
    }

    func testBatchNormalizationTraining() throws {
        let bn = try BatchNormalization(5)
        bn.biasParameter!.value.fillUniform(-0.5, 0.5, &GlobalRandom.generator)
        assertGradients(bn, TestData.uniform([6, 5], -2, 2), .init(step: 5e-3))
        assertGradients(try BatchNormalization(3, affine: false), TestData.uniform([4, 3], -1, 3), .init(step: 5e-3),
                        "BatchNormalization without affine")
    }

    func testBatchNormalizationEvaluation() throws {
        let bn = try BatchNormalization(4, eps: 1e-3, momentum: 0.3)
        for s in 1...3 { try bn.forward(TestData.uniform([5, 4], -1, 2, seed: UInt64(s))) }
        bn.evaluate()
        XCTAssertNotEqual(bn.runningVar[0], 1)
        assertGradients(bn, TestData.uniform([3, 4], -2, 2))
    }

    func testSpatialBatchNormalization() throws {
        let bn = try SpatialBatchNormalization(3)
        bn.biasParameter!.value.fillUniform(-0.5, 0.5, &GlobalRandom.generator)
        assertGradients(bn, TestData.uniform([2, 3, 3, 2], -2, 2), .init(step: 5e-3), "SpatialBatchNormalization training")
        bn.evaluate()
        assertGradients(bn, TestData.uniform([2, 3, 2, 2], -2, 2), .init(), "SpatialBatchNormalization evaluation")
    }

    /// Planes of 35 values (two 16-wide vector steps and a tail of 3) and of 16 (no tail):
    /// the vectorised plane loops of `BatchNormPlane`.
    func testSpatialBatchNormalizationOnWidePlanes() throws {
        for shape in [[2, 2, 5, 7], [3, 2, 4, 4]] {
            let bn = try SpatialBatchNormalization(2)
            bn.biasParameter!.value.fillUniform(-0.5, 0.5, &GlobalRandom.generator)
            assertGradients(bn, TestData.uniform(shape, -2, 2), .init(step: 5e-3), "training \(shape)")
            bn.evaluate()
            assertGradients(bn, TestData.uniform(shape, -2, 2, seed: 4), .init(), "evaluation \(shape)")
        }
    }

    /// The plane loops against their scalar definitions: sums in double within double rounding
    /// of a sequential double loop, element-wise passes bit for bit, on lengths around 16.
    func testBatchNormPlaneLoopsMatchTheirDefinitions() throws {
        for n in [0, 1, 15, 16, 17, 31, 32, 33, 100, 1024] {
            let x = TestData.uniform([max(n, 1)], -3, 3, seed: UInt64(n)), g = TestData.uniform([max(n, 1)], -1, 1, seed: UInt64(n + 1))
            let xs = x.scalars, gs = g.scalars
            let mean: Float = 0.25, invStd: Float = 1.7, gamma: Float = 0.6, beta: Float = -0.3, gradMean: Float = 0.05, kappa: Float = 0.4
            var sum = 0.0, squares = 0.0, gsum = 0.0, dot = 0.0, absolute = 0.0
            for k in 0..<n {
                sum += Double(xs[k]); absolute += abs(Double(xs[k]))
                let d = Double(xs[k] - mean); squares += d * d
                gsum += Double(gs[k]); dot += d * Double(gs[k])
            }
            let tolerance = 1e-14 * max(1, absolute * 10)
            XCTAssertEqual(BatchNormPlane.sum(x.data, n), sum, accuracy: tolerance, "Σx, n = \(n)")
            XCTAssertEqual(BatchNormPlane.centredSquares(x.data, n, mean: mean), squares, accuracy: tolerance, "Σ(x - μ)², n = \(n)")
            let sums = BatchNormPlane.gradientSums(x.data, g.data, n, mean: mean)
            XCTAssertEqual(sums.sum, gsum, accuracy: tolerance, "Σg, n = \(n)")
            XCTAssertEqual(sums.dot, dot, accuracy: tolerance, "Σ(x - μ)g, n = \(n)")
            let y = Tensor(shape: [max(n, 1)])
            BatchNormPlane.normalize(x.data, y.data, n, mean: mean, invStd: invStd, gamma: gamma, beta: beta)
            XCTAssertEqual(Array(y.scalars.prefix(n)), (0..<n).map { (xs[$0] - mean) * invStd * gamma + beta }, "normalize, n = \(n)")
            BatchNormPlane.trainingGradient(x.data, g.data, y.data, n, mean: mean, gradMean: gradMean, kappa: kappa, invStd: invStd, gamma: gamma)
            XCTAssertEqual(Array(y.scalars.prefix(n)), (0..<n).map { (gs[$0] - gradMean - (xs[$0] - mean) * kappa) * invStd * gamma }, "training gradient, n = \(n)")
            BatchNormPlane.evaluationGradient(g.data, y.data, n, invStd: invStd, gamma: gamma)
            XCTAssertEqual(Array(y.scalars.prefix(n)), (0..<n).map { gs[$0] * invStd * gamma }, "evaluation gradient, n = \(n)")
        }
    }

    func testBatchNormalizationParameterGradientsScale() throws {
        let bn = try BatchNormalization(3)
        let x = TestData.uniform([4, 3]), g = TestData.uniform([4, 3], seed: 9)
        try bn.forward(x)
        try bn.backward(x, g, scale: 1)
        let once = bn.weightParameter!.grad.scalars + bn.biasParameter!.grad.scalars
        bn.zeroGradParameters()
        try bn.backward(x, g, scale: 0.5)
        let half = bn.weightParameter!.grad.scalars + bn.biasParameter!.grad.scalars
        for (a, b) in zip(once, half) { XCTAssertEqual(b, 0.5 * a, accuracy: 1e-6) }
    }

    /// The [B, n] path (rows, one fused backward) gives the same bits as the per-feature
    /// path of [B, n, 1, 1], in training and evaluation, on more features than one chunk, and
    /// `backward` equals `updateGradInput` then `accGradParameters`.
    func testBatchNormalizationRowsMatchThePerFeaturePath() throws {
        let (b, n) = (7, 37)
        let rows = try BatchNormalization(n, eps: 1e-3, momentum: 0.2)
        let planes = try SpatialBatchNormalization(n, eps: 1e-3, momentum: 0.2)
        let split = try BatchNormalization(n, eps: 1e-3, momentum: 0.2)
        for m in [planes, split] as [BatchNormalization] {
            m.weightParameter!.value.copy(from: rows.weightParameter!.value)
            m.biasParameter!.value.fillUniform(-0.5, 0.5, &GlobalRandom.generator)
        }
        rows.biasParameter!.value.copy(from: planes.biasParameter!.value)
        split.biasParameter!.value.copy(from: planes.biasParameter!.value)
        for evaluation in [false, true] {
            for s in 1...2 {
                let x = TestData.uniform([b, n], -2, 2, seed: UInt64(10 * s)), g = TestData.uniform([b, n], seed: UInt64(10 * s + 1))
                let x4 = try x.view([b, n, 1, 1]), g4 = try g.view([b, n, 1, 1])
                for m in [rows, planes, split] as [BatchNormalization] {
                    if evaluation { m.evaluate() } else { m.training() }
                    m.zeroGradParameters()
                }
                XCTAssertEqual(try rows.forward(x).scalars, try planes.forward(x4).scalars, "forward, evaluation \(evaluation)")
                try split.forward(x)
                XCTAssertEqual(try rows.backward(x, g, scale: 0.5).scalars, try planes.backward(x4, g4, scale: 0.5).scalars)
                XCTAssertEqual(try split.updateGradInput(x, g).scalars, rows.gradInput.scalars)
                try split.accGradParameters(x, g, scale: 0.5)
                for m in [planes, split] as [BatchNormalization] {
                    XCTAssertEqual(rows.weightParameter!.grad.scalars, m.weightParameter!.grad.scalars, "dγ, evaluation \(evaluation)")
                    XCTAssertEqual(rows.biasParameter!.grad.scalars, m.biasParameter!.grad.scalars, "dβ, evaluation \(evaluation)")
                }
                XCTAssertEqual(rows.runningMean.scalars, planes.runningMean.scalars)
                XCTAssertEqual(rows.runningVar.scalars, planes.runningVar.scalars)
            }
        }
    }

    func testSoftMaxAndLogSoftMax() {
        assertGradients(SoftMax(), TestData.uniform([3, 5], -2, 2))
        assertGradients(SoftMax(), TestData.uniform([6], -2, 2), .init(), "SoftMax on one example")
        assertGradients(LogSoftMax(), TestData.uniform([3, 5], -2, 2))
        assertGradients(LogSoftMax(), TestData.uniform([6], -2, 2), .init(), "LogSoftMax on one example")
    }

    // MARK: the convolutional modules

    func testSpatialConvolution() {
        assertGradients(SpatialConvolution(2, 3, 3, 3), TestData.uniform([2, 2, 5, 5]), .init(),
                        "SpatialConvolution plain")
        assertGradients(SpatialConvolution(2, 3, 3, 2, 2, 1, 1, 2), TestData.uniform([2, 2, 5, 6]), .init(),
                        "SpatialConvolution with stride and padding")
        assertGradients(SpatialConvolution(1, 2, 5, 5, 1, 1, 2, 2), TestData.uniform([1, 6, 6]), .init(),
                        "SpatialConvolution on one example")
        assertGradients(SpatialConvolution(2, 2, 2, 2, bias: false), TestData.uniform([1, 2, 3, 4]), .init(),
                        "SpatialConvolution without bias")
    }

    func testSpatialMaxPoolingFloorAndCeil() {
        assertGradients(SpatialMaxPooling(2, 2), TestData.spaced([2, 2, 4, 4]), .init(), "max pooling 2x2")
        assertGradients(SpatialMaxPooling(3, 3, 2, 2), TestData.spaced([1, 2, 6, 6]), .init(), "floor 3x3/2")
        assertGradients(SpatialMaxPooling(3, 3, 2, 2).ceil(), TestData.spaced([1, 2, 6, 6]), .init(), "ceil 3x3/2")
        assertGradients(SpatialMaxPooling(3, 2, 2, 1, 1, 1), TestData.spaced([2, 1, 5, 5]), .init(), "floor, padding")
        assertGradients(SpatialMaxPooling(3, 2, 2, 1, 1, 1).ceil(), TestData.spaced([2, 1, 5, 5]), .init(), "ceil, padding")
        assertGradients(SpatialMaxPooling(2, 2, 2, 2).ceil(), TestData.spaced([3, 5, 5]), .init(), "ceil on one example")
    }

    func testCeilModeReallyAddsAWindow() throws {
        let x = TestData.spaced([1, 1, 6, 6])
        XCTAssertEqual(try SpatialMaxPooling(3, 3, 2, 2).forward(x).shape, [1, 1, 2, 2])
        XCTAssertEqual(try SpatialMaxPooling(3, 3, 2, 2).ceil().forward(x).shape, [1, 1, 3, 3])
    }

    /// A small LeNet: gradients through every layer type at once, parameters of all layers.
    /// (Tanh rather than ReLU before the pooling: ReLU's zeros tie inside pooling windows and
    /// a finite step across such a kink is not a derivative; ReLU is checked on its own.)
    func testSmallConvolutionalNetwork() throws {
        let net = Sequential([
            SpatialConvolution(1, 2, 3, 3, 1, 1, 1, 1), try SpatialBatchNormalization(2), Tanh(),
            SpatialMaxPooling(2, 2), try View(2 * 3 * 3), Linear(18, 5), Tanh(), try Dropout(0.2),
            Linear(5, 4), Sigmoid(), try BatchNormalization(4), LogSoftMax(),
        ])
        for case let d as Dropout in net.modules { d.reuseNoise = true }
        assertGradients(net, TestData.uniform([3, 1, 6, 6]), .init(step: 3e-3, rtol: 2e-2, atol: 3e-3))
    }

    // MARK: the modules residual and dense nets use (tables: TableModuleGradientTests)

    func testNarrow() throws {
        assertGradients(try Narrow(2, 2, 3), TestData.uniform([3, 5]), .init(), "Narrow(2, 2, 3)")
        assertGradients(try Narrow(2, 2, -1), TestData.uniform([2, 4, 3, 3]), .init(), "Narrow to the end")
        assertGradients(try Narrow(-1, 1, 2), TestData.uniform([2, 3, 4]), .init(), "Narrow of the last dimension")
        let x = Tensor(shape: [2, 4], values: [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(try Narrow(2, 2, -2).forward(x).scalars, [2, 3, 6, 7])   // length = 4 - 2 - 2 + 2
        XCTAssertThrowsError(try Narrow(2, 4, 2).forward(x)) { XCTAssertTrue("\($0)".contains("entries 4...5 do not exist"), "\($0)") }
        XCTAssertThrowsError(try Narrow(3, 1, 1).forward(x)) { XCTAssertTrue("\($0)".contains("dimension 3 does not exist"), "\($0)") }
    }

    func testSpatialAveragePooling() {
        assertGradients(SpatialAveragePooling(2, 2, 2, 2), TestData.uniform([2, 2, 4, 4]), .init(), "avg 2x2/2")
        assertGradients(SpatialAveragePooling(3, 3), TestData.uniform([1, 2, 5, 5]), .init(), "avg 3x3/1")
        assertGradients(SpatialAveragePooling(3, 3, 2, 2, 1, 1), TestData.uniform([1, 2, 6, 6]), .init(), "avg padded")
        assertGradients(SpatialAveragePooling(3, 3, 2, 2, 1, 1).ceil(), TestData.uniform([1, 2, 6, 6]), .init(), "avg padded ceil")
        let exclude = SpatialAveragePooling(3, 3, 2, 2, 1, 1)
        exclude.countIncludePad = false
        assertGradients(exclude, TestData.uniform([2, 5, 5]), .init(), "avg excluding the padding")
    }

    /// Torch's divisors: the padded window (count_include_pad) or the covered entries, and
    /// ceil mode's last window clipped to the padded input.
    func testSpatialAveragePoolingDivisors() throws {
        let x = Tensor(shape: [1, 1, 3, 3], repeating: 1)
        XCTAssertEqual(try SpatialAveragePooling(3, 3, 2, 2, 1, 1).forward(x).scalars, [4.0 / 9, 4.0 / 9, 4.0 / 9, 4.0 / 9])
        let exclude = SpatialAveragePooling(3, 3, 2, 2, 1, 1)
        exclude.countIncludePad = false
        XCTAssertEqual(try exclude.forward(x).scalars, [1, 1, 1, 1])
        let y = try SpatialAveragePooling(2, 2, 2, 2).ceil().forward(x)
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.scalars, [1, 1, 1, 1])   // the 1x1, 1x2, 2x1 windows past the edge average what they cover
        XCTAssertEqual(SpatialAveragePooling(2, 2, 2, 2).description, "nn.SpatialAveragePooling(2x2, 2,2)")
        XCTAssertEqual(SpatialAveragePooling(3, 3, 1, 1, 1, 1).description, "nn.SpatialAveragePooling(3x3, 1,1, 1,1)")
    }

    func testGlobalAveragePooling() throws {
        assertGradients(GlobalAveragePooling(), TestData.uniform([2, 3, 4, 5]), .init(), "global average of a batch")
        assertGradients(GlobalAveragePooling(), TestData.uniform([3, 2, 2]), .init(), "global average of one image")
        let x = TestData.uniform([2, 3, 4, 4])
        XCTAssertEqual(try GlobalAveragePooling().forward(x).scalars, try SpatialAveragePooling(4, 4).forward(x).scalars)
    }

    func testSpatialZeroPaddingPadsAndCrops() throws {
        assertGradients(SpatialZeroPadding(1, 2, 0, 1), TestData.uniform([2, 2, 3, 3]), .init(), "padding")
        assertGradients(SpatialZeroPadding(-1, 1, -2, 0), TestData.uniform([1, 2, 4, 4]), .init(), "crop and pad")
        let x = Tensor(shape: [1, 2, 2], values: [1, 2, 3, 4])
        XCTAssertEqual(try SpatialZeroPadding(1, 0, 0, 0).forward(x).scalars, [0, 1, 2, 0, 3, 4])
        XCTAssertEqual(try SpatialZeroPadding(-1, 0, 0, -1).forward(x).scalars, [2])
        XCTAssertThrowsError(try SpatialZeroPadding(-2).forward(x))
        XCTAssertEqual(SpatialZeroPadding(1, -1, 2).description, "nn.SpatialZeroPadding(l=1, r=-1, t=2, b=1)")
    }

    func testMulConstant() {
        assertGradients(MulConstant(-1.5), TestData.uniform([3, 4]))
        assertGradients(MulConstant(0), TestData.uniform([3, 4]), .init(), "MulConstant(0)")
    }
}
