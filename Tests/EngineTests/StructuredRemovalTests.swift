import Foundation
import XCTest
@testable import Engine

/// Physical removal of units (`UnitRemoval`): the thinned model's outputs equal the masked
/// model's, for Linear→Linear, conv→conv and conv→pool→View→Linear with batch norm between;
/// the new shapes in `tostring` and in the saved file; the errors.
final class StructuredRemovalTests: XCTestCase {
    /// Random running statistics and affine entries, so batch norm does not map 0 to 0.
    private func stir(_ m: Sequential, seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        for bn in m.modules.compactMap({ $0 as? BatchNormalization }) {
            bn.runningMean.fillUniform(-0.5, 0.5, &rng)
            bn.runningVar.fillUniform(0.5, 2, &rng)
            bn.biasParameter?.value.fillUniform(-0.5, 0.5, &rng)
        }
    }

    private func input(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        let x = Tensor(shape: shape)
        x.fillUniform(-1, 1, &rng)
        return x
    }

    /// Removes `units` of `layer` both ways and compares outputs (within 1e-6).
    private func assertThinEqualsMasked(_ make: () throws -> Sequential, layer: Int, units: [Int], input x: Tensor,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try make()
        stir(model, seed: 9)
        model.evaluate()
        let thin = try UnitRemoval.remove(model: model, layer: layer, units: units)
        try UnitRemoval.mask(model: model, layer: layer, units: units)
        let want = try model.forward(x).clone()
        let got = try thin.forward(x)
        XCTAssertEqual(got.shape, want.shape, file: file, line: line)
        var worst: Float = 0
        for i in 0..<want.count { worst = max(worst, abs(got[i] - want[i])) }
        XCTAssertLessThanOrEqual(worst, 1e-6, "largest difference", file: file, line: line)
        XCTAssertLessThan(Pruning.weightCount(thin), Pruning.weightCount(model), file: file, line: line)
    }

    func testLinearToLinearThroughBatchNormEqualsTheMaskedModel() throws {
        let make = { Sequential([try View(12), Linear(12, 7), try BatchNormalization(7), ReLU(), Linear(7, 5), Tanh(), Linear(5, 3)]) }
        try assertThinEqualsMasked(make, layer: 2, units: [0, 3, 6], input: input([4, 12], seed: 1))
        try assertThinEqualsMasked(make, layer: 5, units: [4], input: input([4, 12], seed: 2))
        let thin = try UnitRemoval.remove(model: try make(), layer: 2, units: [0, 3, 6])
        XCTAssertEqual(thin.modules[1].description, "nn.Linear(12 -> 4)")
        XCTAssertEqual((thin.modules[2] as! BatchNormalization).nOutput, 4)
        XCTAssertEqual(thin.modules[4].description, "nn.Linear(4 -> 5)")
    }

    func testConvolutionToConvolutionThroughSpatialBatchNormEqualsTheMaskedModel() throws {
        let make = {
            Sequential([SpatialConvolution(2, 5, 3, 3, 1, 1, 1, 1), try SpatialBatchNormalization(5), Tanh(),
                        SpatialConvolution(5, 4, 3, 3), ReLU(), try View(64), Linear(64, 3)])
        }
        try assertThinEqualsMasked(make, layer: 1, units: [1, 2], input: input([3, 2, 6, 6], seed: 3))
        let thin = try UnitRemoval.remove(model: try make(), layer: 1, units: [1, 2])
        XCTAssertTrue(thin.listing.contains("nn.SpatialConvolution(2 -> 3, 3x3, 1,1, 1,1)"), thin.listing)
        XCTAssertTrue(thin.listing.contains("nn.SpatialConvolution(3 -> 4, 3x3)"), thin.listing)
    }

