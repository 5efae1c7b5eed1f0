import XCTest
@testable import Engine

/// The option accumulate=batch (Molchanov et al. 2019) of taylor1, taylor12, emp and emp-naive:
/// the mean over the scoring batches of each batch's squared loss change, against the
/// definition computed batch by batch on tiny nets (batches of 6, 6 and 4 examples, so the
/// short last batch's mean counts as one batch).
final class PrunerAccumulationTests: XCTestCase {
    override func tearDown() { Parallel.setThreads(1) }

    private let batchSize = 6

    private func settings(_ data: Dataset, accumulate: String?, rank: String? = nil, batchSize: Int? = nil) throws -> PruningSettings {
        var o = PrunerOptions()
        if let accumulate { try o.set("accumulate", accumulate) }
        if let rank { try o.set("rank", rank) }
        return PruningSettings(scoringSet: data, batchSize: batchSize ?? self.batchSize, seed: 3, options: o)
    }

    /// The scoring set's batches, in order, as data sets of their own.
    private func batches(_ data: Dataset) -> [Dataset] {
        stride(from: 0, to: data.count, by: batchSize).map { start in
            let end = Swift.min(start + batchSize, data.count)
            return data.prefix(end).suffix(end - start)
        }
    }

    /// (1/B) Σ_b x_b(i)², the definition given each batch's change x_b.
    private func meanOfSquares(_ perBatch: [[Double]]) -> [Double] {
        (0..<perBatch[0].count).map { i in perBatch.reduce(0) { $0 + $1[i] * $1[i] } / Double(perBatch.count) }
    }

