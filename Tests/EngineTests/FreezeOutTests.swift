import Foundation
import XCTest
@testable import Engine

/// FreezeOut's maths against its formulas, the layers' forward costs, and the work a frozen
/// layer does not cause: no backward call below the lowest trained layer, no input gradient
/// for that layer, no update, no gradient work.
final class FreezeOutTests: XCTestCase {
    /// t_i = f(t_0 + (1 − t_0)·i/L), t_L = 1, for each scaling; t_0 = 1 freezes nothing.
    func testFreezePointsFollowTheirFormulaForEachScaling() throws {
        let f: [FreezeOut.Scaling: (Double) -> Double] = [.linear: { $0 }, .squared: { $0 * $0 }, .cubic: { $0 * $0 * $0 }]
        for scaling in FreezeOut.Scaling.allCases {
            for t0 in [0.5, 0.8] {
                let t = try FreezeOut.freezePoints(layers: 5, t0: t0, scaling: scaling)
                XCTAssertEqual(t.count, 5)
                for i in 0..<4 { XCTAssertEqual(t[i], f[scaling]!(t0 + (1 - t0) * Double(i) / 4), accuracy: 1e-15, "\(scaling) t_\(i)") }
                XCTAssertEqual(t[4], 1, "the classifier's freeze point is the end of the run")
                XCTAssertEqual(t, t.sorted(), "later layers train longer")
            }
            XCTAssertEqual(try FreezeOut.freezePoints(layers: 3, t0: 1, scaling: scaling), [1, 1, 1])
        }
        XCTAssertEqual(try FreezeOut.freezePoints(layers: 5, t0: 0.8, scaling: .cubic)[0], 0.512, accuracy: 1e-15)
        XCTAssertEqual(try FreezeOut.freezePoints(layers: 1, t0: 0.5, scaling: .linear), [1])
        for bad in [0, -0.1, 1.01, .nan] {
            XCTAssertThrowsError(try FreezeOut.freezePoints(layers: 3, t0: bad, scaling: .linear), "t_0 = \(bad)")
        }
        XCTAssertThrowsError(try FreezeOut.freezePoints(layers: 0, t0: 0.5, scaling: .linear))
    }

    /// α_i(j) = ½·α_i(0)·(1 + cos(π·j/(t_i·J))) up to t_i·J, then 0 and frozen, with
    /// α_i(0) = α/t_i scaled or α unscaled, for every scaling.
    func testRatesFollowTheCosineScaledAndUnscaled() throws {
        let J = 120, alpha = 0.1
        for scaling in FreezeOut.Scaling.allCases {
            let t = try FreezeOut.freezePoints(layers: 4, t0: 0.5, scaling: scaling)
            for scaled in [true, false] {
                for (i, ti) in t.enumerated() {
                    let a0 = FreezeOut.initialRate(alpha, freezePoint: ti, scaled: scaled)
                    XCTAssertEqual(a0, scaled ? alpha / ti : alpha, accuracy: 1e-15)
                    var trained = 0
                    for j in 0..<J {
                        let r = FreezeOut.rate(initial: a0, freezePoint: ti, iteration: j, of: J)
                        let frozen = FreezeOut.isFrozen(layer: i, of: t.count, freezePoint: ti, iteration: j, of: J)
                        if Double(j) < ti * Double(J) {
                            XCTAssertEqual(r, 0.5 * a0 * (1 + cos(Double.pi * Double(j) / (ti * Double(J)))), accuracy: 1e-15)
                            XCTAssertFalse(frozen)
                            trained += 1
                        } else {
                            XCTAssertEqual(r, 0)
                            XCTAssertTrue(frozen, "layer \(i) past its freeze point at \(j)")
                        }
                    }
                    XCTAssertEqual(trained, Int((ti * Double(J)).rounded(.up)), "\(scaling) layer \(i) trains ⌈t_i·J⌉ iterations")
                    XCTAssertEqual(FreezeOut.rate(initial: a0, freezePoint: ti, iteration: 0, of: J), a0)
                }
                XCTAssertFalse(FreezeOut.isFrozen(layer: 3, of: 4, freezePoint: 1, iteration: J, of: J), "never the classifier")
            }
        }
        // The scaled rates of the first layer start higher and fall to zero sooner.
        let t = try FreezeOut.freezePoints(layers: 4, t0: 0.5, scaling: .linear)
        XCTAssertEqual(FreezeOut.initialRate(alpha, freezePoint: t[0], scaled: true), 0.2, accuracy: 1e-15)
    }

