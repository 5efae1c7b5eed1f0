import XCTest
@testable import Kernels
@testable import Engine

/// The branch-free top-k kernels against their definitions: the k entries of largest |x|,
/// ties to the lower index; the one-pass reselection of a scored weight; the straight-through
/// gradient; NaN refused before anything is written.
final class TopMagnitudesTests: XCTestCase {
    /// Values with many ties, both signs and both zeros, infinities among them.
    private func tied(_ n: Int, seed: UInt64) -> [Float] {
        var rng = RandomGenerator(seed: seed)
        return (0..<n).map { _ in
            switch rng.next() % 12 {
            case 0: return 0
            case 1: return -0.0
            case 2: return .infinity
            case 3: return -.infinity
            default: return Float(Int(rng.next() % 7)) - 3 + (rng.next() % 2 == 0 ? 0 : 0.5)
            }
        }
    }

    /// The reference: indices sorted by |x| descending, then index ascending; the first k.
    private func expectedKept(_ x: [Float], _ k: Int) -> Set<Int> {
        Set(x.indices.sorted { (abs(x[$0]), -$0) > (abs(x[$1]), -$1) }.prefix(k))
    }

    func testTheMaskKeepsExactlyTheKLargestMagnitudesWithTiesToTheLowerIndex() {
        for n in [0, 1, 2, 7, 8, 9, 31, 64, 301] {
            let x = tied(n, seed: UInt64(n) + 1)
            for k in Set([0, 1, n / 3, n / 2, n - 1, n].filter { $0 >= 0 && $0 <= n }) {
                var mask = [Float](repeating: 7, count: n)
                let ok = x.withUnsafeBufferPointer { xp in
                    mask.withUnsafeMutableBufferPointer { TopMagnitudes.mask(xp.baseAddress!, count: n, keep: k, into: $0.baseAddress!) }
                }
                XCTAssertTrue(ok)
                XCTAssertEqual(Set(mask.indices.filter { mask[$0] == 1 }), expectedKept(x, k), "n \(n), k \(k)")
                XCTAssertTrue(mask.allSatisfy { $0 == 1 || ($0 == 0 && $0.sign == .plus) }, "n \(n), k \(k): 1 or +0 only")
            }
        }
    }

    func testLargeUniformScoresSelectLikeASort() {
        var rng = RandomGenerator(seed: 11)
        let n = 50_000
        let x = (0..<n).map { _ in Float(rng.uniform(-1, 1)) }
        for k in [1, 137, 25_000, 49_999] {
            var mask = [Float](repeating: 0, count: n)
            _ = x.withUnsafeBufferPointer { xp in
                mask.withUnsafeMutableBufferPointer { TopMagnitudes.mask(xp.baseAddress!, count: n, keep: k, into: $0.baseAddress!) }
            }
            XCTAssertEqual(Set(mask.indices.filter { mask[$0] == 1 }), expectedKept(x, k), "k \(k)")
        }
    }

    func testReselectionChoosesTheMaskAndKeepsEveryWeight() {
        var rng = RandomGenerator(seed: 5)
        for n in [1, 9, 64, 301] {
            let weights = (0..<n).map { _ in Float(rng.uniform(-2, 2)) }
            var mask = (0..<n).map { _ in Float(rng.next() % 2) }
            var stored = weights.indices.map { mask[$0] == 0 ? weights[$0] : 99 }   // meaningless where M = 1
            var effective = weights.indices.map { mask[$0] == 1 ? weights[$0] : 0 }
            for round in 0..<3 {
                let s = tied(n, seed: UInt64(10 * n + round))
                let k = (n * (round + 1)) / 4
                let ok = s.withUnsafeBufferPointer { sp in
                    TopMagnitudes.reselect(scores: sp.baseAddress!, count: n, keep: k, mask: &mask, effective: &effective, stored: &stored)
                }
                XCTAssertTrue(ok)
                let kept = expectedKept(s, k)
                for i in 0..<n {
                    XCTAssertEqual(mask[i], kept.contains(i) ? 1 : 0, "n \(n), round \(round), entry \(i)")
                    XCTAssertEqual(effective[i].bitPattern, kept.contains(i) ? weights[i].bitPattern : 0, "W ⊙ M, +0 under the mask")
                    XCTAssertEqual(stored[i], weights[i], "W kept everywhere")
                }
            }
        }
    }

