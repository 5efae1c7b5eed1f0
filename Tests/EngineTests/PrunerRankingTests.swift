import XCTest
@testable import Engine

/// The option `rank` (signed, abs, square) of emp, emp-naive, taylor12, l1 and l2, and global
/// pruning with per-layer caps, on tiny nets against hand-computed rankings.
final class PrunerRankingTests: XCTestCase {
    private func settings(_ data: Dataset, rank: String?, lr: Float = 0.01, lambda: Float = 1e-4) throws -> PruningSettings {
        var o = PrunerOptions()
        if let rank { try o.set("rank", rank) }
        o.scaleLearningRate = lr
        o.scalePenalty = lambda
        o.scaleMomentum = 0
        o.scaleEpochs = 1
        return PruningSettings(scoringSet: data, batchSize: 16, seed: 3, options: o)
    }

    /// The k weights a ranking prunes: the lowest values, ties by index.
    private func lowest(_ v: [Float], _ k: Int) -> Set<Int> {
        Set(v.indices.sorted { v[$0] != v[$1] ? v[$0] < v[$1] : $0 < $1 }.prefix(k))
    }

    private func pruned(_ mask: Tensor) -> Set<Int> { Set((0..<mask.count).filter { mask[$0] == 0 }) }

    func testTheOptionTakesItsThreeNamesOnly() throws {
        var o = PrunerOptions()
        XCTAssertNil(o.ranking)
        for r in ScoreRanking.allCases {
            try o.set("rank", r.rawValue)
            XCTAssertEqual(o.ranking, r)
        }
        XCTAssertThrowsError(try o.set("rank", "magnitude")) { e in
            XCTAssertTrue("\(e)".contains("signed, abs, square"), "\(e)")
        }
        XCTAssertTrue(PrunerOptions.names.contains("rank"))
    }

    /// emp and emp-naive: signed ΔL by default; abs and square are |ΔL| and ΔL², and a 40% mask
    /// prunes the lowest of each: signed the most negative changes first, abs and square the
    /// changes closest to 0 — the same set for both, another than signed's.
    func testEmpRanksTheSignedAbsoluteOrSquaredLossChange() throws {
        let data = PrunerFixtures.data(16, size: 4, classes: 3)
        for pruner in [EmpiricalPruner(), EmpiricalNaivePruner()] as [Pruner] {
            let model = try PrunerFixtures.mlp()
            let byDefault = try Pruning.scores(model: model, layer: 4, pruner: pruner, settings: settings(data, rank: nil)).scalars
            let signed = try Pruning.scores(model: model, layer: 4, pruner: pruner, settings: settings(data, rank: "signed")).scalars
            let abs = try Pruning.scores(model: model, layer: 4, pruner: pruner, settings: settings(data, rank: "abs")).scalars
            let square = try Pruning.scores(model: model, layer: 4, pruner: pruner, settings: settings(data, rank: "square")).scalars
            XCTAssertEqual(byDefault, signed, pruner.name)
            XCTAssertTrue(signed.contains { $0 < 0 } && signed.contains { $0 > 0 }, "\(pruner.name): both signs, so the orders differ")
            for i in signed.indices {
                XCTAssertEqual(abs[i], Swift.abs(signed[i]), pruner.name)
                XCTAssertEqual(square[i], signed[i] * signed[i], pruner.name)
            }
            let k = 12   // round(0.4 · 30)
            var masks = [String: Set<Int>]()
            for rank in ["signed", "abs", "square"] {
                let m = try PrunerFixtures.mlp()
                let r = try Pruning.prune(model: m, layer: 4, fraction: 0.4, pruner: pruner, settings: settings(data, rank: rank))
                masks[rank] = pruned(r.mask)
            }
            XCTAssertEqual(masks["signed"], lowest(signed, k), pruner.name)
            XCTAssertEqual(masks["abs"], lowest(signed.map(Swift.abs), k), pruner.name)
            XCTAssertEqual(masks["square"], masks["abs"], "\(pruner.name): x² orders as |x| within a layer")
            XCTAssertNotEqual(masks["signed"], masks["abs"], pruner.name)
        }
    }

    /// taylor12: ΔL ≈ −g w + ½ h w²; abs (the default, as before the option) |ΔL|, signed ΔL, square ΔL².
    func testTaylor12RanksItsEstimateAbsoluteByDefault() throws {
        let data = PrunerFixtures.data(16, size: 4, classes: 3)
        let model = try PrunerFixtures.mlp()
        let context = try PruningContext(model: model, layer: 2, settings: settings(data, rank: nil))
        let g = try context.gradient(), h = try context.hessianDiagonal(), w = context.weight.value
        let estimate = (0..<w.count).map { -g[$0] * w[$0] + 0.5 * h[$0] * w[$0] * w[$0] }
        func scores(_ rank: String?) throws -> [Float] {
            try Pruning.scores(model: model, layer: 2, pruner: Taylor12Pruner(), settings: settings(data, rank: rank)).scalars
        }
        let byDefault = try scores(nil), signed = try scores("signed"), square = try scores("square")
        for i in estimate.indices {
            XCTAssertEqual(byDefault[i], Swift.abs(estimate[i]), accuracy: 1e-7)
            XCTAssertEqual(signed[i], estimate[i], accuracy: 1e-7)
            XCTAssertEqual(square[i], estimate[i] * estimate[i], accuracy: 1e-9)
        }
    }