    func testConvolutionThroughPoolingAndViewToLinearEqualsTheMaskedModel() throws {
        let make = {
            Sequential([SpatialConvolution(1, 3, 3, 3, 1, 1, 1, 1), Tanh(), SpatialMaxPooling(2, 2),
                        SpatialConvolution(3, 4, 2, 2), try SpatialBatchNormalization(4), Tanh(), SpatialMaxPooling(2, 2),
                        try View(16), Linear(16, 6), try BatchNormalization(6), Tanh(), Linear(6, 4)])
        }
        let x = input([5, 1, 10, 10], seed: 4)
        try assertThinEqualsMasked(make, layer: 4, units: [2], input: x)
        try assertThinEqualsMasked(make, layer: 4, units: [0, 1, 3], input: x)
        try assertThinEqualsMasked(make, layer: 1, units: [1], input: x)
        try assertThinEqualsMasked(make, layer: 9, units: [0, 5], input: x)
        let thin = try UnitRemoval.remove(model: try make(), layer: 4, units: [2])
        XCTAssertEqual(thin.modules[7].description, "nn.View(12)")
        XCTAssertEqual(thin.modules[8].description, "nn.Linear(12 -> 6)")
    }

    func testMasksAndTheShapesCarryIntoTheSavedFile() throws {
        GlobalRandom.seed(2)
        let model = Sequential([try View(12), Linear(12, 6), Tanh(), Linear(6, 3)])
        let mask = Tensor(shape: [6, 12], repeating: 1)
        mask[12 * 5 + 2] = 0   // row 6 (kept), column 3
        try model.modules[1].weight!.setMask(mask)
        let thin = try UnitRemoval.remove(model: model, layer: 2, units: [1, 2])
        let w = thin.modules[1].weight!
        XCTAssertEqual(w.value.shape, [4, 12])
        XCTAssertEqual(w.mask?.zeroCount(), 1)
        XCTAssertEqual(w.mask?[12 * 3 + 2], 0, "row 6 is the 4th kept row")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("thin-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ModelFile.save(thin, to: path)
        let file = try ModelFile.standardTensors(path)
        XCTAssertEqual(file.entry("1.weight")?.shape, [4, 12])
        XCTAssertEqual(file.entry("1.bias")?.shape, [4])
        XCTAssertEqual(file.entry("3.weight")?.shape, [3, 4])
        let back = try ModelFile.load(path)
        XCTAssertEqual(back.listing, thin.listing)
        let x = input([2, 12], seed: 5)
        let a = try back.forward(x).clone(), b = try thin.forward(x)
        for i in 0..<a.count { XCTAssertEqual(a[i], b[i]) }
    }

    func testRemovingEveryUnitOrTheOutputLayerIsAnError() throws {
        let model = Sequential([try View(4), Linear(4, 3), Tanh(), Linear(3, 2), LogSoftMax()])
        assertMessage(errorMessage { try UnitRemoval.remove(model: model, layer: 2, units: [0, 1, 2]) },
                      contains: ["removing all 3 units of layer 2"])
        assertMessage(errorMessage { try StructuredPruning.prune(model: model, layer: 2, fraction: 1, pruner: UnitNormPruner(p: 1)) },
                      contains: ["would remove all of them"])
        assertMessage(errorMessage { try UnitRemoval.remove(model: model, layer: 4, units: [0]) },
                      contains: ["layer 4's units cannot be removed", "layer 5 (nn.LogSoftMax)"])
        assertMessage(errorMessage { try UnitRemoval.remove(model: model, layer: 3, units: [0]) },
                      contains: ["layer 3 (nn.Tanh)", "nn.Linear and nn.SpatialConvolution"])
        assertMessage(errorMessage { try UnitRemoval.remove(model: model, layer: 2, units: [3]) },
                      contains: ["units 1..3", "unit 4"])
        let last = Sequential([try View(4), Linear(4, 3)])
        assertMessage(errorMessage { try UnitRemoval.remove(model: last, layer: 2, units: [0]) },
                      contains: ["its outputs are the model's outputs"])
        let nested = Sequential([try View(4), Linear(4, 3), Sequential([Linear(3, 2)])])
        assertMessage(errorMessage { try UnitRemoval.remove(model: nested, layer: 2, units: [0]) },
                      contains: ["layer 3 (nn.Sequential)", "is not a module structured pruning passes through"])
    }
}
