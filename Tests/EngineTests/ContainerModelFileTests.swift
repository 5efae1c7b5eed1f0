import XCTest
@testable import Engine

/// Model files of nets with table containers: tensors named by nesting as PyTorch names
/// nested `nn.Sequential`s, the architecture recursive, masks inside containers kept.
final class ContainerModelFileTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("containers-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func testNestedNamesRoundTripWithMasks() throws {
        let model = try ContainerFixtures.residualNet()
        let data = PrunerFixtures.data(6, size: 8, classes: 10)
        try Pruning.prune(model: model, layer: 12, fraction: 0.5, pruner: MagnitudePruner(),
                          settings: PruningSettings(scoringSet: data, batchSize: 6))
        let names = try ModelFile.stateDict(model).map(\.name)
        // layer 12 is model:get(5):get(1):get(1):get(1): PyTorch's "4.0.0.0.weight"
        for expected in ["0.weight", "1.running_var", "3.0.0.0.weight", "3.0.0.1.bias", "3.0.0.3.weight",
                         "4.0.0.0.weight", "4.0.0.0.weight_mask", "4.0.0.4.running_mean", "6.weight", "6.bias"] {
            XCTAssertTrue(names.contains(expected), "\(expected) in \(names)")
        }
        XCTAssertFalse(names.contains { $0.hasPrefix("4.0.1") }, "option A's shortcut has no tensors")

        let path = folder + "/resnet.safetensors"
        try ModelFile.save(model, to: path)
        let loaded = try ModelFile.load(path)
        XCTAssertEqual(loaded.spec, model.spec)
        XCTAssertEqual(loaded.listing, model.listing)
        XCTAssertEqual(try ModelFile.stateDict(loaded).map(\.name), names)
        XCTAssertEqual(try Pruning.weight(of: loaded, layer: 12).mask?.scalars, try Pruning.weight(of: model, layer: 12).mask?.scalars)
        let x = TestData.uniform([3, 1, 8, 8])
        model.evaluate(); loaded.evaluate()
        XCTAssertEqual(try loaded.forward(x).scalars, try model.forward(x).scalars)

        // the architecture in the metadata describes the containers recursively
        let architecture = try ModelFile.metadata(path).values.joined()
        for type in ["nn.ConcatTable", "nn.CAddTable", "nn.JoinTable", "nn.MulConstant", "nn.SpatialAveragePooling"] {
            XCTAssertTrue(architecture.contains(type), type)
        }
    }

    func testParallelTableAndEveryTableModuleRoundTrip() throws {
        GlobalRandom.seed(4)
        let model = Sequential([
            Linear(3, 4),
            ConcatTable([Linear(4, 2), Sequential([Linear(4, 2), Tanh()])]),
            ParallelTable([Linear(2, 2), Identity()]),
            ConcatTable([CMulTable(), try SelectTable(-1), try JoinTable(2)]),
            try JoinTable(-1), try Narrow(2, 1, -2),
        ])
        let path = folder + "/tables.safetensors"
        try ModelFile.save(model, to: path)
        let loaded = try ModelFile.load(path)
        XCTAssertEqual(try ModelFile.stateDict(loaded).map(\.name),
                       ["0.weight", "0.bias", "1.0.weight", "1.0.bias", "1.1.0.weight", "1.1.0.bias", "2.0.weight", "2.0.bias"])
        let x = TestData.uniform([2, 3])
        XCTAssertEqual(try loaded.forward(.tensor(x)).flattened.map(\.scalars), try model.forward(.tensor(x)).flattened.map(\.scalars))
    }

    /// A container of an unknown kind, or modules under a non-container, are refused.
    func testContainersInTheArchitectureAreChecked() throws {
        let bad = ModuleSpec(type: "nn.Sequential", modules: [ModuleSpec(type: "nn.CAddTable", modules: [ModuleSpec(type: "nn.Tanh")])])
        XCTAssertThrowsError(try ModuleFactory.make(bad)) { e in
            XCTAssertTrue("\(e)".contains("layer 1 (nn.CAddTable): only containers (nn.ConcatTable, nn.ParallelTable, nn.Sequential) hold modules"), "\(e)")
        }
        let join = ModuleSpec(type: "nn.Sequential", modules: [ModuleSpec(type: "nn.JoinTable", args: [0])])
        XCTAssertThrowsError(try ModuleFactory.make(join)) { XCTAssertTrue("\($0)".contains("dimension (argument 1) must be a nonzero integer"), "\($0)") }
    }
}
