import XCTest
@testable import Engine

/// Applying pruners: exact fractions, no revival, global mode, statistics, registry, options.
final class PrunerApplyTests: XCTestCase {
    private func settings(_ data: Dataset, seed: UInt64 = 1) -> PruningSettings {
        PruningSettings(scoringSet: data, batchSize: 6, seed: seed)
    }

    private func prunedSet(_ model: Sequential, _ layer: Int) throws -> Set<Int> {
        let w = try Pruning.weight(of: model, layer: layer)
        return Set((0..<w.value.count).filter { w.mask![$0] == 0 })
    }

    func testEveryPrunerHitsTheFractionExactlyAndNeverRevivesAWeight() throws {
        let data = PrunerFixtures.data(12, size: 10, classes: 4)
        let registry = PrunerRegistry()
        try registry.register(name: "lua-like") { ctx in
            let s = try ctx.gradient()
            s.absInPlace()
            return s
        }
        for name in registry.names {
            let model = try PrunerFixtures.miniLeNet()
            let pruner = try registry.pruner(named: name)
            for layer in [4, 8] {
                let n = try Pruning.weight(of: model, layer: layer).value.count
                let first = try Pruning.prune(model: model, layer: layer, fraction: 0.3, pruner: pruner, settings: settings(data))
                let before = try prunedSet(model, layer)
                XCTAssertEqual(first.prunedCount, Int((0.3 * Double(n)).rounded()), "\(name) layer \(layer)")
                XCTAssertNil(first.previousMask)
                let second = try Pruning.prune(model: model, layer: layer, fraction: 0.65, pruner: pruner, settings: settings(data))
                let after = try prunedSet(model, layer)
                XCTAssertEqual(after.count, Int((0.65 * Double(n)).rounded()), "\(name) layer \(layer)")
                XCTAssertTrue(before.isSubset(of: after), "\(name) revived a weight of layer \(layer)")
                XCTAssertEqual(second.retainedFraction, 1 - Double(after.count) / Double(n), accuracy: 1e-12)
                XCTAssertNotNil(second.previousMask)
                let w = try Pruning.weight(of: model, layer: layer).value
                for i in after { XCTAssertEqual(w[i], 0) }
            }
        }
    }

    func testGlobalModeHitsTheTotalFraction() throws {
        let data = PrunerFixtures.data(12, size: 10, classes: 4)
        for name in ["mag", "taylor2", "emp", "l2", "random"] {
            let model = try PrunerFixtures.miniLeNet()
            let layers = [1, 4, 8, 10]
            let total = try layers.reduce(0) { $0 + (try Pruning.weight(of: model, layer: $1).value.count) }
            try Pruning.prune(model: model, layer: 8, fraction: 0.5, pruner: MagnitudePruner())
            let before = try prunedSet(model, 8)
            let r = try Pruning.pruneGlobally(model: model, layers: layers, fraction: 0.6,
                                              pruner: PrunerRegistry().pruner(named: name), settings: settings(data))
            XCTAssertEqual(r.prunedCount, Int((0.6 * Double(total)).rounded()), name)
            XCTAssertEqual(r.weightCount, total)
            XCTAssertTrue(before.isSubset(of: try prunedSet(model, 8)), "\(name) revived a weight")
            let zeros = try layers.reduce(0) { $0 + (try prunedSet(model, $1).count) }
            XCTAssertEqual(zeros, r.prunedCount)
        }
        let model = try PrunerFixtures.miniLeNet()
        XCTAssertEqual(try Pruning.pruneGlobally(model: model, layers: [1, 8], fraction: 0.5, pruner: Taylor1Pruner(),
                                                 settings: settings(data)).normalization, .none)
        XCTAssertEqual(try Pruning.pruneGlobally(model: model, layers: [1, 8], fraction: 0.5, pruner: LearnedScalePruner(.l1),
                                                 settings: settings(data)).normalization, .mean)
        XCTAssertThrowsError(try Pruning.pruneGlobally(model: model, layers: [1, 1], fraction: 0.5, pruner: MagnitudePruner()))
    }

