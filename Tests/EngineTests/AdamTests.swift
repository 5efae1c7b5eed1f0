import XCTest
@testable import Engine

/// Adam against Torch optim.adam's formula, and its handling of masks, freezing and scales.
final class AdamTests: XCTestCase {
    /// A module that only holds one parameter vector.
    private final class Holder: Module {
        let theta: Parameter
        init(_ values: [Float]) {
            theta = Parameter(name: "weight", shape: [values.count])
            theta.value.copy(from: Tensor(shape: [values.count], values: values))
            super.init()
        }
        override var parameters: [Parameter] { [theta] }
        override var weight: Parameter? { theta }
    }

    /// Sets θ's gradient to that of f(θ) = ½ Σ aᵢ θᵢ².
    private func quadraticGradient(_ h: Holder, _ a: [Float]) {
        for i in a.indices { h.theta.grad[i] = a[i] * h.theta.value[i] }
    }

    func testTwoStepsOnAQuadraticMatchTheFormula() {
        let a: [Float] = [1, 4, 0.5], start: [Float] = [1, -0.5, 2]
        let lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.05
        let h = Holder(start)
        let adam = Adam(learningRate: Float(lr), weightDecay: Float(wd))

        var theta = start.map(Double.init), m = [0.0, 0, 0], v = [0.0, 0, 0]
        for t in 1...2 {
            quadraticGradient(h, a)
            let gradient = h.theta.grad.scalars
            adam.step(h)
            XCTAssertEqual(h.theta.grad.scalars, gradient, "Adam reads the gradient without changing it")
            let stepSize = lr * (1 - pow(b2, Double(t))).squareRoot() / (1 - pow(b1, Double(t)))
            for i in 0..<3 {
                let g = Double(a[i]) * theta[i] + wd * theta[i]
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                theta[i] -= stepSize * m[i] / (v[i].squareRoot() + eps)
                XCTAssertEqual(Double(h.theta.value[i]), theta[i], accuracy: 1e-6, "step \(t), θ\(i)")
            }
        }
    }

    /// Adam's first step moves every coordinate by almost exactly lr against the gradient's sign.
    func testFirstStepMovesByTheLearningRate() {
        let h = Holder([1, -0.5, 2])
        quadraticGradient(h, [1, 4, 0.5])
        Adam(learningRate: 0.01).step(h)
        XCTAssertEqual(h.theta.value[0], 0.99, accuracy: 1e-6)
        XCTAssertEqual(h.theta.value[1], -0.49, accuracy: 1e-6)
        XCTAssertEqual(h.theta.value[2], 1.99, accuracy: 1e-6)
    }

    func testMinimisesAQuadratic() {
        let h = Holder([1, -0.5, 2]), adam = Adam(learningRate: 0.05)
        for _ in 0..<1000 {
            quadraticGradient(h, [1, 4, 0.5])
            adam.step(h)
        }
        for i in 0..<3 { XCTAssertEqual(h.theta.value[i], 0, accuracy: 1e-2) }
    }

    func testLearningRateScaleAndFreezing() {
        let full = Holder([1]), half = Holder([1]), frozen = Holder([1])
        half.learningRateScale = 0.5
        frozen.isFrozen = true
        let adam = Adam(learningRate: 0.01)
        for h in [full, half, frozen] {
            quadraticGradient(h, [1])
            adam.step(h)
        }
        XCTAssertEqual(full.theta.value[0], 0.99, accuracy: 1e-6)
        XCTAssertEqual(half.theta.value[0], 0.995, accuracy: 1e-6)
        XCTAssertEqual(frozen.theta.value[0], 1)
    }

    func testStepsEveryLeafOfASequential() throws {
        GlobalRandom.seed(1)
        let net = Sequential([Linear(3, 4), Tanh(), Sequential([Linear(4, 2)])])
        let before = net.allParameters.map(\.value.scalars)
        let x = TestData.uniform([5, 3]), criterion = MSECriterion()
        let y = try net.forward(x)
        try criterion.forward(y, Tensor(shape: y.shape))
        net.zeroGradParameters()
        _ = try net.backward(x, try criterion.backward(y, Tensor(shape: y.shape)))
        Adam().step(net)
        for (p, old) in zip(net.allParameters, before) { XCTAssertNotEqual(p.value.scalars, old, p.name) }
    }

    /// Masked weights stay exactly 0 through training with weight decay, come back with their
    /// stored values once the mask is removed, and no stale moment moves them.
    func testMaskedWeightsStayZero() throws {
        GlobalRandom.seed(3)
        let layer = Linear(6, 4), net = Sequential([layer])
        let adam = Adam(learningRate: 0.01, weightDecay: 0.1)
        let x = TestData.uniform([8, 6]), target = TestData.uniform([8, 4], seed: 4)
        let criterion = MSECriterion()
        func trainStep() throws {
            net.zeroGradParameters()
            let y = try net.forward(x)
            try criterion.forward(y, target)
            _ = try net.backward(x, try criterion.backward(y, target))
            adam.step(net)
        }
        for _ in 0..<5 { try trainStep() }

        let mask = Tensor(shape: [4, 6])
        for i in 0..<mask.count { mask[i] = i % 3 == 0 ? 0 : 1 }
        let stored = layer.weightParameter.value.scalars
        try layer.weightParameter.setMask(mask)
        let unmaskedBefore = layer.weightParameter.value.scalars
        for _ in 0..<50 { try trainStep() }
        let w = layer.weightParameter.value
        for i in 0..<w.count {
            if mask[i] == 0 {
                XCTAssertEqual(w[i], 0, "masked weight \(i)")
            } else {
                XCTAssertNotEqual(w[i], unmaskedBefore[i], "unmasked weight \(i) trains")
            }
        }

        layer.weightParameter.removeMask()
        layer.weightParameter.grad.zero()
        layer.biasParameter!.grad.zero()
        adam.weightDecay = 0   // a zero gradient: only a stale moment could move a weight
        adam.step(net)
        // The masked weights come back with their stored values, and no stale moment moves them.
        for i in 0..<w.count where mask[i] == 0 { XCTAssertEqual(w[i], stored[i], "stale moment moved weight \(i)") }
    }

    func testResetForgetsTheMoments() {
        let a = Holder([1]), b = Holder([1]), adam = Adam(learningRate: 0.01)
        quadraticGradient(a, [1]); adam.step(a)
        quadraticGradient(a, [1]); adam.reset(); adam.step(a)
        quadraticGradient(b, [1]); Adam(learningRate: 0.01).step(b)
        quadraticGradient(b, [1]); Adam(learningRate: 0.01).step(b)
        XCTAssertEqual(a.theta.value[0], b.theta.value[0])
    }
}
