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

    func testBadMapsAndShapesAreRefused() throws {
        XCTAssertThrowsError(try TiedWeights(buckets: [0, 3], values: 2))
        XCTAssertThrowsError(try TiedWeights(buckets: [0, 0], values: 2))   // value 2 has no position
        XCTAssertThrowsError(try TiedWeights(buckets: [], values: 0))
        let t = try TiedWeights(buckets: [0, 1], values: 2)
        XCTAssertThrowsError(try t.sumGradients(Tensor(shape: [3]), weight: Tensor(shape: [2]), rescale: false, l1: 0))
    }
}
