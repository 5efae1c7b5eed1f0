import XCTest
@testable import Engine

/// The structured criteria against their definitions: norms of the rows, the mean absolute
/// activation read off a forward pass, the Taylor score against a finite difference of the
/// double-precision loss, and the exact loss change against the loss of the masked model.
final class StructuredCriteriaTests: XCTestCase {
    private func settings(_ data: Dataset) -> PruningSettings {
        PruningSettings(scoringSet: data, batchSize: 4, seed: 1)
    }

    func testNormsAreTheRowsNorms() throws {
        let model = try PrunerFixtures.miniLeNet()
        for layer in [4, 8] {
            let c = try UnitContext(model: model, layer: layer)
            let w = c.weight, units = c.plan.units, row = w.count / units
            let l1 = try UnitNormPruner(p: 1).unitScores(c), l2 = try UnitNormPruner(p: 2).unitScores(c)
            for j in 0..<units {
                let r = (0..<row).map { Double(w[j * row + $0]) }
                XCTAssertEqual(l1[j], r.map(abs).reduce(0, +), accuracy: 1e-9)
                XCTAssertEqual(l2[j], r.map { $0 * $0 }.reduce(0, +).squareRoot(), accuracy: 1e-9)
            }
        }
    }

    func testMeanActivationIsTheMeanAbsoluteInputOfTheConsumer() throws {
        let data = PrunerFixtures.data(9, size: 10, classes: 4)
        let model = try PrunerFixtures.miniLeNet()
        let inputs = Tensor(), targets = Tensor()
        data.fillBatch(0..<data.count, inputs: inputs, targets: targets)
        for (layer, consumer, units) in [(4, 8, 4), (8, 10, 6), (1, 4, 3)] {
            let scores = try UnitActivationPruner().unitScores(try UnitContext(model: model, layer: layer, settings: settings(data)))
            model.evaluate()
            _ = try model.forward(inputs)
            let a = model.modules[consumer - 2].output
            let p = a.count / (data.count * units)
            for j in 0..<units {
                var s = 0.0
                for e in 0..<data.count { for q in 0..<p { s += Double(abs(a[(e * units + j) * p + q])) } }
                XCTAssertEqual(scores[j], s / Double(data.count * p), accuracy: 1e-6, "layer \(layer) unit \(j + 1)")
            }
        }
    }

    /// The consumer's columns (or planes) reading unit j of `layer`, multiplied by `factor`.
    private func scaleUnit(_ model: Sequential, layer: Int, unit j: Int, by factor: Float) throws {
        let plan = try UnitPlan(model: model, layer: layer)
        let w = model.modules[plan.consumer].weight!.value
        let outer = w.shape[0], group = w.count / (outer * plan.units)
        for o in 0..<outer { for e in 0..<group { w[(o * plan.units + j) * group + e] *= factor } }
    }

    func testTaylorIsTheFirstOrderLossChangeOfTheUnitsOutput() throws {
        let data = PrunerFixtures.data(8, size: 10, classes: 4)
        let model = try PrunerFixtures.miniLeNet()
        for layer in [4, 8] {
            let c = try UnitContext(model: model, layer: layer, settings: settings(data))
            let scores = try UnitTaylorPruner().unitScores(c)
            for j in 0..<c.plan.units {
                let h: Float = 1e-3
                try scaleUnit(model, layer: layer, unit: j, by: 1 + h)
                let up = try PrunerFixtures.exactLoss(model, data)
                try scaleUnit(model, layer: layer, unit: j, by: (1 - h) / (1 + h))
                let down = try PrunerFixtures.exactLoss(model, data)
                try scaleUnit(model, layer: layer, unit: j, by: 1 / (1 - h))
                let derivative = (up - down) / (2 * Double(h))   // Σ a ∂L/∂a
                XCTAssertEqual(scores[j], abs(derivative), accuracy: 1e-4 + 2e-3 * abs(derivative), "layer \(layer) unit \(j + 1)")
            }
        }
    }

    func testLossChangeIsTheLossOfTheModelWithoutTheUnit() throws {
        let data = PrunerFixtures.data(8, size: 10, classes: 4)
        let model = try PrunerFixtures.miniLeNet()
        let base = try PrunerFixtures.exactLoss(model, data)
        for layer in [1, 4, 8] {
            let c = try UnitContext(model: model, layer: layer, settings: settings(data))
            let scores = try UnitLossChangePruner().unitScores(c)
            for j in 0..<c.plan.units {
                let thin = try UnitRemoval.remove(model: model, layer: layer, units: [j])
                let change = try PrunerFixtures.exactLoss(thin, data) - base
                XCTAssertEqual(scores[j], change, accuracy: 1e-5 + 1e-4 * abs(change), "layer \(layer) unit \(j + 1)")
            }
        }
    }

    func testPruningRemovesTheLowestScoredUnits() throws {
        let model = try PrunerFixtures.miniLeNet()
        let l1 = try UnitNormPruner(p: 1).unitScores(try UnitContext(model: model, layer: 8))
        let r = try StructuredPruning.prune(model: model, layer: 8, fraction: 0.5, pruner: UnitNormPruner(p: 1))
        let order = l1.indices.sorted { l1[$0] < l1[$1] }
        XCTAssertEqual(r.removed, Array(order.prefix(3)).sorted())
        XCTAssertEqual(r.remaining, 3)
        XCTAssertEqual(r.model.modules[7].description, "nn.Linear(16 -> 3)")
        XCTAssertEqual(model.modules[7].description, "nn.Linear(16 -> 6)", "the input model is unchanged")
        let registry = UnitPrunerRegistry()
        XCTAssertEqual(registry.names, ["l1", "l2", "activation", "taylor", "loss"])
        assertMessage(errorMessage { try registry.pruner(named: "mag") }, contains: ["unknown structured criterion 'mag'", "l1, l2"])
        assertMessage(errorMessage { try StructuredPruning.prune(model: model, layer: 8, fraction: 0.5, pruner: UnitActivationPruner()) },
                      contains: ["activation needs a scoring set"])
    }
}
