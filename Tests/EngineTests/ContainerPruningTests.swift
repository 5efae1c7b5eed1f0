import XCTest
@testable import Engine

/// Pruners that score a weight inside table containers (the leaf numbering of `Pruning`),
/// and the pruners that need a chain of modules saying so.
final class ContainerPruningTests: XCTestCase {
    private func settings(_ data: Dataset) -> PruningSettings {
        PruningSettings(scoringSet: data, batchSize: 5, seed: 2)
    }

    func testLayerNumbersAreLeavesDepthFirstWithTorchPaths() throws {
        let model = try ContainerFixtures.residualNet()
        XCTAssertEqual(Pruning.prunableLayers(model), [1, 2, 4, 5, 7, 8, 12, 13, 15, 16, 24])
        XCTAssertEqual(Pruning.layerPath(of: model, layer: 12), "5.1.1.1")
        XCTAssertEqual(Pruning.layerPath(of: model, layer: 24), "7")
        let conv = try ((model.modules[4] as! Sequential).modules[0] as! ConcatTable).modules[0] as! Sequential
        XCTAssertTrue(try Pruning.layerModule(of: model, layer: 12) === conv.modules[0])
        XCTAssertThrowsError(try Pruning.weight(of: model, layer: 25)) { XCTAssertTrue("\($0)".contains("the model has layers 1..24"), "\($0)") }
        XCTAssertThrowsError(try Pruning.weight(of: model, layer: 10)) { XCTAssertTrue("\($0)".contains("layer 10 (nn.CAddTable) has no weights"), "\($0)") }
        // a flat Sequential keeps its numbering: layer l is its l-th module
        let flat = try PrunerFixtures.miniLeNet()
        XCTAssertEqual(Pruning.prunableLayers(flat), [1, 4, 8, 10])
    }

    /// mag: the lowest |w| of a convolution inside a ConcatTable are masked, and the model's
    /// output is the output with those weights zeroed by hand.
    func testMagnitudePrunesAWeightInsideAContainer() throws {
        let model = try ContainerFixtures.residualNet()
        let data = PrunerFixtures.data(10, size: 8, classes: 10)
        let w = try Pruning.weight(of: model, layer: 12)
        let values = w.value.scalars
        let r = try Pruning.prune(model: model, layer: 12, fraction: 0.5, pruner: MagnitudePruner(), settings: settings(data))
        XCTAssertEqual(r.prunedCount, values.count / 2)
        let threshold = values.map(abs).sorted()[values.count / 2 - 1]
        for i in values.indices {
            XCTAssertEqual(w.mask![i] == 0, abs(values[i]) <= threshold, "entry \(i)")
        }
        let x = TestData.uniform([2, 1, 8, 8])
        model.evaluate()
        let pruned = try model.forward(x).clone()
        let byHand = try ContainerFixtures.residualNet()
        let v = try Pruning.weight(of: byHand, layer: 12).value
        for i in values.indices where w.mask![i] == 0 { v[i] = 0 }
        byHand.evaluate()
        XCTAssertEqual(try byHand.forward(x).scalars, pruned.scalars)
    }

    /// taylor1's gradient inside a container is the gradient the model's own backward gives.
    func testTaylor1UsesTheGradientThroughTheTables() throws {
        let model = try ContainerFixtures.residualNet()
        let data = PrunerFixtures.data(10, size: 8, classes: 10)
        let context = try PruningContext(model: model, layer: 7, settings: settings(data))
        let g = try context.gradient()
        // the same gradient by hand: the mean loss over the set, one batch, evaluation mode
        let direct = try ContainerFixtures.residualNet()
        direct.evaluate()
        let x = Tensor(), t = Tensor()
        data.fillBatch(Array(0..<data.count)[...], inputs: x, targets: t)
        let criterion = CrossEntropyCriterion()
        let out = try direct.forward(x)
        _ = try criterion.forward(out, t)
        direct.zeroGradParameters()
        try direct.backward(x, try criterion.backward(out, t))
        let expected = try Pruning.weight(of: direct, layer: 7).grad
        for i in 0..<g.count { XCTAssertEqual(g[i], expected[i], accuracy: 1e-5 * max(1, abs(expected[i]))) }
        XCTAssertGreaterThan(g.scalars.map(abs).max()!, 0)
    }

    /// Every pruner that scores a weight works on a convolution inside a ConcatTable and a
    /// Linear after the blocks, alone and in global mode; taylor2 and emp say what they need.
    func testEveryWeightScoringPrunerWorksInsideContainers() throws {
        let data = PrunerFixtures.data(10, size: 8, classes: 10)
        let registry = PrunerRegistry()
        try registry.register(name: "lua-like") { ctx in
            let s = try ctx.gradient()
            s.absInPlace()
            return s
        }
        for name in ["mag", "random", "taylor1", "l1", "l2", "lua-like"] {
            let pruner = try registry.pruner(named: name)
            let model = try ContainerFixtures.residualNet()
            for layer in [4, 15, 24] {
                let n = try Pruning.weight(of: model, layer: layer).value.count
                let r = try Pruning.prune(model: model, layer: layer, fraction: 0.4, pruner: pruner, settings: settings(data))
                XCTAssertEqual(r.prunedCount, Int((0.4 * Double(n)).rounded()), "\(name) layer \(layer)")
            }
            let global = try ContainerFixtures.residualNet()
            let g = try Pruning.pruneGlobally(model: global, layers: [4, 7, 12, 15, 24], fraction: 0.6, pruner: pruner,
                                              settings: settings(data))
            XCTAssertEqual(Double(g.prunedCount), 0.6 * Double(g.weightCount), accuracy: 1, name)
            let report = SparsityReport(global)
            XCTAssertEqual(report.rows.filter { [4, 7, 12, 15, 24].contains($0.layer) }.map(\.kept).reduce(0, +),
                           g.weightCount - g.prunedCount, name)
        }
        for name in ["taylor2", "emp", "emp-naive"] {
            let model = try ContainerFixtures.residualNet()
            XCTAssertThrowsError(try Pruning.prune(model: model, layer: 4, fraction: 0.5, pruner: try registry.pruner(named: name),
                                                   settings: settings(data)), name) { e in
                XCTAssertTrue("\(e)".contains("runs through a chain of modules (nn.Sequential, nested); the model holds nn.ConcatTable at 4.1"), "\(e)")
                XCTAssertTrue("\(e)".contains("mag, random, taylor1, l1, l2 and Lua criteria are"), "\(e)")
            }
        }
    }

    /// A nested Sequential (no tables) is still a chain: taylor2 scores a layer inside it.
    func testTaylor2StillWorksThroughNestedSequentials() throws {
        GlobalRandom.seed(3)
        let model = Sequential([Sequential([try View(16), Linear(16, 6), Tanh()]), Linear(6, 4)])
        let data = PrunerFixtures.data(8, size: 4, classes: 4)
        XCTAssertEqual(Pruning.prunableLayers(model), [2, 4])
        let r = try Pruning.prune(model: model, layer: 2, fraction: 0.5, pruner: Taylor2Pruner(), settings: settings(data))
        XCTAssertEqual(r.prunedCount, 48)
    }
}