    func testRandomScoresAreReproducibleBySeed() throws {
        let model = try PrunerFixtures.miniLeNet()
        let a = try Pruning.scores(model: model, layer: 8, pruner: RandomPruner(), settings: PruningSettings(seed: 11))
        let b = try Pruning.scores(model: model, layer: 8, pruner: RandomPruner(), settings: PruningSettings(seed: 11))
        let c = try Pruning.scores(model: model, layer: 8, pruner: RandomPruner(), settings: PruningSettings(seed: 12))
        XCTAssertEqual(a.scalars, b.scalars)
        XCTAssertNotEqual(a.scalars, c.scalars)
        let m1 = try PrunerFixtures.miniLeNet(), m2 = try PrunerFixtures.miniLeNet()
        try Pruning.prune(model: m1, layer: 8, fraction: 0.5, pruner: RandomPruner(), settings: PruningSettings(seed: 11))
        try Pruning.prune(model: m2, layer: 8, fraction: 0.5, pruner: RandomPruner(), settings: PruningSettings(seed: 11))
        XCTAssertEqual(try prunedSet(m1, 8), try prunedSet(m2, 8))
    }

    func testTotalCompressionOfTheReferenceLeNet5() throws {
        GlobalRandom.seed(0)
        let model = try ModelZoo.build(ModelZoo.referenceLeNet5)
        XCTAssertEqual(Pruning.prunableLayers(model), [1, 4, 8, 10, 12])
        XCTAssertEqual(Pruning.totalCompression(model), 0)
        let r = try Pruning.prune(model: model, layer: 8, fraction: 0.7, pruner: MagnitudePruner())
        XCTAssertEqual(r.prunedCount, 201_600)
        XCTAssertEqual(r.retainedFraction, 0.3, accuracy: 1e-12)
        XCTAssertEqual(Pruning.totalCompression(model), 201_600.0 / 313_470.0, accuracy: 1e-15)
        XCTAssertEqual(String(format: "%.8f", Pruning.totalCompression(model)), "0.64312374")
    }

    func testRestoringTheMaskOrTheSnapshot() throws {
        let model = try PrunerFixtures.miniLeNet()
        let snapshot = try LayerSnapshot(model: model, layer: 8)
        try Pruning.prune(model: model, layer: 8, fraction: 0.25, pruner: MagnitudePruner())
        let first = try Pruning.mask(of: model, layer: 8)
        let result = try Pruning.prune(model: model, layer: 8, fraction: 0.5, pruner: MagnitudePruner())
        try Pruning.restoreMask(result.previousMask, model: model, layer: 8)
        XCTAssertEqual(try Pruning.mask(of: model, layer: 8)?.scalars, first?.scalars)
        try snapshot.restore(into: model)
        XCTAssertNil(try Pruning.mask(of: model, layer: 8))
        XCTAssertEqual(try Pruning.weight(of: model, layer: 8).value.scalars, snapshot.weight.scalars)
        XCTAssertThrowsError(try Pruning.prune(model: model, layer: 2, fraction: 0.5, pruner: MagnitudePruner())) {
            XCTAssertTrue("\($0)".contains("layer 2"), "\($0)")
        }
        XCTAssertThrowsError(try Pruning.prune(model: model, layer: 99, fraction: 0.5, pruner: MagnitudePruner()))
    }

