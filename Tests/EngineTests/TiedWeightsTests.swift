import Engine
import XCTest

/// `TiedWeights.sumGradients` against its definition: G_b = Σ_{h(i)=b} g_i (÷ n_b), + λ·sign(θ_b),
/// then g_i = G_{h(i)}; and the map's checks.
final class TiedWeightsTests: XCTestCase {
    func testEveryPositionGetsItsValuesSum() throws {
        let h = [0, 1, 0, 2, 1, 0]
        let t = try TiedWeights(buckets: h, values: 3)
        XCTAssertEqual(t.counts, [3, 2, 1])
        let g = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let w = Tensor(shape: [2, 3], values: [0.5, -2, 0.5, 0, -2, 0.5])
        try t.sumGradients(g, weight: w, rescale: false, l1: 0)
        XCTAssertEqual(g.scalars, [10, 7, 10, 4, 7, 10])   // 1+3+6, 2+5, 4

        let h2 = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        try t.sumGradients(h2, weight: w, rescale: true, l1: 0.5)
        // (1+3+6)/3 + 0.5·sign(0.5), (2+5)/2 + 0.5·sign(-2), 4/1 + 0.5·sign(0)
        let first: Float = 10 / 3 + 0.5, second: Float = 3.5 - 0.5, third: Float = 4
        XCTAssertEqual(h2.scalars, [first, second, first, third, second, first])
    }

    func testTheSumsRunInPositionOrder() throws {
        // 1e8 + 1 - 1e8 in float: position order gives 0, another order could give 1
        let t = try TiedWeights(buckets: [0, 0, 0], values: 1)
        let g = Tensor(shape: [3], values: [1e8, 1, -1e8])
        try t.sumGradients(g, weight: Tensor(shape: [3], values: [1, 1, 1]), rescale: false, l1: 0)
        var sum: Float = 0
        for x: Float in [1e8, 1, -1e8] { sum += x }
        XCTAssertEqual(sum, 0, "float rounding loses the 1")
        XCTAssertEqual(g.scalars, [sum, sum, sum])
    }

    /// A random map of 20,000 positions onto 397 values, with the L1 term read at each value's
    /// last position: the bits of the scatter-add in position order, on 1 and 2 threads.
    func testLargeMapsGiveTheScatterAddsBitsOnAnyThreadCount() throws {
        let before = Parallel.threads
        defer { Parallel.setThreads(before) }
        var rng = RandomGenerator(seed: 21)
        let n = 20_000, values = 397
        var h = (0..<n).map { _ in Int(rng.next() % UInt64(values)) }
        for b in 0..<values { h[b] = b }   // every value used
        let g0 = (0..<n).map { _ in Float(rng.uniform(-1, 1)) }
        var w = (0..<n).map { _ in Float(rng.uniform(-1, 1)) }
        w[n - 1] = 0
        for rescale in [false, true] {
            var s = [Float](repeating: 0, count: values), last = [Int](repeating: 0, count: values), c = [Float](repeating: 0, count: values)
            for i in 0..<n { s[h[i]] += g0[i]; last[h[i]] = i; c[h[i]] += 1 }
            for b in 0..<values {
                if rescale { s[b] /= c[b] }
                let v = w[last[b]]
                s[b] += 0.25 * (v > 0 ? 1 : v < 0 ? -1 : 0)
            }
            let expected = h.map { s[$0].bitPattern }
            for threads in [1, 2] {
                Parallel.setThreads(threads)
                let t = try TiedWeights(buckets: h, values: values)
                let g = Tensor(shape: [n], values: g0)
                try t.sumGradients(g, weight: Tensor(shape: [n], values: w), rescale: rescale, l1: 0.25)
                XCTAssertEqual(g.scalars.map(\.bitPattern), expected, "rescale \(rescale), \(threads) thread(s)")
            }
        }
    }

    func testBadMapsAndShapesAreRefused() throws {
        XCTAssertThrowsError(try TiedWeights(buckets: [0, 3], values: 2))
        XCTAssertThrowsError(try TiedWeights(buckets: [0, 0], values: 2))   // value 2 has no position
        XCTAssertThrowsError(try TiedWeights(buckets: [], values: 0))
        let t = try TiedWeights(buckets: [0, 1], values: 2)
        XCTAssertThrowsError(try t.sumGradients(Tensor(shape: [3]), weight: Tensor(shape: [2]), rescale: false, l1: 0))
    }
}