    /// The Engine's split of the reselection across threads (a parameter large enough to be
    /// split) keeps the same entries as the definition, ties included, and every stored weight.
    func testTheThreadedReselectionOfAParameterMatchesTheDefinition() throws {
        let before = Parallel.threads
        defer { Parallel.setThreads(before) }
        Parallel.setThreads(2)
        let n = 40_003
        let p = Parameter(name: "weight", shape: [n])
        var rng = RandomGenerator(seed: 21)
        let w = (0..<n).map { _ in rng.uniform(-1, 1) }
        try p.setWeights(Tensor(shape: [n], values: w))
        for round in 0..<3 {
            let scores = tied(n, seed: UInt64(round + 70))
            try p.setScores(Tensor(shape: [n], values: scores), keeping: [0.3, 0.5, 0.77][round])
            try p.prepareForward(training: true)   // the reselection with a mask in place
            let k = p.keptCount!
            let expected = expectedKept(scores, k)
            XCTAssertEqual(Set((0..<n).filter { p.mask![$0] == 1 }), expected, "round \(round)")
            XCTAssertEqual(p.weights().scalars, w, "round \(round): W kept")
        }
    }

    func testANaNScoreChangesNothing() {
        var mask: [Float] = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
        var effective: [Float] = [1, 0, 3, 0, 5, 0, 7, 0, 9, 0]
        var stored: [Float] = [0, 2, 0, 4, 0, 6, 0, 8, 0, 10]
        let before = (mask, effective, stored)
        for k in [0, 4, 10] {
            var s: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1]
            s[9 - k % 10] = .nan
            let ok = s.withUnsafeBufferPointer { sp in
                TopMagnitudes.reselect(scores: sp.baseAddress!, count: 10, keep: k, mask: &mask, effective: &effective, stored: &stored)
            }
            XCTAssertFalse(ok, "keep \(k)")
            XCTAssertEqual(mask, before.0); XCTAssertEqual(effective, before.1); XCTAssertEqual(stored, before.2)
        }
        let t = Tensor(shape: [3]); t[1] = .nan
        XCTAssertThrowsError(try t.largestMagnitudeMask(keeping: 1, into: Tensor(shape: [3]))) {
            XCTAssertEqual(($0 as? EngineError)?.message, "score 2 is NaN")
        }
    }

    func testTheStraightThroughGradientIsTheProductWithTheScoresSign() {
        var rng = RandomGenerator(seed: 8)
        for n in [1, 8, 13, 100] {
            let g = (0..<n).map { _ in Float(rng.uniform(-1, 1)) }
            let w = (0..<n).map { _ in Float(rng.uniform(-1, 1)) }
            let m = (0..<n).map { _ in Float(rng.next() % 2) }
            let s = tied(n, seed: UInt64(n) + 40)
            let x = w.indices.map { m[$0] * w[$0] }, stored = w.indices.map { m[$0] == 0 ? w[$0] : -5 }
            var masked = [Float](repeating: 9, count: n), plain = masked
            TopMagnitudes.straightThroughGradient(gradient: g, effective: x, mask: m, stored: stored, scores: s, into: &masked, count: n)
            TopMagnitudes.straightThroughGradient(gradient: g, effective: w, mask: nil, stored: nil, scores: s, into: &plain, count: n)
            for i in 0..<n {
                let sign: Float = s[i] > 0 ? 1 : (s[i] < 0 ? -1 : 0)
                XCTAssertEqual(masked[i].bitPattern, sign == 0 ? 0 : (g[i] * w[i] * sign).bitPattern, "n \(n), entry \(i)")
                XCTAssertEqual(plain[i], g[i] * w[i] * sign)
            }
        }
    }

    /// The counting pass that also copies a guessed bucket: the same counts, the bucket's
    /// patterns in index order; the threshold from the copy equals the gathered one.
    func testTheCountingPassCopiesTheGuessedBucketAndGivesTheSameThreshold() {
        var rng = RandomGenerator(seed: 31)
        let n = 10_001
        let x = (0..<n).map { _ in Float(rng.uniform(-1, 1)) } + tied(300, seed: 3)
        let total = x.count
        x.withUnsafeBufferPointer { xp in
            var plain = [UInt32](repeating: 0, count: TopMagnitudes.digitCount)
            TopMagnitudes.countTopDigits(xp.baseAddress!, 0..<total, into: &plain)
            for k in [1, 2_500, 5_000, total - 1] {
                let (digit, _) = TopMagnitudes.bucket(ofRank: k, topDigits: plain)
                for guess in [digit, digit == 0 ? 1 : digit - 1] {
                    var counts = [UInt32](repeating: 0, count: TopMagnitudes.digitCount)
                    var copy = [UInt32](repeating: 0, count: total)
                    let c = TopMagnitudes.countTopDigits(xp.baseAddress!, 0..<total, into: &counts, copying: guess, into: &copy)
                    XCTAssertEqual(counts, plain)
                    let expected = x.map { $0.bitPattern & 0x7FFF_FFFF }.filter { $0 >> 20 == guess }
                    XCTAssertEqual(Array(copy[..<c]), expected, "k \(k)")
                    let gathered = TopMagnitudes.threshold(xp.baseAddress!, count: total, keep: k, topDigits: plain)
                    let fromCopy = copy.withUnsafeBufferPointer { cp in
                        TopMagnitudes.threshold(xp.baseAddress!, count: total, keep: k, topDigits: plain) { d in
                            d == guess ? UnsafeBufferPointer(rebasing: cp[..<c]) : nil
                        }
                    }
                    XCTAssertEqual(fromCopy, gathered, "k \(k), guess \(guess)")
                    let kth = x.map { abs($0).bitPattern }.sorted(by: >)[k - 1]
                    XCTAssertEqual(gathered, kth, "k \(k): the k-th largest magnitude")
                }
            }
        }
    }

    /// The count around a window of the top 22 bits against its definition.
    func testTheCountAroundAWindowCountsAboveAndWithinAndCopiesTheWindow() {
        var rng = RandomGenerator(seed: 41)
        let x = (0..<5_000).map { _ in Float(rng.uniform(-1, 1)) } + tied(200, seed: 9) + [.nan]
        let q = x.map { ($0.bitPattern & 0x7FFF_FFFF) >> 9 }
        for (lo, hi) in [(UInt32(0), UInt32(0)), (0x1F_8000, 0x1F_8100), (0x1F_C000, 0x3F_FFFF)] {
            for range in [0..<5_000, 1_000..<5_201] {
                var copy = [UInt32](repeating: 0, count: range.count)
                let r = x.withUnsafeBufferPointer { TopMagnitudes.countAround($0.baseAddress!, range, window: lo, hi, into: &copy) }
                XCTAssertEqual(r.above, range.filter { q[$0] > hi }.count)
                XCTAssertEqual(r.within, range.filter { q[$0] >= lo && q[$0] <= hi }.count)
                XCTAssertEqual(Array(copy[..<r.within]), range.filter { q[$0] >= lo && q[$0] <= hi }.map { x[$0].bitPattern & 0x7FFF_FFFF })
                XCTAssertEqual(r.nan, range.contains(5_200))
            }
        }
    }

    /// Scores that move a little between selections, as in training: the window around the
    /// last threshold decides most of them, and every mask is the definition's, on 1 and 2 threads.
    func testSelectionsAroundTheLastThresholdKeepTheDefinitionsEntries() throws {
        let before = Parallel.threads
        defer { Parallel.setThreads(before) }
        for threads in [1, 2] {
            Parallel.setThreads(threads)
            let n = 40_000
            let p = Parameter(name: "weight", shape: [n])
            var rng = RandomGenerator(seed: 51)
            var s = (0..<n).map { _ in Float(rng.uniform(-1, 1)) }
            try p.setScores(Tensor(shape: [n], values: s), keeping: 0.4)
            for round in 0..<6 {
                for i in 0..<n { s[i] = s[i] * 0.9999 + Float(rng.uniform(-1e-4, 1e-4)) }
                if round == 3 { for i in 0..<100 { s[i] = s[200 + i] } }   // ties
                p.scores!.value.copy(from: Tensor(shape: [n], values: s))
                try p.prepareForward(training: true)
                XCTAssertEqual(Set((0..<n).filter { p.mask![$0] == 1 }), expectedKept(s, p.keptCount!), "threads \(threads), round \(round)")
            }
            XCTAssertGreaterThan(p.selection.windowHits, 2, "threads \(threads)")
        }
    }
}
