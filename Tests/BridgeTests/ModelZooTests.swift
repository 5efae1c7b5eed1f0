import Bridge
import Engine
import XCTest

/// The model zoo of scripts/models/: each net's parameter count against the published one,
/// and the residual and dense nets running forward and backward at CIFAR's shape.
final class ModelZooTests: XCTestCase {
    private func runtime() throws -> LuaRuntime {
        try LuaRuntime(scriptsDirectory: repositoryRoot.appendingPathComponent("scripts").path)
    }

    private func model(_ file: String, _ args: [String] = []) throws -> Module {
        try runtime().model(file: repositoryRoot.appendingPathComponent("scripts/models/\(file).lua").path, args: args)
    }

    private func parameterCount(_ m: Module) -> Int { m.allParameters.map(\.value.count).reduce(0, +) }

    /// Counts as PyTorch counts the same nets (every weight, bias and batch-norm γ, β):
    /// ResNets: akamaster/pytorch_resnet_cifar10 (option A) and He et al.'s Table 6 (0.27M,
    /// 0.46M, 0.85M); option B adds the 1x1 projections and their batch norms (2,752 for
    /// ResNet-20). WRN: Zagoruyko & Komodakis Table 1 (WRN-28-10 36.5M, WRN-16-4 2.7M),
    /// exactly as xternalz/WideResNet-pytorch. DenseNet-BC: Huang et al. Table 2 (L = 100,
    /// k = 12: 0.8M), exactly as the PyTorch implementations (bamos, andreasveit) count it.
    /// VGG: kuangliu/pytorch-cifar's VGG('VGG11'), VGG('VGG16'). Conv4: edge-popup's 2.4M
    /// (3x32x32 input, no biases). mnist_mlp: 784·300 + 300·100 + 100·10 weights and γ, β of
    /// 410 batch-norm units.
    func testEveryZooModelHasItsPublishedParameterCount() throws {
        let cases: [(String, [String], Int)] = [
            ("resnet-cifar", [], 269_722), ("resnet20", [], 269_722), ("resnet-cifar", ["20", "B"], 272_474),
            ("resnet32", [], 464_154), ("resnet56", [], 853_018),
            ("wrn-16-4", [], 2_748_890), ("wide-resnet", ["28", "2"], 1_467_610),
            ("densenet-bc-100", [], 769_162), ("densenet-bc-40", [], 176_122),
            ("vgg11", [], 9_231_114), ("vgg16", [], 14_728_266),
            ("edge-popup", [], 2_425_024), ("edge-popup", ["FC", "1", "28", "28"], 266_200),
            ("mnist-mlp", [], 267_020), ("mnist-mlp", ["false"], 266_610),
        ]
        for (file, args, expected) in cases {
            XCTAssertEqual(parameterCount(try model(file, args)), expected, "\(file) \(args)")
        }
    }

    /// WRN-28-10 on its own (36.5M parameters to allocate).
    func testWideResNet28x10HasItsPublishedParameterCount() throws {
        XCTAssertEqual(parameterCount(try model("wrn-28-10")), 36_479_194)
    }

    /// Forward to 10 scores and backward to the input's shape, and the model file round trip.
    func testResidualAndDenseNetsRunAndSave() throws {
        // the smallest of each family (a debug build's convolutions are slow); option B and the
        // larger sizes differ only in what the parameter counts above check
        for (file, args) in [("resnet-cifar", ["8"]), ("wide-resnet", ["10", "1"]), ("densenet-bc", ["10", "4"])] {
            guard let net = try model(file, args) as? Sequential else { return XCTFail("\(file) is not an nn.Sequential") }
            let x = Tensor(shape: [1, 3, 32, 32], repeating: 0.5)
            let y = try net.forward(x)
            XCTAssertEqual(y.shape, [1, 10], "\(file) \(args)")
            XCTAssertEqual(try net.backward(x, Tensor(shape: [1, 10], repeating: 1)).shape, [1, 3, 32, 32], "\(file) \(args)")
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-\(UUID().uuidString).safetensors").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try ModelFile.save(net, to: path)
            let loaded = try ModelFile.load(path)
            net.evaluate(); loaded.evaluate()
            XCTAssertEqual(try loaded.forward(x).scalars, try net.forward(x).scalars, "\(file) \(args)")
        }
    }

    /// ResNet-20's convolutions and Linear cost 81,102,090 FLOPs per 3x32x32 image (2 per
    /// multiply-add: He et al.'s "41M" multiply-adds), and every module states its cost.
    func testResNet20ForwardCost() throws {
        guard let net = try model("resnet20") as? Sequential else { return XCTFail("not an nn.Sequential") }
        let total = try ForwardCost.perModule(net, imageShape: [3, 32, 32]).reduce(0, +)
        net.evaluate()
        _ = try net.forward(Tensor(shape: [1, 3, 32, 32]))
        let weighted = leafModules(net).filter { $0 is SpatialConvolution || $0 is Linear }
            .compactMap { ($0 as? ForwardCosting)?.forwardFLOPs(outputElements: $0.output.count) }.reduce(0, +)
        XCTAssertEqual(weighted, 81_102_090)
        XCTAssertGreaterThan(total, weighted)
        XCTAssertLessThan(total, weighted * 1.05, "batch norm, ReLU, the additions and the pooling are a few percent")
    }

    func testBadArgumentsSayWhatTheyExpect() throws {
        XCTAssertThrowsError(try model("resnet-cifar", ["21"])) { XCTAssertTrue("\($0)".contains("depth must be 6n+2"), "\($0)") }
        XCTAssertThrowsError(try model("resnet-cifar", ["20", "C"])) { XCTAssertTrue("\($0)".contains("'A' or 'B'"), "\($0)") }
        XCTAssertThrowsError(try model("wide-resnet", ["27"])) { XCTAssertTrue("\($0)".contains("depth must be 6n+4"), "\($0)") }
        XCTAssertThrowsError(try model("vgg-cifar", ["12"])) { XCTAssertTrue("\($0)".contains("depth 11, 13, 16 or 19"), "\($0)") }
    }
}