    /// l1/l2 after one step without momentum: s = 1 − lr (g w + penalty′(1)), and the penalty
    /// alone gives s₀ = 1 − lr penalty′(1); signed ranks |s| (as before the option), abs
    /// |s − s₀| = lr |g w|, square (s − s₀)².
    func testLearnedScalesRankTheScaleOrItsMovement() throws {
        let data = PrunerFixtures.data(16, size: 4, classes: 3)
        let model = try PrunerFixtures.mlp()
        let context = try PruningContext(model: model, layer: 4, settings: settings(data, rank: nil, lr: 0.5, lambda: 0.01))
        let g = try context.gradient(), w = context.weight.value
        for (penalty, drift) in [(LearnedScalePruner.Penalty.l1, Float(0.01)), (.l2, 0.02)] {
            let moved = (0..<w.count).map { -0.5 * g[$0] * w[$0] }
            func scores(_ rank: String?) throws -> [Float] {
                try Pruning.scores(model: model, layer: 4, pruner: LearnedScalePruner(penalty),
                                   settings: settings(data, rank: rank, lr: 0.5, lambda: 0.01)).scalars
            }
            let byDefault = try scores(nil), abs = try scores("abs"), square = try scores("square")
            for i in moved.indices {
                XCTAssertEqual(byDefault[i], Swift.abs(1 + moved[i] - 0.5 * drift), accuracy: 1e-6)
                XCTAssertEqual(abs[i], Swift.abs(moved[i]), accuracy: 1e-6)
                XCTAssertEqual(square[i], moved[i] * moved[i], accuracy: 1e-6)
            }
        }
    }

    /// Global mode with caps, on hand-set weights: one ranking of |w| over both layers, a capped
    /// layer passed over once full; with mean normalisation each layer's |w| / mean |w|.
    func testGlobalSelectionWithCapsFollowsTheHandComputedRanking() throws {
        let model = Sequential([Linear(3, 2), Tanh(), Linear(2, 2)])
        let a: [Float] = [0.1, -1.5, 0.3, 0.05, 2.0, -0.2]      // layer 1, mean |w| 0.6917
        let b: [Float] = [0.04, 0.6, -0.15, 0.25]               // layer 3, mean |w| 0.26
        try Pruning.weight(of: model, layer: 1).setWeights(Tensor(shape: [2, 3], values: a))
        try Pruning.weight(of: model, layer: 3).setWeights(Tensor(shape: [2, 2], values: b))
        func run(_ fraction: Double, caps: [Double]?, _ how: ScoreNormalization) throws -> [Set<Int>] {
            let m = try model.deepCopy() as! Sequential
            let r = try Pruning.pruneGlobally(model: m, layers: [1, 3], fraction: fraction, pruner: MagnitudePruner(),
                                              normalization: how, caps: caps)
            return r.layers.map { pruned($0.mask) }
        }
        // 10 weights, 50%: the 5 smallest |w|: b0 0.04, a3 0.05, a0 0.1, b2 0.15, a5 0.2.
        XCTAssertEqual(try run(0.5, caps: nil, .none), [[3, 0, 5], [0, 2]])
        // Layer 3 capped at 25% (1 weight): b0 only; the next in line from layer 1, a2 0.3.
        XCTAssertEqual(try run(0.5, caps: [1, 0.25], .none), [[3, 0, 5, 2], [0]])
        // Caps that leave too few: layer 1 at most 50% (3), layer 3 at most 25% (1): 4 of 5.
        XCTAssertEqual(try run(0.5, caps: [0.5, 0.25], .none), [[3, 0, 5], [0]])
        // mean: a/0.6917 = .145 2.17 .434 .072 2.89 .289; b/0.26 = .154 2.31 .577 .962: a3 .072,
        // a0 .145, b0 .154, a5 .289, a2 .434 (then b2 .577).
        XCTAssertEqual(try run(0.5, caps: nil, .mean), [[3, 0, 5, 2], [0]])
        XCTAssertEqual(try run(0.3, caps: nil, .mean), [[3, 0], [0]])
        XCTAssertThrowsError(try run(0.5, caps: [1], .none))
        XCTAssertThrowsError(try run(0.5, caps: [1, 1.5], .none))
    }
}
