import XCTest
@testable import Engine

/// In evaluation a Sequential runs a convolution and the activation after it as one pass
/// (SpatialConvolution+Activation.swift). Each of the convolution's paths, dense and pruned,
/// on 1 and 2 threads: both modules' outputs are bit for bit those of the two modules run one
/// after the other, and training (or an activation defined elsewhere) keeps the two passes.
final class ConvolutionActivationFusionTests: XCTestCase {
    /// (layer, input shape, fraction of weights zeroed by a mask): per-image unfolding
    /// (14x14 in, 10x10 out), groups of images (8x8 out), padded width (28 wide, pad 2), and
    /// pruned stride-1 layers on the lane kernel (batch ≥ 16 per thread) and one by one.
    private func cases() -> [(SpatialConvolution, [Int], Double)] {
        GlobalRandom.seed(3)
        return [
            (SpatialConvolution(6, 16, 5, 5), [5, 6, 14, 14], 0),
            (SpatialConvolution(3, 8, 3, 3), [7, 3, 10, 10], 0),
            (SpatialConvolution(2, 4, 5, 5, 1, 1, 2, 2), [3, 2, 28, 28], 0),
            (SpatialConvolution(6, 16, 5, 5), [37, 6, 14, 14], 0.7),
            (SpatialConvolution(1, 6, 5, 5), [40, 1, 32, 32], 0),
            (SpatialConvolution(6, 16, 5, 5, 2, 2), [4, 6, 14, 14], 0.7),
        ]
    }

    private func prune(_ conv: SpatialConvolution, _ fraction: Double) throws {
        guard fraction > 0 else { return }
        var rng = RandomGenerator(seed: 5)
        let n = conv.weightParameter.value.count
        let mask = Tensor(shape: conv.weightParameter.value.shape)
        mask.fill(1)
        for i in rng.permutation(n).prefix(Int(fraction * Double(n))) { mask.data[i] = 0 }
        try conv.weightParameter.setMask(mask)
    }

    /// body(what, layer, input shape) for every case (its layer pruned as the case says) on 1
    /// and 2 threads.
    private func forEachCase(_ body: (String, SpatialConvolution, [Int]) throws -> Void) throws {
        defer { Parallel.setThreads(1) }
        for threads in [1, 2] {
            Parallel.setThreads(threads)
            for (index, (conv, shape, fraction)) in cases().enumerated() {
                try prune(conv, fraction)
                try body("case \(index + 1), \(threads) thread(s)", conv, shape)
            }
        }
    }

    func testEveryPathGivesTheOutputsOfTheTwoPasses() throws {
        try forEachCase { label, conv, shape in
            for activation in [Tanh(), ReLU(), Sigmoid()] as [ElementwiseModule] {
                var rng = RandomGenerator(seed: 7)
                let x = Tensor(shape: shape); x.fillUniform(-1, 1, &rng)
                let net = Sequential([conv, activation])
                net.evaluate()
                let y = try conv.forward(x).scalars
                let a = try activation.forward(conv.output).scalars
                conv.clearState()
                activation.clearState()   // nothing left from the two passes
                let fused = try net.forward(x)
                let what = "\(label), \(activation.typeName)"
                XCTAssertTrue(fused === activation.output, what)
                XCTAssertNil(firstDifference(conv.output.scalars, y), "convolution output, \(what)")
                XCTAssertNil(firstDifference(fused.scalars, a), "activation output, \(what)")
                XCTAssertEqual(fused.shape, conv.output.shape, what)
            }
        }
    }

    /// The first index where a and b differ in a bit (or in length), nil when they are equal.
    private func firstDifference(_ a: [Float], _ b: [Float]) -> Int? {
        guard a.count == b.count else { return min(a.count, b.count) }
        return a.indices.first { a[$0].bitPattern != b[$0].bitPattern }
    }

    /// A 2x2 max pooling after the activation joins the pass (its output, bit for bit, and a
    /// backward pass after it still finds each window's maximum); one it would refuse, or
    /// another window, runs its own pass, which says what is wrong.
    func testAMaxPoolingAfterTheActivationJoinsThePass() throws {
        try forEachCase { what, conv, shape in
            var rng = RandomGenerator(seed: 9)
            let x = Tensor(shape: shape); x.fillUniform(-1, 1, &rng)
            let tanh = Tanh(), pool = SpatialMaxPooling(2, 2)
            let net = Sequential([conv, tanh, pool])
            net.evaluate()
            let y = try conv.forward(x).scalars
            let a = try tanh.forward(conv.output).scalars
            let pooled = try pool.forward(tanh.output).scalars
            let gradient = Tensor(shape: pool.output.shape); gradient.fillUniform(-1, 1, &rng)
            let routed = try pool.backward(tanh.output, gradient).scalars
            for m in [conv, tanh, pool] as [Module] { m.clearState() }
            let out = try net.forward(x)
            XCTAssertTrue(out === pool.output, what)
            XCTAssertNil(firstDifference(conv.output.scalars, y), "convolution, \(what)")
            XCTAssertNil(firstDifference(tanh.output.scalars, a), "activation, \(what)")
            XCTAssertNil(firstDifference(out.scalars, pooled), "pooling, \(what)")
            XCTAssertEqual(try pool.backward(tanh.output, gradient).scalars, routed, "backward after the fused pass, \(what)")
        }
        // 3x3 windows, and a 2x2 window larger than a 1x1 input: their own passes.
        GlobalRandom.seed(6)
        let conv = SpatialConvolution(1, 2, 3, 3), tanh = Tanh(), wide = SpatialMaxPooling(3, 3)
        let net = Sequential([conv, tanh, wide])
        net.evaluate()
        let x = TestData.uniform([2, 1, 8, 8])
        XCTAssertEqual(try net.forward(x).scalars, try SpatialMaxPooling(3, 3).forward(try Tanh().forward(try conv.forward(x))).scalars)
        let tiny = Sequential([SpatialConvolution(1, 2, 3, 3), Tanh(), SpatialMaxPooling(2, 2)])
        tiny.evaluate()
        XCTAssertThrowsError(try tiny.forward(TestData.uniform([1, 1, 3, 3]))) { e in
            XCTAssertTrue("\(e)".contains("layer 3"), "\(e)")
        }
    }

    /// In training the activation runs its own pass (its output is what its backward reads).
    func testTrainingRunsBothPasses() throws {
        GlobalRandom.seed(4)
        let conv = SpatialConvolution(2, 3, 3, 3), tanh = Tanh()
        XCTAssertFalse(conv.fuses(tanh))
        let net = Sequential([conv, tanh])
        net.evaluate()
        XCTAssertTrue(conv.fuses(tanh))
        net.training()
        XCTAssertFalse(conv.fuses(tanh))
        let x = TestData.uniform([2, 2, 6, 6])
        let out = try net.forward(x)
        XCTAssertEqual(out.scalars, try Tanh().forward(conv.output).scalars)
        XCTAssertFalse(conv.fuses(MulConstant(2)))
    }
}