    /// The layers of the workbench's nets and their forward FLOPs, from the module shapes.
    func testLayersAndTheirForwardCosts() throws {
        let mlp = try ModelZoo.build(ModelZoo.lenet300100)
        XCTAssertEqual(try FreezeOut.layers(of: mlp), [0...2, 3...4, 5...5])
        // 2·n·m multiply-adds, m bias adds, m tanh
        let expected: [Double] = [2 * 784 * 300 + 300 + 300, 2 * 300 * 100 + 100 + 100, 2 * 100 * 10 + 10]
        XCTAssertEqual(try FreezeOut.layerCosts(of: mlp, layers: try FreezeOut.layers(of: mlp), imageShape: [1, 28, 28]), expected)
        let lenet = try ModelZoo.build(ModelZoo.referenceLeNet5)
        let layers = try FreezeOut.layers(of: lenet)
        XCTAssertEqual(layers, [0...2, 3...6, 7...8, 9...10, 11...11])
        let c = try FreezeOut.layerCosts(of: lenet, layers: layers, imageShape: [1, 28, 28])
        // conv1: 6x28x28 outputs of 25 multiply-adds, + bias, tanh, then 2x2 pooling of 6x14x14
        XCTAssertEqual(c[0], Double(2 * 4704 * 25 + 4704 + 4704 + 1176 * 4))
        // conv2: 96x10x10 outputs of 6·25 multiply-adds, + bias, tanh, 2x2 pooling of 96x5x5; the view is free
        XCTAssertEqual(c[1], Double(2 * 9600 * 150 + 9600 + 9600 + 2400 * 4))
        XCTAssertEqual(c[2], Double(2 * 2400 * 120 + 120 + 120))
        // A batch norm joins the layer before it; a leading parameter-free module the first.
        let bn = Sequential([try View(16), Linear(16, 8), try BatchNormalization(8), ReLU(), try Dropout(0.5), Linear(8, 4)])
        XCTAssertEqual(try FreezeOut.layers(of: bn), [0...4, 5...5])
        XCTAssertThrowsError(try FreezeOut.layers(of: Sequential([Tanh()])))
        XCTAssertTrue(lenet.isTraining, "counting leaves the model in training mode")
    }

    /// 1 − C_f/C on the reference nets: MLP 784-300-100-10 cubic t_0 0.8 ≈ 23%, linear 0.5 ≈
    /// 24%; the classic LeNet-5 (6-16 channels) cubic 0.8 ≈ 20%, linear 0.5 ≈ 20%; the
    /// reference LeNet-5 (96 channels), whose conv2 dominates, a little less.
    func testEstimatedSpeedupOnKnownNets() throws {
        func speedup(_ spec: ModuleSpec, _ t0: Double, _ s: FreezeOut.Scaling) throws -> Double {
            let m = try ModelZoo.build(spec)
            let layers = try FreezeOut.layers(of: m)
            let c = try FreezeOut.layerCosts(of: m, layers: layers, imageShape: [1, 28, 28])
            return try FreezeOut.estimatedSpeedup(costs: c, freezePoints: try FreezeOut.freezePoints(layers: layers.count, t0: t0, scaling: s))
        }
        XCTAssertEqual(try speedup(ModelZoo.lenet300100, 0.8, .cubic), 0.23, accuracy: 0.005)
        XCTAssertEqual(try speedup(ModelZoo.lenet300100, 0.5, .linear), 0.24, accuracy: 0.006)
        XCTAssertEqual(try speedup(ModelZoo.classicLeNet5, 0.8, .cubic), 0.20, accuracy: 0.005)
        XCTAssertEqual(try speedup(ModelZoo.classicLeNet5, 0.5, .linear), 0.20, accuracy: 0.006)
        XCTAssertEqual(try speedup(ModelZoo.referenceLeNet5, 0.8, .cubic), 0.187, accuracy: 0.001)
        XCTAssertEqual(try speedup(ModelZoo.referenceLeNet5, 0.5, .linear), 0.181, accuracy: 0.001)
        XCTAssertEqual(try speedup(ModelZoo.referenceLeNet5, 1, .cubic), 0, "t_0 = 1: nothing frozen")
        // By hand: two layers of cost 3 and 1, t = (0.5, 1): C = 8, C_f = 4 + 1.5 + 1.
        XCTAssertEqual(try FreezeOut.estimatedSpeedup(costs: [3, 1], freezePoints: [0.5, 1]), 1 - 6.5 / 8)
        XCTAssertThrowsError(try FreezeOut.estimatedSpeedup(costs: [1], freezePoints: [0.5, 1]))
    }

    /// --const_time: epochs/(1 − s) rounded to the nearest.
    func testConstantTimeEpochs() {
        XCTAssertEqual(FreezeOut.constantTimeEpochs(10, speedup: 0.187), 12)   // 12.30
        XCTAssertEqual(FreezeOut.constantTimeEpochs(10, speedup: 0.231), 13)   // 13.00
        XCTAssertEqual(FreezeOut.constantTimeEpochs(100, speedup: 0.2), 125)
        XCTAssertEqual(FreezeOut.constantTimeEpochs(10, speedup: 0), 10)
        XCTAssertEqual(FreezeOut.constantTimeEpochs(1, speedup: 0.1), 1)        // 1.11
    }

