import Foundation
import XCTest
@testable import Engine

/// Every module type rebuilds from its spec (spec → ModuleFactory → same spec, same printing),
/// also through the JSON a model file stores.
final class LayerSpecTests: XCTestCase {
    private func everyModule() throws -> [Module] {
        let view = try View(-1, 4)
        view.numInputDims = 2
        return [
            ReLU(), ReLU(inplace: true), Sigmoid(), Identity(), Tanh(), SoftMax(), LogSoftMax(),
            try View(2400), view, try Reshape(2, 3), try Reshape(6, batchMode: false), try Reshape(6, batchMode: true),
            try Dropout(), try Dropout(0.3, v1: true, inplace: true), try Dropout(0.1),
            try BatchNormalization(100), try BatchNormalization(10, eps: 1e-3, momentum: 0.2, affine: false),
            try SpatialBatchNormalization(16), try SpatialBatchNormalization(4, eps: 1e-4, momentum: 0.05, affine: false),
            Linear(3, 2), Linear(3, 2, bias: false),
            SpatialConvolution(1, 6, 5, 5, 1, 1, 2, 2), SpatialConvolution(6, 16, 5, 5), SpatialConvolution(2, 3, 3, 3, bias: false),
            SpatialMaxPooling(2, 2, 2, 2), SpatialMaxPooling(3, 3, 2, 2, 1, 1).ceil(),
        ]
    }

    func testEveryModuleRebuildsFromItsSpec() throws {
        for m in try everyModule() {
            let rebuilt = try ModuleFactory.make(m.spec)
            XCTAssertEqual(rebuilt.spec, m.spec, m.description)
            XCTAssertEqual(rebuilt.description, m.description)
            XCTAssertTrue(type(of: rebuilt) == type(of: m), "\(m.description) rebuilt as \(type(of: rebuilt))")
            XCTAssertEqual(rebuilt.typeName, m.typeName)
        }
    }

    func testSpecsSurviveJSON() throws {
        let net = Sequential(try everyModule())
        let data = try JSONEncoder().encode(net.spec)
        let decoded = try JSONDecoder().decode(ModuleSpec.self, from: data)
        XCTAssertEqual(decoded, net.spec)
        let rebuilt = try ModuleFactory.make(decoded) as! Sequential
        XCTAssertEqual(rebuilt.modules.map(\.description), net.modules.map(\.description))
        XCTAssertEqual(rebuilt.listing, net.listing)
    }

    func testRebuiltModulesKeepTheirSettings() throws {
        let bn = try ModuleFactory.make(ModuleSpec(type: "nn.BatchNormalization", args: [8, 1e-3, 0.2], options: ["affine": 0]))
            as! BatchNormalization
        XCTAssertEqual(bn.nOutput, 8)
        XCTAssertEqual(bn.eps, 1e-3)
        XCTAssertEqual(bn.momentum, 0.2)
        XCTAssertFalse(bn.affine)
        let defaults = try ModuleFactory.make(ModuleSpec(type: "nn.SpatialBatchNormalization", args: [4])) as! SpatialBatchNormalization
        XCTAssertEqual(defaults.eps, 1e-5)
        XCTAssertEqual(defaults.momentum, 0.1)
        XCTAssertTrue(defaults.affine)
        let dropout = try ModuleFactory.make(ModuleSpec(type: "nn.Dropout", args: [0.3], options: ["v1": 1])) as! Dropout
        XCTAssertEqual(dropout.p, 0.3)
        XCTAssertTrue(dropout.v1)
        XCTAssertEqual((try ModuleFactory.make(ModuleSpec(type: "nn.Dropout")) as! Dropout).p, 0.5)
        let view = try ModuleFactory.make(ModuleSpec(type: "nn.View", args: [4], options: ["numInputDims": 2])) as! View
        XCTAssertEqual(view.numInputDims, 2)
        XCTAssertEqual((try ModuleFactory.make(ModuleSpec(type: "nn.Reshape", args: [6], options: ["batchMode": 0])) as! Reshape).batchMode, false)
    }

    func testBadSpecsThrow() {
        XCTAssertThrowsError(try ModuleFactory.make(ModuleSpec(type: "nn.View", args: [-2])))
        XCTAssertThrowsError(try ModuleFactory.make(ModuleSpec(type: "nn.View")))
        XCTAssertThrowsError(try ModuleFactory.make(ModuleSpec(type: "nn.Reshape", args: [0])))
        XCTAssertThrowsError(try ModuleFactory.make(ModuleSpec(type: "nn.Dropout", args: [1.5])))
        XCTAssertThrowsError(try ModuleFactory.make(ModuleSpec(type: "nn.BatchNormalization")))
        XCTAssertThrowsError(try ModuleFactory.make(ModuleSpec(type: "nn.SpatialBatchNormalization", args: [-3])))
        XCTAssertThrowsError(try ModuleFactory.make(ModuleSpec(type: "nn.NoSuchLayer")))
    }
    /// A model of every new layer type saved to a model file and loaded back computes the same
    /// outputs in evaluation, with batch norm's running statistics restored.
    func testModelFileRoundTripKeepsEveryLayerAndTheRunningStatistics() throws {
        GlobalRandom.seed(11)
        let net = Sequential([
            SpatialConvolution(1, 3, 3, 3, 1, 1, 1, 1), try SpatialBatchNormalization(3), ReLU(), SpatialMaxPooling(2, 2).ceil(),
            try View(3 * 3 * 3), try Dropout(0.3), Linear(27, 6), try BatchNormalization(6), Sigmoid(), Identity(),
            try Reshape(2, 3), try View(6), Linear(6, 4), SoftMax(), LogSoftMax(),
        ])
        let x = TestData.uniform([4, 1, 5, 5])
        for _ in 0..<3 { try net.forward(x) }
        net.evaluate()
        let expected = try net.forward(x).clone()

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("layers-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ModelFile.save(net, to: path)
        let loaded = try ModelFile.load(path)
        loaded.evaluate()
        XCTAssertEqual(loaded.listing, net.listing)
        let bn = try loaded.module(at: 2) as! SpatialBatchNormalization
        XCTAssertEqual(bn.runningVar.scalars, (net.modules[1] as! SpatialBatchNormalization).runningVar.scalars)
        XCTAssertNotEqual(bn.runningVar.scalars, [1, 1, 1], "the statistics were trained")
        XCTAssertEqual(try loaded.forward(x).scalars, expected.scalars)
    }
}
