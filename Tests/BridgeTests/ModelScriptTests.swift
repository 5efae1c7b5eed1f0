import Bridge
import Engine
import XCTest

/// The model files in scripts/models/ run unchanged and build the nets users know.
final class ModelScriptTests: XCTestCase {
    func modelPath(_ name: String) -> String {
        repositoryRoot.appendingPathComponent("scripts/models/\(name).lua").path
    }

    func testReferenceLeNet5PrintsAsTorchPrintsIt() throws {
        let lua = try LuaRuntime()
        try lua.run(string: "model = dofile('\(modelPath("lenet5"))')")
        XCTAssertEqual(try evaluate("tostring(model)", lua).string, """
            nn.Sequential {
              [input -> (1) -> (2) -> (3) -> (4) -> (5) -> (6) -> (7) -> (8) -> (9) -> (10) -> (11) -> (12) -> output]
              (1): nn.SpatialConvolution(1 -> 6, 5x5, 1,1, 2,2)
              (2): nn.Tanh
              (3): nn.SpatialMaxPooling(2x2, 2,2)
              (4): nn.SpatialConvolution(6 -> 96, 5x5)
              (5): nn.Tanh
              (6): nn.SpatialMaxPooling(2x2, 2,2)
              (7): nn.View(2400)
              (8): nn.Linear(2400 -> 120)
              (9): nn.Tanh
              (10): nn.Linear(120 -> 84)
              (11): nn.Tanh
              (12): nn.Linear(84 -> 10)
            }
            """)
    }

    func testModelFilesBuildTheZooArchitectures() throws {
        let pairs: [(String, ModuleSpec, Int)] = [
            ("lenet5", ModelZoo.referenceLeNet5, 313_470),
            ("lenet5-classic", ModelZoo.classicLeNet5, 61_470),
            ("lenet300-100", ModelZoo.lenet300100, 266_200),
        ]
        for (name, spec, weights) in pairs {
            let model = try LuaRuntime().model(file: modelPath(name))
            XCTAssertEqual(model.spec, try ModuleFactory.make(spec).spec, name)
            let count = model.allParameters.filter { $0.name == "weight" }.map(\.value.count).reduce(0, +)
            XCTAssertEqual(count, weights, name)
            let y = try model.forward(Tensor(shape: [2, 1, 28, 28], repeating: 0.5))
            XCTAssertEqual(y.shape, [2, 10], name)
        }
    }

    func testRequireByModelName() throws {
        let lua = try LuaRuntime(scriptsDirectory: repositoryRoot.appendingPathComponent("scripts").path)
        XCTAssertEqual(try evaluate("torch.type(require('models.lenet300-100'))", lua).string, "nn.Sequential")
    }

    /// A Torch7-style model file (batch norm, in-place ReLU, ceil-mode pooling, dropout,
    /// `require 'nn'` without a local, chained `:add`) runs unchanged and trains a step.
    func testTorchStyleModelWithBatchNormDropoutAndCeilPoolingRunsUnchanged() throws {
        let lua = try LuaRuntime()
        let net = try lua.model(file: modelPath("convnet-bn"))
        lua.setGlobal("net", .module(net))
        try lua.run(string: """
            torch.manualSeed(0)
            local x = torch.rand(4, 1, 28, 28)
            local target = torch.Tensor{1, 2, 3, 10}
            local crit = nn.CrossEntropyCriterion()
            net:training()
            local before = crit:forward(net:forward(x), target)
            for i = 1, 5 do
              net:zeroGradParameters()
              local y = net:forward(x)
              crit:forward(y, target)
              net:backward(x, crit:backward(y, target))
              net:updateParameters(0.05)
            end
            net:evaluate()
            local y = net:forward(x)
            assert(y:size(1) == 4 and y:size(2) == 10, 'output size')
            net:training()
            after = crit:forward(net:forward(x), target)
            first = before
            """, chunkName: "train")
        XCTAssertLessThan(lua.global("after").number ?? .infinity, lua.global("first").number ?? 0)
        let listing = try evaluate("tostring(net)", lua).string ?? ""
        XCTAssertTrue(listing.contains("nn.SpatialBatchNormalization"), listing)
        XCTAssertTrue(listing.contains("nn.Dropout"), listing)
        let pooling = try XCTUnwrap((net as? Sequential)?.modules[1] as? SpatialMaxPooling)
        XCTAssertTrue(pooling.ceilMode)
    }
}