    /// The backward pass of a training step stops at the lowest trained layer: modules below
    /// it get no call at all, that layer computes no input gradient, and the layers above it
    /// get both; as layers freeze from the input side, the stop moves up.
    func testBackwardStopsBelowTheLowestActiveLayer() throws {
        GlobalRandom.seed(5)
        let r1 = Recorder(weighted: true), free = Recorder(weighted: false), r2 = Recorder(weighted: true)
        let model = Sequential([try View(4), r1, free, r2, Linear(4, 3)])
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.1), batchSize: 4, seed: 1)
        let data = try tinyData()
        try trainer.steps(data, 2)
        XCTAssertEqual(r1.calls, ["accGradParameters", "accGradParameters"], "the lowest layer: no input gradient")
        XCTAssertEqual(free.calls, ["updateGradInput", "accGradParameters", "updateGradInput", "accGradParameters"])
        XCTAssertEqual(r2.calls, ["updateGradInput", "accGradParameters", "updateGradInput", "accGradParameters"])
        for r in [r1, free, r2] { r.calls = [] }
        r1.isFrozen = true
        r1.isEvaluationPinned = true
        let w1 = r1.weightParameter!.value.scalars
        try trainer.steps(data, 2)
        XCTAssertEqual(r1.calls, [], "a frozen layer below the lowest trained one gets no backward call")
        XCTAssertEqual(free.calls, [], "nor does a parameter-free module between them")
        XCTAssertEqual(r2.calls, ["accGradParameters", "accGradParameters"], "the new lowest layer: no input gradient")
        XCTAssertEqual(r1.weightParameter!.value.scalars, w1, "no update")
        XCTAssertEqual(r1.weightParameter!.grad.scalars, [0, 0, 0, 0], "its gradient is 0, not recomputed")
        XCTAssertFalse(r1.isTraining)
        XCTAssertEqual(model.lowestTrainedIndex, 3)
        r2.isFrozen = true
        r2.calls = []
        try trainer.steps(data, 1)
        XCTAssertEqual(r2.calls, [])
        XCTAssertEqual(model.lowestTrainedIndex, 4)
    }

    /// A frozen module's parameters are out of the optimiser's plan, and freezing zeroes their
    /// gradients once; the trained ones are zeroed before every backward.
    func testFrozenParametersAreLeftOutOfTheOptimiserAndItsGradientWork() throws {
        GlobalRandom.seed(6)
        let a = Linear(4, 3), b = Linear(3, 3)
        let model = Sequential([try View(4), a, Tanh(), b])
        let groups = [ParameterGroup(a.parameters, learningRate: 0.1, weightDecay: 1e-4),
                      ParameterGroup(b.parameters, learningRate: 0.1, weightDecay: 1e-4)]
        XCTAssertEqual(OptimizerPlan(model: model, groups: groups, fallback: groups[0]).entries.count, 4)
        let trainer = Trainer(model: model, optimizer: SGD(groups: groups), batchSize: 4, seed: 1)
        try trainer.steps(try tinyData(), 1)
        XCTAssertNotEqual(a.weightParameter.grad.scalars, [Float](repeating: 0, count: 12))
        a.isFrozen = true
        XCTAssertEqual(a.weightParameter.grad.scalars, [Float](repeating: 0, count: 12), "freezing zeroes the gradient")
        let plan = OptimizerPlan(model: model, groups: groups, fallback: groups[0])
        XCTAssertEqual(plan.entries.map { ObjectIdentifier($0.parameter) }, b.parameters.map(ObjectIdentifier.init),
                       "weight decay and momentum of the frozen group: no work")
        let w = a.weightParameter.value.scalars
        for _ in 0..<3 {
            try trainer.steps(try tinyData(), 1)
            XCTAssertEqual(a.weightParameter.value.scalars, w)
            XCTAssertEqual(a.weightParameter.grad.scalars, [Float](repeating: 0, count: 12))
        }
    }

    private func tinyData() throws -> Dataset {
        let pixels = (0..<48).map { UInt8(($0 * 37) % 251) }
        return try Dataset(name: "tiny", pixels: pixels, labels: (0..<12).map { Int32($0 % 3) }, channels: 1, height: 2, width: 2, classes: 3)
    }
}

/// y = x (with a weight it scales by w = 1 + its trained offset: y = w ⊙ x); records the
/// backward calls it gets.
private final class Recorder: Module {
    let weightParameter: Parameter?
    var calls: [String] = []

    init(weighted: Bool) {
        weightParameter = weighted ? Parameter(name: "weight", shape: [4]) : nil
        super.init()
        weightParameter?.value.fill(1)
    }

    override var typeName: String { "test.Recorder" }
    override var parameters: [Parameter] { weightParameter.map { [$0] } ?? [] }

    override func updateOutput(_ input: Tensor) throws -> Tensor {
        output.resize(input.shape)
        for i in 0..<input.count { output.data[i] = input.data[i] * (weightParameter?.value.data[i % 4] ?? 1) }
        return output
    }

    override func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        calls.append("updateGradInput")
        gradInput.resize(input.shape)
        for i in 0..<input.count { gradInput.data[i] = gradOutput.data[i] * (weightParameter?.value.data[i % 4] ?? 1) }
        return gradInput
    }

    override func accGradParameters(_ input: Tensor, _ gradOutput: Tensor, scale: Float) throws {
        calls.append("accGradParameters")
        guard let g = weightParameter?.grad.data else { return }
        for i in 0..<input.count { g[i % 4] += scale * gradOutput.data[i] * input.data[i] }
    }
}
