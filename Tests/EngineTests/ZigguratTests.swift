@testable import Engine
import Foundation
import XCTest

/// `RandomGenerator.zigguratNormal` against the standard normal distribution: its strips'
/// tables against their definition, and 400,000 draws against Φ (Kolmogorov-Smirnov), the
/// moments and the tail beyond the base strip's r (where the slow paths run).
final class ZigguratTests: XCTestCase {
    /// Each strip i ≥ 2 has area v: x_i · (f(x_{i−1}) − f(x_i)) with x_i = w_i·2³¹, the x_i
    /// rising to x_127 = r; the base's rectangle is v too, and k_i = 2³¹·x_{i−1}/x_i.
    func testTheStripsHaveEqualAreas() {
        let t = Ziggurat.tables, m = 2147483648.0
        XCTAssertEqual(t.w[127] * m, Ziggurat.r, accuracy: 1e-12)
        XCTAssertEqual(t.w[0] * m * exp(-0.5 * Ziggurat.r * Ziggurat.r), Ziggurat.v, accuracy: 1e-15, "the base")
        XCTAssertEqual(t.k[1], 0)
        for i in 2...127 {
            let x = t.w[i] * m
            XCTAssertGreaterThan(t.w[i], t.w[i - 1], "x_\(i) rises")
            XCTAssertEqual(x * (t.f[i - 1] - t.f[i]), Ziggurat.v, accuracy: 1e-9, "strip \(i)")
            XCTAssertEqual(t.f[i], exp(-0.5 * x * x), accuracy: 1e-15)
            XCTAssertEqual(Double(t.k[i]), (t.w[i - 1] / t.w[i] * m).rounded(.down), accuracy: 1)
        }
        XCTAssertEqual(t.w[1] * m * (1 - t.f[1]), Ziggurat.v, accuracy: 1e-3, "the top strip, about v")
    }

    func testDrawsFollowTheStandardNormal() {
        var g = RandomGenerator(seed: 42)
        let n = 400_000
        var x = (0..<n).map { _ in Double(g.zigguratNormal()) }
        let mean = x.reduce(0, +) / Double(n)
        let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)
        let fourth = x.map { pow($0 - mean, 4) }.reduce(0, +) / Double(n) / (variance * variance)
        XCTAssertEqual(mean, 0, accuracy: 5 / sqrt(Double(n)), "mean (5 standard errors)")
        XCTAssertEqual(variance, 1, accuracy: 5 * sqrt(2 / Double(n)), "variance")
        XCTAssertEqual(fourth, 3, accuracy: 0.05, "kurtosis")
        // P(|X| > r) = erfc(r/√2) = 5.7e-4: ~230 draws through the tail
        let tail = x.filter { abs($0) > Ziggurat.r }.count
        let expected = Double(n) * erfc(Ziggurat.r / 2.squareRoot())
        XCTAssertEqual(Double(tail), expected, accuracy: 5 * expected.squareRoot(), "the tail beyond r")
        XCTAssertEqual(x.filter { $0 > Ziggurat.r }.count, x.filter { $0 < -Ziggurat.r }.count, accuracy: 60, "both tails")
        // Kolmogorov-Smirnov: sup |F_n − Φ| < 1.95/√n (the 0.1% critical value)
        x.sort()
        var d = 0.0
        for (i, v) in x.enumerated() {
            let phi = 0.5 * erfc(-v / 2.squareRoot())
            d = max(d, abs(Double(i + 1) / Double(n) - phi), abs(phi - Double(i) / Double(n)))
        }
        XCTAssertLessThan(d, 1.95 / sqrt(Double(n)), "Kolmogorov-Smirnov distance")
    }

    func testTheSameSeedGivesTheSameBits() {
        var a = RandomGenerator(seed: 3), b = RandomGenerator(seed: 3), c = RandomGenerator(seed: 4)
        let x = (0..<1000).map { _ in a.zigguratNormal().bitPattern }
        XCTAssertEqual(x, (0..<1000).map { _ in b.zigguratNormal().bitPattern })
        XCTAssertNotEqual(x, (0..<1000).map { _ in c.zigguratNormal().bitPattern })
    }
}
