import Foundation
import XCTest
@testable import Engine

/// ModuleFactory's extension point: a module type defined outside the Engine, given through a
/// `ModuleTypeRegistry`, is checked, built, saved and loaded like the Engine's own.
final class ExternalModuleTypeTests: XCTestCase {
    /// y = w ⊙ x with one weight per feature (n = args[0]).
    final class Scale: Module {
        let w: Parameter
        init(_ n: Int) { w = Parameter(name: "weight", shape: [n]); super.init(); w.value.fill(2) }
        override var typeName: String { "test.Scale" }
        override var parameters: [Parameter] { [w] }
        override var weight: Parameter? { w }
        override var spec: ModuleSpec { ModuleSpec(type: typeName, args: [Double(w.value.count)], definedIn: "Test") }
        override func updateOutput(_ input: Tensor) throws -> Tensor {
            let y = input.clone()
            y.cmul(w.value)
            setOutput(y)
            return y
        }
    }

    final class ScaleType: ExternalModuleType {
        func tensors(of spec: ModuleSpec) throws -> [(name: String, shape: [Int], isParameter: Bool)] {
            guard spec.args.count == 1, spec.args[0] >= 1 else { throw EngineError("needs one size >= 1") }
            return [("weight", [Int(spec.args[0])], true)]
        }
        func build(_ spec: ModuleSpec) throws -> Module { Scale(Int(spec.args[0])) }
    }

    func testAnExternalTypeIsBuiltSavedAndLoaded() throws {
        let types = ModuleTypeRegistry()
        types.register("test.Scale", ScaleType())
        types.advice["Test"] = "register it first"
        let model = Sequential([Linear(2, 3), Scale(3)])
        model.modules[1].weight!.value.copy(from: Tensor(shape: [3], values: [1, -2, 3]))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("external-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ModelFile.save(model, to: path)
        let loaded = try ModelFile.load(path, types: types)
        XCTAssertTrue(loaded.modules[1] is Scale)
        XCTAssertEqual(loaded.modules[1].weight!.value.scalars, [1, -2, 3])
        XCTAssertEqual(try ModuleFactory.blueprint(model.spec, types: types).tensors().map(\.name), ["0.weight", "0.bias", "1.weight"])
        // without the registry: the file says where the type comes from, the registry's advice
        XCTAssertThrowsError(try ModelFile.load(path)) { e in
            XCTAssertEqual((e as? EngineError)?.message, "model file \(path) uses test.Scale, a module defined in Test: define it before building or loading the model")
        }
        let empty = ModuleTypeRegistry()
        empty.advice["Test"] = "register it first"
        XCTAssertThrowsError(try ModuleFactory.make(model.spec, types: empty)) { e in
            XCTAssertEqual((e as? EngineError)?.message, "layer 2 (test.Scale): a module defined in Test that is not defined here: register it first")
        }
        // the type's own check runs, under the layer's name
        XCTAssertThrowsError(try ModuleFactory.make(ModuleSpec(type: "test.Scale", args: [0], definedIn: "Test"), types: types)) { e in
            XCTAssertEqual((e as? EngineError)?.message, "test.Scale: needs one size >= 1")
        }
        // and an output the next layer cannot take names where it came from
        let bad = Sequential([Scale(3), Linear(2, 1)])
        XCTAssertThrowsError(try bad.forward(Tensor(shape: [1, 3]))) { e in
            XCTAssertTrue("\(e)".contains("is the output of layer 1, test.Scale, a module defined in Test"), "\(e)")
        }
    }
}
