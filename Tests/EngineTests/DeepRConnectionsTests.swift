@testable import Engine
import XCTest

/// `DeepRConnections` against its definition on a tiny weight (8 entries, 3 active), with
/// the draws replayed from a copy of the generator; and the generator's state round trip
/// (what --resume relies on).
final class DeepRConnectionsTests: XCTestCase {
    /// W = (0.5, 0, -0.25, 0, 0, 0.75, 0, 0) with M = 1 at positions 0, 2, 5.
    private func weight() throws -> Parameter {
        let p = Parameter(name: "weight", shape: [2, 4])
        for (i, x) in [Float(0.5), 0, -0.25, 0, 0, 0.75, 0, 0].enumerated() { p.value.data[i] = x }
        try p.setMask(Tensor(shape: [2, 4], values: [1, 0, 1, 0, 0, 1, 0, 0]))
        return p
    }

    func testTheNoiseIsSigmaTimesOneNormalPerActiveEntryInOrder() throws {
        let p = try weight()
        for i in 0..<8 { p.grad.data[i] = Float(i) }
        let d = try DeepRConnections(parameter: p, active: [5, 0, 2])
        var rng = RandomGenerator(seed: 7), replay = rng
        d.addNoise(std: 0.5, &rng)
        var expected: [Float] = (0..<8).map(Float.init)
        for a in [5, 0, 2] { expected[a] += replay.zigguratNormal() * 0.5 }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: p.grad.data, count: 8)), expected)
        XCTAssertEqual(rng.next(), replay.next(), "one ziggurat normal per active entry")
    }

    /// 6,000 active entries of 300,000: 1 and 2 threads give the bits of one zigguratNormal()
    /// per entry in A's order, and use the same draws.
    func testTheNoiseHasTheSameBitsOnAnyThreadCount() throws {
        let before = Parallel.threads
        defer { Parallel.setThreads(before) }
        let mask = Tensor(shape: [300, 1000])
        for i in stride(from: 7, to: mask.count, by: 50) { mask.data[i] = 1 }
        let p = Parameter(name: "weight", shape: [300, 1000])
        try p.setMask(mask)
        var outputs: [[UInt32]] = []
        for threads in [1, 2] {
            Parallel.setThreads(threads)
            p.grad.zero()
            let d = try DeepRConnections(parameter: p)
            var rng = RandomGenerator(seed: 8), replay = rng
            d.addNoise(std: 0.25, &rng)
            var wrong = 0
            for a in d.active where p.grad.data[a] != replay.zigguratNormal() * 0.25 { wrong += 1 }
            XCTAssertEqual(wrong, 0, "\(threads) thread(s): entries unlike one zigguratNormal() each in order")
            XCTAssertEqual(rng.next(), replay.next(), "the same draws")
            outputs.append(p.grad.scalars.map(\.bitPattern))
        }
        XCTAssertEqual(outputs[0], outputs[1])
    }

    func testAFlippedSignMovesTheConnectionToAFreePositionDrawnUniformly() throws {
        let p = try weight()
        let d = try DeepRConnections(parameter: p)
        XCTAssertEqual(d.active, [0, 2, 5])
        var rng = RandomGenerator(seed: 3)
        var step = try d.rewire(optimizer: nil, newWeightStd: nil, &rng)
        XCTAssertEqual(step, .init(moved: 0, prunedJustGrown: nil, grownBefore: nil), "no sign changed")
        // the step flips position 2 (−0.25 → 0.1) and leaves 0 and 5
        p.value.data[2] = 0.1
        var replay = rng
        step = try d.rewire(optimizer: nil, newWeightStd: nil, &rng)
        XCTAssertEqual(step, .init(moved: 1, prunedJustGrown: 0, grownBefore: 0))
        // 5 of 8 free, neither < n/2 nor < 4k: by rejection, one batch of 2·1 + 8 uniforms,
        // the first inactive position ⌊u·8⌋ kept.
        let u = (0..<10).map { _ in replay.uniform(0, 1) }
        let grown = try XCTUnwrap(u.map { min(Int(Double($0) * 8), 7) }.first { [1, 3, 4, 6, 7].contains($0) })
        XCTAssertEqual(d.active, [0, grown, 5], "the flipped entry's place in A takes the grown position")
        XCTAssertEqual(p.mask!.data[2], 0)
        XCTAssertEqual(p.value.data[2], 0, "deactivated weights are 0")
        XCTAssertEqual(p.mask!.data[grown], 1)
        XCTAssertEqual(p.value.data[grown], 0, "grown at 0")
        XCTAssertEqual((0..<8).map { p.mask!.data[$0] }.reduce(0, +), 3, "the count is kept")
        XCTAssertEqual(rng.next(), replay.next(), "exactly one batch of uniforms drawn")
        // the grown weight has sign 0: it cannot flip at the next step; a sign change of 5 can
        p.value.data[5] = -1
        step = try d.rewire(optimizer: nil, newWeightStd: 2, &rng)
        XCTAssertEqual(step.moved, 1)
        XCTAssertEqual(step.prunedJustGrown, 0, "position 5 was not the one grown before")
        XCTAssertEqual(step.grownBefore, 1)
        XCTAssertFalse(d.active.contains(5))
        XCTAssertNotEqual(p.value.data[d.active[2]], 0, "--big-new-weights: grown from N(0, std²)")
    }

    func testAMostlyActiveWeightDrawsFromAPermutationOfItsFreePositions() throws {
        let p = Parameter(name: "weight", shape: [4])
        for (i, x) in [Float(1), 2, -3, 0].enumerated() { p.value.data[i] = x }
        try p.setMask(Tensor(shape: [4], values: [1, 1, 1, 0]))
        let d = try DeepRConnections(parameter: p)
        p.value.data[0] = -1
        var rng = RandomGenerator(seed: 1)
        var replay = rng
        _ = try d.rewire(optimizer: nil, newWeightStd: nil, &rng)
        XCTAssertEqual(replay.permutation(1), [0])
        XCTAssertEqual(d.active, [3, 1, 2], "the only free position")
        XCTAssertEqual(rng.next(), replay.next())
    }

    func testSavedPositionsMustBeTheMasksActiveEntries() throws {
        let p = try weight()
        XCTAssertThrowsError(try DeepRConnections(parameter: p, active: [0, 1, 5]))
        XCTAssertThrowsError(try DeepRConnections(parameter: Parameter(name: "weight", shape: [3])), "no mask")
    }

    func testAGeneratorStateContinuesItsStream() throws {
        var g = RandomGenerator(seed: 11)
        _ = g.next()
        var h = try RandomGenerator(stateText: g.stateText)
        XCTAssertEqual(g.stateText.count, 64)
        XCTAssertEqual((0..<5).map { _ in g.next() }, (0..<5).map { _ in h.next() })
        XCTAssertThrowsError(try RandomGenerator(stateText: "xyz"))
        XCTAssertThrowsError(try RandomGenerator(state: [0, 0, 0, 0]))
    }
}