    func testRegistryAndClosurePruners() throws {
        let registry = PrunerRegistry()
        XCTAssertEqual(registry.names, PrunerRegistry.builtInNames)
        for name in PrunerRegistry.builtInNames { XCTAssertEqual(try registry.pruner(named: name).name, name) }
        XCTAssertThrowsError(try registry.pruner(named: "nope")) { XCTAssertTrue("\($0)".contains("mag, taylor1"), "\($0)") }
        XCTAssertThrowsError(try registry.register(MagnitudePruner())) { XCTAssertTrue("\($0)".contains("already"), "\($0)") }
        XCTAssertThrowsError(try registry.register(name: "two words") { $0.weight.value })
        var seen: (Int, [Int])?
        try registry.register(name: "mine") { ctx in
            seen = (ctx.layer, ctx.weight.value.shape)
            return Tensor(shape: [3])
        }
        let model = try PrunerFixtures.miniLeNet()
        XCTAssertThrowsError(try Pruning.prune(model: model, layer: 8, fraction: 0.5, pruner: registry.pruner(named: "mine"))) {
            XCTAssertTrue("\($0)".contains("pruner mine returned 3 scores for the 96 weights of layer 8"), "\($0)")
        }
        XCTAssertEqual(seen?.0, 8)
        XCTAssertEqual(seen?.1, [6, 16])
        try registry.register(name: "mine", replacing: true) { ctx in ctx.weight.value.clone() }
        XCTAssertEqual(registry.names.filter { $0 == "mine" }.count, 1)
        XCTAssertNoThrow(try Pruning.prune(model: model, layer: 8, fraction: 0.5, pruner: registry.pruner(named: "mine")))
        XCTAssertTrue(PrunerRegistry(builtIns: false).names.isEmpty)
    }

    func testContextStatisticsForCustomCriteria() throws {
        let data = PrunerFixtures.data(9, size: 4, classes: 3)
        let model = try PrunerFixtures.mlp()
        let context = try PruningContext(model: model, layer: 2, settings: settings(data))
        let x = Tensor(), t = Tensor()
        data.fillBatch(0..<9, inputs: x, targets: t)
        let moment = try context.inputSecondMoment()
        XCTAssertEqual(moment.shape, [16])
        for i in 0..<16 {
            let expected = (0..<9).reduce(0.0) { $0 + Double(x[$1 * 16 + i]) * Double(x[$1 * 16 + i]) } / 9
            XCTAssertEqual(Double(moment[i]), expected, accuracy: 1e-6)
        }
        XCTAssertEqual(try context.meanLoss(), try PrunerFixtures.exactLoss(model, data), accuracy: 1e-5)
        let lenet = try PrunerFixtures.miniLeNet()
        let convMoment = try PruningContext(model: lenet, layer: 4, settings: settings(PrunerFixtures.data(4, size: 10, classes: 4)))
            .inputSecondMoment()
        XCTAssertEqual(convMoment.shape, [3, 2, 2])
        XCTAssertThrowsError(try PruningContext(model: model, layer: 2, settings: PruningSettings()).gradient()) {
            XCTAssertTrue("\($0)".contains("scoring set"), "\($0)")
        }
    }

    func testOptionsAreSetByName() throws {
        var o = PrunerOptions()
        try o.set("hessian", "fisher")
        try o.set("epochs", "3")
        try o.set("lr", "0.5")
        try o.set("momentum", "0")
        try o.set("lambda", "1e-3")
        try o.set("normalization", "l2")
        XCTAssertEqual(o.hessian, .fisher)
        XCTAssertEqual(o.scaleEpochs, 3)
        XCTAssertEqual(o.scaleLearningRate, 0.5)
        XCTAssertEqual(o.scaleMomentum, 0)
        XCTAssertEqual(o.scalePenalty, 1e-3)
        XCTAssertEqual(o.globalNormalization, .l2)
        XCTAssertThrowsError(try o.set("epochs", "1.5"))
        XCTAssertThrowsError(try o.set("lr", "-1"))
        XCTAssertThrowsError(try o.set("hessian", "exact")) { XCTAssertTrue("\($0)".contains("gn, fisher"), "\($0)") }
        XCTAssertThrowsError(try o.set("colour", "red")) { XCTAssertTrue("\($0)".contains("unknown pruner option 'colour'"), "\($0)") }
    }
}
