import XCTest
@testable import Engine

/// Loss values against hand computations and loss gradients against finite differences.
final class CriterionTests: XCTestCase {
    private let logProbabilities = Tensor(shape: [2, 3], values: [-1, -2, -3, -0.5, -1.5, -2.5])
    private let targets = Tensor(shape: [2], values: [2, 0])

    // MARK: ClassNLLCriterion

    func testClassNLLValue() throws {
        let nll = ClassNLLCriterion()
        XCTAssertEqual(try nll.forward(logProbabilities, targets), (3 + 0.5) / 2, accuracy: 1e-6)
        XCTAssertEqual(try nll.backward(logProbabilities, targets).scalars, [0, 0, -0.5, -0.5, 0, 0])

        let summed = ClassNLLCriterion(sizeAverage: false)
        XCTAssertEqual(try summed.forward(logProbabilities, targets), 3.5, accuracy: 1e-6)
        XCTAssertEqual(try summed.backward(logProbabilities, targets).scalars, [0, 0, -1, -1, 0, 0])

        let single = ClassNLLCriterion()
        XCTAssertEqual(try single.forward(Tensor(shape: [3], values: [-1, -2, -3]), Tensor(shape: [1], values: [1])), 2)
    }

    /// Torch's weighted form: -Σ w[t] x[t] / Σ w[t].
    func testClassNLLWithClassWeights() throws {
        let nll = ClassNLLCriterion(weights: Tensor(shape: [3], values: [1, 2, 3]))
        XCTAssertEqual(try nll.forward(logProbabilities, targets), (9 + 0.5) / 4, accuracy: 1e-6)
        XCTAssertEqual(try nll.backward(logProbabilities, targets).scalars, [0, 0, -0.75, -0.25, 0, 0])
        XCTAssertThrowsError(try ClassNLLCriterion(weights: Tensor(shape: [2])).forward(logProbabilities, targets))
    }

    func testClassNLLGradients() {
        let x = TestData.uniform([4, 5], -3, 0)
        let t = Tensor(shape: [4], values: [0, 4, 2, 2])
        assertGradients(ClassNLLCriterion(), x, t)
        assertGradients(ClassNLLCriterion(sizeAverage: false), x, t, .init(), "ClassNLL summed")
        assertGradients(ClassNLLCriterion(weights: Tensor(shape: [5], values: [1, 0.5, 2, 1, 3])), x, t, .init(),
                        "ClassNLL weighted")
    }

    func testClassNLLRejectsBadTargets() {
        let nll = ClassNLLCriterion()
        XCTAssertThrowsError(try nll.forward(logProbabilities, Tensor(shape: [2], values: [3, 0])))
        XCTAssertThrowsError(try nll.forward(logProbabilities, Tensor(shape: [2], values: [-1, 0])))
        XCTAssertThrowsError(try nll.forward(logProbabilities, Tensor(shape: [3], values: [0, 0, 0])))
        XCTAssertThrowsError(try nll.forward(Tensor(shape: [2, 3, 1]), targets))
    }

    // MARK: MSECriterion

    func testMSEValue() throws {
        let x = Tensor(shape: [2, 2], values: [1, 2, 3, 4]), t = Tensor(shape: [2, 2], values: [0, 2, 5, 4])
        let mse = MSECriterion()
        XCTAssertEqual(try mse.forward(x, t), 5.0 / 4, accuracy: 1e-6)
        XCTAssertEqual(try mse.backward(x, t).scalars, [0.5, 0, -1, 0])
        XCTAssertEqual(try mse.backward(x, t).shape, [2, 2])

        let summed = MSECriterion(sizeAverage: false)
        XCTAssertEqual(try summed.forward(x, t), 5, accuracy: 1e-6)
        XCTAssertEqual(try summed.backward(x, t).scalars, [2, 0, -4, 0])

        XCTAssertThrowsError(try mse.forward(x, Tensor(shape: [3])))
    }

    func testMSEGradients() {
        let x = TestData.uniform([3, 4]), t = TestData.uniform([3, 4], seed: 11)
        assertGradients(MSECriterion(), x, t)
        assertGradients(MSECriterion(sizeAverage: false), x, t, .init(), "MSE summed")
    }

    // MARK: CrossEntropyCriterion

    func testCrossEntropyGradients() {
        let x = TestData.uniform([4, 5], -2, 2)
        let t = Tensor(shape: [4], values: [1, 0, 4, 1])
        assertGradients(CrossEntropyCriterion(), x, t)
        let summed = CrossEntropyCriterion()
        summed.sizeAverage = false
        assertGradients(summed, x, t, .init(), "CrossEntropy summed")
        assertGradients(CrossEntropyCriterion(), TestData.uniform([5], -2, 2), Tensor(shape: [1], values: [3]), .init(),
                        "CrossEntropy on one example")
    }

    /// CrossEntropy = ClassNLL ∘ LogSoftMax, in value and gradient (Torch's definition).
    func testCrossEntropyIsLogSoftMaxThenClassNLL() throws {
        let x = TestData.uniform([3, 6], -4, 4)
        let t = Tensor(shape: [3], values: [5, 0, 2])
        let logSoftMax = LogSoftMax(), nll = ClassNLLCriterion(), ce = CrossEntropyCriterion()
        let logProbabilities = try logSoftMax.forward(x)
        XCTAssertEqual(try nll.forward(logProbabilities, t), try ce.forward(x, t), accuracy: 1e-5)
        let chained = try logSoftMax.backward(x, try nll.backward(logProbabilities, t))
        XCTAssertLessThan(chained.maxAbsDifference(try ce.backward(x, t)), 1e-6)
    }

    /// The backward pass reuses the forward pass's log-sum-exps only for the very input it saw:
    /// after a forward pass, on a changed input, and with no forward pass at all it gives the
    /// bits of a criterion that never saw a forward pass; on 1 and 2 threads the same bits.
    func testCrossEntropyBackwardAfterForwardIsTheSameWhateverItSaw() throws {
        let x = TestData.uniform([300, 10], -6, 6), t = Tensor(shape: [300], values: (0..<300).map { Float($0 * 7 % 10) })
        defer { Parallel.setThreads(1) }
        var losses: [Float] = [], gradients: [[Float]] = []
        for threads in [1, 2] {
            Parallel.setThreads(threads)
            let fresh = try CrossEntropyCriterion().backward(x, t).scalars
            let ce = CrossEntropyCriterion()
            losses.append(try ce.forward(x, t))
            XCTAssertEqual(try ce.backward(x, t).scalars, fresh, "backward after forward, \(threads) thread(s)")
            gradients.append(fresh)
            // The same input changed in place after the forward pass: computed anew.
            let changed = x.clone()
            _ = try ce.forward(changed, t)
            changed.data[17] += 1
            XCTAssertEqual(try ce.backward(changed, t).scalars, try CrossEntropyCriterion().backward(changed, t).scalars)
        }
        XCTAssertEqual(losses[0].bitPattern, losses[1].bitPattern)
        XCTAssertEqual(gradients[0], gradients[1])
    }
}
