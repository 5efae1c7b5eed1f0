import XCTest
@testable import Engine

/// SGD against Torch optim.sgd's update written out by hand; masks, freezing and per-layer
/// learning rates.
final class SGDTests: XCTestCase {
    /// One parameter vector θ with a fixed gradient per step, updated by hand with
    ///   g' = g + wd·θ; v = g' (first step) or mom·v + (1-damp)·g'; d = nesterov ? g' + mom·v : v;
    ///   θ -= lr·d
    func testMatchesTorchOptimSGD() throws {
        for nesterov in [false, true] {
            let m = Linear(3, 1, bias: false)
            let w = m.weightParameter
            let start: [Float] = [0.5, -1, 2]
            w.value.copy(from: Tensor(shape: [1, 3], values: start))
            let sgd = SGD(learningRate: 0.1, momentum: 0.9, dampening: nesterov ? 0 : 0.2, nesterov: nesterov, weightDecay: 0.01)
            var theta = start.map(Double.init), v = [Double](repeating: 0, count: 3)
            let grads: [[Float]] = [[1, 2, 3], [-1, 0.5, 0], [0.25, -2, 1]]
            for (step, g) in grads.enumerated() {
                w.grad.copy(from: Tensor(shape: [1, 3], values: g))
                sgd.step(m)
                for i in 0..<3 {
                    let gi = Double(g[i]) + 0.01 * theta[i]
                    v[i] = step == 0 ? gi : 0.9 * v[i] + (nesterov ? 1 : 0.8) * gi
                    theta[i] -= 0.1 * (nesterov ? gi + 0.9 * v[i] : v[i])
                }
                for i in 0..<3 { XCTAssertEqual(Double(w.value[i]), theta[i], accuracy: 1e-5, "step \(step) nesterov \(nesterov)") }
            }
        }
    }

    func testMaskedWeightsStayExactlyZeroThroughManySteps() throws {
        GlobalRandom.seed(4)
        let model = Sequential([Linear(6, 8), Tanh(), Linear(8, 3)])
        let w = try XCTUnwrap(model.modules[0].weight)
        let mask = Tensor(shape: w.value.shape)
        for i in 0..<mask.count { mask[i] = i % 3 == 0 ? 0 : 1 }
        try w.setMask(mask)
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.05), batchSize: 4, seed: 1)
        var rng = RandomGenerator(seed: 9)
        let x = Tensor(shape: [4, 6]), y = Tensor(shape: [4])
        for _ in 0..<200 {
            x.fillUniform(-1, 1, &rng)
            for i in 0..<4 { y[i] = Float(rng.next() % 3) }
            _ = try trainer.step(x, y)
            for i in 0..<mask.count where mask[i] == 0 { XCTAssertEqual(w.value[i], 0) }
        }
        XCTAssertGreaterThan(w.value.count - w.value.zeroCount(), 0)
        // Removing the mask lets the weights train again.
        w.removeMask()
        x.fillUniform(-1, 1, &rng)
        _ = try trainer.step(x, y)
        XCTAssertLessThan(w.value.zeroCount(), mask.zeroCount())
    }

    func testFrozenLayersAreNotUpdatedAndBackwardStopsAboveThem() throws {
        GlobalRandom.seed(5)
        let spy = InputGradientSpy()
        let model = Sequential([spy, Linear(4, 5), Tanh(), Linear(5, 2)])
        model.modules[1].isFrozen = true
        model.modules[3].learningRateScale = 0
        let frozen = model.modules[1].weight!.value.clone(), scaled = model.modules[3].weight!.value.clone()
        XCTAssertEqual(model.lowestTrainedIndex, 3)
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.5, momentum: 0.9), batchSize: 2, seed: 0)
        let x = Tensor(shape: [2, 4], values: [1, 2, 3, 4, -1, 0, 1, 0]), y = Tensor(shape: [2], values: [0, 1])
        _ = try trainer.step(x, y)
        XCTAssertEqual(model.modules[1].weight!.value.scalars, frozen.scalars, "frozen")
        XCTAssertEqual(model.modules[3].weight!.value.scalars, scaled.scalars, "learning-rate scale 0")
        XCTAssertEqual(spy.backwardCalls, 0, "nothing below the lowest trained layer runs backward")
        model.modules[1].isFrozen = false
        _ = try trainer.step(x, y)
        XCTAssertNotEqual(model.modules[1].weight!.value.scalars, frozen.scalars)
        XCTAssertEqual(spy.backwardCalls, 0, "the lowest trained layer needs no input gradient")
    }

    /// Identity that counts how often its input gradient is asked for.
    final class InputGradientSpy: Module {
        var backwardCalls = 0
        override func updateOutput(_ input: Tensor) throws -> Tensor { output = input; return input }
        override func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
            backwardCalls += 1
            gradInput = gradOutput
            return gradOutput
        }
    }
}