    private func assertNormwiseClose(_ a: Tensor, _ b: [Double], rtol: Double, _ what: String,
                                     file: StaticString = #filePath, line: UInt = #line) {
        let largest = b.map { Swift.abs($0) }.max() ?? 0
        XCTAssertGreaterThan(largest, 1e-6, "\(what): scores too small to test anything", file: file, line: line)
        let error = zip(a.scalars, b).map { Swift.abs(Double($0) - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(error, rtol * largest, what, file: file, line: line)
    }

    private func pruned(_ mask: Tensor) -> Set<Int> { Set((0..<mask.count).filter { mask[$0] == 0 }) }

    /// The indices from the lowest value up, ties by index: the order of pruning.
    private func order(_ v: [Double]) -> [Int] { v.indices.sorted { v[$0] != v[$1] ? v[$0] < v[$1] : $0 < $1 } }

    private func lowest(_ v: [Double], _ k: Int) -> Set<Int> { Set(order(v).prefix(k)) }

    func testTheOptionTakesItsTwoNamesAndRefusesARank() throws {
        var o = PrunerOptions()
        XCTAssertEqual(o.accumulation, .set)
        XCTAssertFalse(try o.accumulatesBatches(for: "emp"))
        try o.set("accumulate", "batch")
        XCTAssertTrue(try o.accumulatesBatches(for: "emp"))
        XCTAssertThrowsError(try o.set("accumulate", "example")) { e in
            XCTAssertTrue("\(e)".contains("set, batch"), "\(e)")
        }
        XCTAssertTrue(PrunerOptions.names.contains("accumulate"))
        let data = PrunerFixtures.data(16, size: 4, classes: 3)
        for pruner in [Taylor1Pruner(), Taylor12Pruner(), EmpiricalPruner(), EmpiricalNaivePruner()] as [Pruner] {
            XCTAssertThrowsError(try Pruning.scores(model: try PrunerFixtures.mlp(), layer: 2, pruner: pruner,
                                                    settings: settings(data, accumulate: "batch", rank: "abs"))) { e in
                XCTAssertTrue("\(e)".contains(pruner.name) && "\(e)".contains("rank=abs"), "\(e)")
            }
        }
    }

    /// taylor1: (1/B) Σ_b (g_b w)², g_b the gradient of batch b's mean loss alone; taylor12:
    /// (1/B) Σ_b (−g_b w + ½ h w²)², h the Hessian diagonal of the whole set. Both in the set's
    /// order, on 1 and 2 threads, and the 40% mask prunes the lowest.
    func testTaylorScoresAreTheMeanSquaredBatchEstimate() throws {
        let data = PrunerFixtures.data(16, size: 4, classes: 3)
        let model = try PrunerFixtures.mlp()
        PrunerFixtures.widen(model, seed: 11)
        let layer = 2
        let w = try Pruning.weight(of: model, layer: layer).value
        let h = try PruningContext(model: model, layer: layer, settings: settings(data, accumulate: nil)).hessianDiagonal()
        let gradients = try batches(data).map { b in
            try PruningContext(model: model, layer: layer, settings: settings(b, accumulate: nil, batchSize: 100)).gradient()
        }
        let first = meanOfSquares(gradients.map { g in (0..<w.count).map { -Double(g[$0]) * Double(w[$0]) } })
        let second = meanOfSquares(gradients.map { g in
            (0..<w.count).map { -Double(g[$0]) * Double(w[$0]) + 0.5 * Double(h[$0]) * Double(w[$0]) * Double(w[$0]) }
        })
        let k = Int((0.4 * Double(w.count)).rounded())
        XCTAssertNotEqual(order(first), order(second), "the curvature term changes the order here")
        for threads in [1, 2] {
            Parallel.setThreads(threads)
            for (pruner, expected) in [(Taylor1Pruner() as Pruner, first), (Taylor12Pruner(), second)] {
                let s = try Pruning.scores(model: model, layer: layer, pruner: pruner, settings: settings(data, accumulate: "batch"))
                assertNormwiseClose(s, expected, rtol: 1e-5, "\(pruner.name), \(threads) thread(s)")
                let m = try PrunerFixtures.mlp()
                PrunerFixtures.widen(m, seed: 11)
                let r = try Pruning.prune(model: m, layer: layer, fraction: 0.4, pruner: pruner, settings: settings(data, accumulate: "batch"))
                XCTAssertEqual(pruned(r.mask), lowest(expected, k), pruner.name)
            }
        }
    }

    /// emp and emp-naive: (1/B) Σ_b ΔL_b², ΔL_b = L_b(W with W_i = 0) − L_b(W) by the
    /// double-precision reference on each batch; on the MLP's hidden layer and the small
    /// LeNet's convolution, with weights already pruned (they score 0 and stay pruned).
    func testEmpScoresAreTheMeanSquaredExactBatchChange() throws {
        let cases: [(String, Sequential, Int, Dataset)] = [
            ("mlp", try PrunerFixtures.mlp(), 2, PrunerFixtures.data(16, size: 4, classes: 3)),
            ("miniLeNet", try PrunerFixtures.miniLeNet(), 1, PrunerFixtures.data(16, size: 10, classes: 4)),
        ]
        for (name, model, layer, data) in cases {
            PrunerFixtures.widen(model, seed: 11)
            _ = try Pruning.prune(model: model, layer: layer, fraction: 0.2, pruner: MagnitudePruner())
            let w = try Pruning.weight(of: model, layer: layer).value
            let perBatch = try batches(data).map { b -> [Double] in
                let base = try PrunerFixtures.exactLoss(model, b)
                return try (0..<w.count).map { i in
                    let saved = w[i]
                    guard saved != 0 else { return 0 }
                    w[i] = 0
                    defer { w[i] = saved }
                    return try PrunerFixtures.exactLoss(model, b) - base
                }
            }
            let expected = meanOfSquares(perBatch)
            for threads in [1, 2] {
                Parallel.setThreads(threads)
                for pruner in [EmpiricalPruner(), EmpiricalNaivePruner()] as [Pruner] {
                    let s = try Pruning.scores(model: model, layer: layer, pruner: pruner, settings: settings(data, accumulate: "batch"))
                    assertNormwiseClose(s, expected, rtol: 1e-4, "\(name) \(pruner.name), \(threads) thread(s)")
                }
            }
            let set = try Pruning.scores(model: model, layer: layer, pruner: EmpiricalPruner(), settings: settings(data, accumulate: nil))
            let setSquares = set.scalars.map { Double($0) * Double($0) }
            let k = Int((0.6 * Double(w.count)).rounded())
            let before = pruned(try Pruning.mask(of: model, layer: layer)!)
            XCTAssertNotEqual(order(setSquares), order(expected), "\(name): the batches' squares order otherwise than the set's squared change")
            let r = try Pruning.prune(model: model, layer: layer, fraction: 0.6, pruner: EmpiricalPruner(), settings: settings(data, accumulate: "batch"))
            let candidates = order(expected).filter { !before.contains($0) }
            XCTAssertEqual(pruned(r.mask), before.union(candidates.prefix(k - before.count)), name)
        }
    }
}
