import Foundation
import XCTest

/// `workbench sparse-train --model cifar10_WideResNet` end to end on a few synthetic CIFAR-10
/// images (WRN-10-1, `--layers 10 --widen-factor 1`): the six 3x3 convolutions of its blocks
/// are the sparse layers (the first convolution, the 1x1 shortcuts and the Linear stay dense),
/// static, DSR, DeepR and gradual pruning keep their budgets by their rules, the JSON has a
/// density per sparse convolution, and bad combinations are refused. (A debug build trains the
/// WRN slowly: runs are 1-2 steps of 2 images.)
final class CLISparseTrainWideResNetTests: XCTestCase {
    /// Rewiring every iteration, so that a 2-step run rewires once (at iteration 1).
    private let schedule = """
        lr_schedule:
          - 0 : 0.1
        rewire_period_schedule:
          - 0 : 1
        DeepR_temperature_schedule:
          - 0 : 1.0e-5

        """

    /// The 3x3 convolutions of WRN-10-1's blocks: 16·16·9 ×2, 16·32·9, 32·32·9, 32·64·9, 64·64·9 weights.
    private let convWeights = [2304.0, 2304, 4608, 9216, 18432, 36864]
    /// Every other parameter: the first convolution 432, the shortcuts 512 + 2048, batch norms 480, the Linear 650.
    private let fixed = 4122.0

    /// A fixture with `data/cifar-10-batches-bin/` (5 training batches of 2 records, a test
    /// batch of 4: label byte, 3072 pixel bytes), the folder `--data cifar10` reads.
    private func fixture() throws -> CLIFixture {
        let f = try CLIFixture()
        try f.write(schedule, to: "s.yaml")
        let dir = f.path("data/cifar-10-batches-bin")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var state: UInt32 = 12345
        func batch(_ n: Int, _ first: Int) -> Data {
            var bytes = [UInt8]()
            for i in 0..<n {
                let label = UInt8((first + i) % 10)
                bytes.append(label)
                for _ in 0..<3072 {
                    state = state &* 1_664_525 &+ 1_013_904_223
                    bytes.append(UInt8(truncatingIfNeeded: Int(label) * 20 + Int(state >> 27)))
                }
            }
            return Data(bytes)
        }
        for b in 1...5 { try batch(2, 2 * b).write(to: URL(fileURLWithPath: dir + "/data_batch_\(b).bin")) }
        try batch(4, 0).write(to: URL(fileURLWithPath: dir + "/test_batch.bin"))
        return f
    }

    /// WRN-10-1 on 4 test images, batch 2, for `epochs` epochs of the first `train` training images.
    private func wrn(epochs: Int = 1, train: Int = 4) -> [String] {
        ["sparse-train", "--model", "cifar10_WideResNet", "--layers", "10", "--widen-factor", "1", "--epochs", "\(epochs)",
         "--train-size", "\(train)", "--test-size", "4", "-b", "2", "--no-validate-train", "--threads", "1", "--no-progress",
         "--schedule-file", "s.yaml"]
    }

    private func json(_ f: CLIFixture, _ p: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(f.read(p).utf8)) as? [String: Any], f.read(p))
    }

    /// The densities of the JSON and their active weights (density × the layer's weights).
    private func active(_ j: [String: Any]) throws -> [Double] {
        let d = try XCTUnwrap(j["density"] as? [Double])
        XCTAssertEqual(d.count, 6, "one density per sparse convolution")
        return zip(d, convWeights).map { ($0 * $1).rounded() }
    }

    func testStaticDSRAndDeepRKeepTheirBudgetsOnTheConvolutions() throws {
        let f = try fixture()
        let half = convWeights.map { $0 / 2 }
        // static, the defaults (--initial-sparsity-conv 0.5, --sub-kernel-granularity 2: kernel patches), --data cifar10
        var r = try f.run(wrn() + ["--runs-dir", "static"])
        XCTAssertEqual(r.status, 0, r.output)
        for line in ["sparse-train: cifar10_WideResNet, method static on cifar10 (4 training, 4 test images)",
                     "{'sparse': 36864, 'tied': 0, 'fixed': 4122, 'learnable': 40986}", "nn.SparseTrainCIFARInput",
                     "setting learning rate to 0.1\n", "test * Prec@1 ", "Best accuracy: ",
                     "per-layer density 0.5000 0.5000 0.5000 0.5000 0.5000 0.5000"] {
            XCTAssertTrue(r.stdout.contains(line), "\(line) in\n\(r.stdout)")
        }
        var j = try json(f, "static/cifar10_WideResNet_0.json")
        XCTAssertEqual(try active(j), half)
        let names = try XCTUnwrap(j["layers"] as? [String])
        XCTAssertEqual(names.map { String($0.prefix(25)) },
                       ["conv2 (16 -> 16, 3x3) at ", "conv3 (16 -> 16, 3x3) at ", "conv4 (16 -> 32, 3x3) at ",
                        "conv5 (32 -> 32, 3x3) at ", "conv7 (32 -> 64, 3x3) at ", "conv8 (64 -> 64, 3x3) at "],
                       "the 3x3 convolutions of the blocks; conv1 (the first) and conv6, conv9 (the shortcuts) stay dense")
        XCTAssertEqual((j["layer_density"] as? [[Double]])?.count, 1)
        var size = try XCTUnwrap(j["model_size"] as? [String: Double])
        XCTAssertEqual(size["fixed"], fixed)
        XCTAssertEqual(j["method"] as? String, "static")
        let args = try XCTUnwrap(j["args"] as? [String: Any])
        XCTAssertEqual(args["initial_sparsity_fc"] as? Double, 0, "the Linear is dense")
        XCTAssertEqual(args["sub_kernel_granularity"] as? Double, 2)
        XCTAssertEqual(args["data"] as? String, "cifar10")
        XCTAssertEqual(args["augment"] as? Bool, true)

        // DSR: the global count of active patches stays, the layers' shares may move
        r = try f.run(wrn() + ["--runs-dir", "dsr", "--rewire", "--threshold-prune", "--rewire-scaling", "--n-prune-params", "50"])
        XCTAssertEqual(r.status, 0, r.output)
        for line in ["rewiring every 1 iterations", "rewiring at iteration 1\n", "threshold is "] {
            XCTAssertTrue(r.stdout.contains(line), "\(line) in\n\(r.stdout)")
        }
        let rewiring = try XCTUnwrap(r.stdout.components(separatedBy: "\n").first { $0.hasPrefix("n_grown : ") })
        let counts = rewiring.components(separatedBy: CharacterSet.decimalDigits.inverted).compactMap { Int($0) }
        XCTAssertEqual(counts.count, 2)
        XCTAssertEqual(counts.first, counts.last, "DSR regrows what it pruned: \(rewiring)")
        j = try json(f, "dsr/cifar10_WideResNet_0.json")
        XCTAssertEqual(try active(j).reduce(0, +), 36864, "the global budget")
        XCTAssertTrue(try active(j).allSatisfy { $0.truncatingRemainder(dividingBy: 9) == 0 }, "whole 3x3 patches")
        size = try XCTUnwrap(j["model_size"] as? [String: Double])
        XCTAssertEqual(size["sparse"], 36864)

        // DeepR at the granularity of single weights: each layer keeps its count
        r = try f.run(wrn() + ["--runs-dir", "deepr", "--DeepR", "--sub-kernel-granularity", "4", "--L1-loss-coeff", "1e-4", "-p", "1"])
        XCTAssertEqual(r.status, 0, r.output)
        for line in ["  connections\n", "grown "] { XCTAssertTrue(r.stdout.contains(line), "\(line) in\n\(r.stdout)") }
        j = try json(f, "deepr/cifar10_WideResNet_0.json")
        XCTAssertEqual(try active(j), half)
        XCTAssertEqual(j["method"] as? String, "deepr")
    }

    func testGradualPruningPrunesTheConvolutionsToTheirTarget() throws {
        let f = try fixture()
        let r = try f.run(wrn(train: 2) + ["--prune", "--prune-iterations", "1", "--start-pruning-after-epoch", "0", "--prune-epoch-frequency", "1",
                                 "--post-prune-epochs", "1", "--prune-target-sparsity-conv", "0.75"])
        XCTAssertEqual(r.status, 0, r.output)
        for line in ["prune fraction fc : 0.0 , prune_fraction conv : 0.75 ", "nepochs 1",
                     "{'sparse': 73728, 'tied': 0, 'fixed': 4122, 'learnable': 77850}",
                     "{'sparse': 18432, 'tied': 0, 'fixed': 4122, 'learnable': 22554}"] {
            XCTAssertTrue(r.stdout.contains(line), "\(line) in\n\(r.stdout)")
        }
        let j = try json(f, "runs/cifar10_WideResNet_0_target_0.0,0.75.json")
        XCTAssertEqual(try active(j), convWeights.map { $0 / 4 }, "int(0.75·patches) pruned from each dense layer")
        let history = try XCTUnwrap(j["layer_density"] as? [[Double]])
        XCTAssertEqual(history, [Array(repeating: 0.25, count: 6)], "pruned after epoch 0 (0 + 1·(1 - 1) + 1 epochs)")
    }

    func testFilterMasksSparseShortcutsGroupLassoAndResume() throws {
        let f = try fixture()
        // masks over whole filters (g = 1), the shortcuts sparse too, the group lasso on the patches
        let flags = ["--sub-kernel-granularity", "1", "--sparse-resnet-downsample", "--initial-sparsity-conv", "0.75",
                     "--conv-group-lasso", "--L1-loss-coeff", "1e-4", "--rewire"]
        var r = try f.run(wrn(train: 2) + flags)
        XCTAssertEqual(r.status, 0, r.output)
        var j = try json(f, "runs/cifar10_WideResNet_0.json")
        let d = try XCTUnwrap(j["density"] as? [Double])
        XCTAssertEqual(d, Array(repeating: 0.25, count: 8), "6 + 2 shortcut convolutions, int(0.25·filters + 0.1) filters each")
        let names = try XCTUnwrap(j["layers"] as? [String])
        XCTAssertTrue(names[4].hasPrefix("conv6 (16 -> 32, 1x1)"), "\(names)")
        // resumed for a second epoch from its checkpoint and training state
        r = try f.run(wrn(epochs: 2, train: 2) + flags + ["--runs-dir", "resumed", "--resume", "runs/cifar10_WideResNet_0.safetensors"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("=> loaded training state 'runs/cifar10_WideResNet_0.state.safetensors' (epoch 1, iteration 1)"), r.stdout)
        j = try json(f, "resumed/cifar10_WideResNet_0.json")
        XCTAssertEqual(j["density"] as? [Double], Array(repeating: 0.25, count: 8), "SET keeps each layer's filters")
        XCTAssertEqual((j["test_prec1"] as? [Double])?.count, 1, "the resumed epoch only")
    }

    func testTiedAndSETRunOnTheConvolutions() throws {
        let f = try fixture()
        var r = try f.run(wrn(train: 2) + ["--tied", "--runs-dir", "tied"])
        XCTAssertEqual(r.status, 0, r.output)
        var j = try json(f, "tied/cifar10_WideResNet_0.json")
        var size = try XCTUnwrap(j["model_size"] as? [String: Double])
        XCTAssertEqual(size["tied"], 36864, "round(0.5·n) values per layer")
        XCTAssertEqual(size["sparse"], 0)
        r = try f.run(wrn() + ["--rewire", "--runs-dir", "set", "--no-augment"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("rewiring at iteration 1\n"), r.stdout)
        j = try json(f, "set/cifar10_WideResNet_0.json")
        XCTAssertEqual(try active(j), convWeights.map { $0 / 2 }, "SET keeps each layer's count")
        size = try XCTUnwrap(j["model_size"] as? [String: Double])
        XCTAssertEqual(size["sparse"], 36864)
    }

    /// The same seed gives the same model file, bit for bit; --copy-mask-from takes a run's
    /// masks into a run of another seed.
    func testTheSameSeedGivesTheSameBitsAndMasksCopy() throws {
        let f = try fixture()
        for dir in ["a", "b"] {
            let r = try f.run(wrn(train: 2) + ["--seed", "4", "--runs-dir", dir])
            XCTAssertEqual(r.status, 0, r.output)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: f.path("a/cifar10_WideResNet_0.safetensors"))),
                       try Data(contentsOf: URL(fileURLWithPath: f.path("b/cifar10_WideResNet_0.safetensors"))))
        let r = try f.run(wrn(train: 2) + ["--seed", "9", "--runs-dir", "c", "--copy-mask-from", "a/cifar10_WideResNet_0.safetensors"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("=> loaded masks from 'a/cifar10_WideResNet_0.safetensors'"), r.stdout)
        // (the model files hold the Lua module of the input transform: a script defines it, then loads them)
        try f.write("""
            require 'lib.sparsetrain.cifar'
            local a, c = wb.layers(wb.loadModel(arg[1])), wb.layers(wb.loadModel(arg[2]))
            local n = 0
            for i, m in ipairs(a) do
              if m.mask then
                n = n + 1
                assert(c[i].mask and (m.mask - c[i].mask):abs():max() == 0, 'the mask of leaf ' .. i)
              end
            end
            print('masks equal: ' .. n)

            """, to: "compare.lua")
        let m = try f.run(["run", "compare.lua", "a/cifar10_WideResNet_0.safetensors", "c/cifar10_WideResNet_0_initial.safetensors"])
        XCTAssertEqual(m.status, 0, m.output)
        XCTAssertTrue(m.stdout.contains("masks equal: 6"), m.output)
    }

    func testBadCombinationsAreRefused() throws {
        let f = try fixture()
        let w = ["--model", "cifar10_WideResNet"]
        let cases: [([String], String)] = [
            (w + ["--layers", "12"], "--layers must be 6n+4 for a wide ResNet"),
            (w + ["--sub-kernel-granularity", "5"], "--sub-kernel-granularity must be in 1...4 for cifar10_WideResNet, got 5"),
            (w + ["--sub-kernel-granularity", "0"], "--sub-kernel-granularity must be in 1...1000, got 0"),
            (w + ["--DeepR"], "--DeepR with --sub-kernel-granularity 2"),
            (w + ["--initial-sparsity-fc", "0.5"], "cifar10_WideResNet's Linear is dense"),
            (w + ["--prune", "--prune-target-sparsity-fc", "0.9"], "--prune-target-sparsity-fc 0.9: cifar10_WideResNet's Linear is dense"),
            (w + ["--thin-dense"], "--thin-dense is mnist_mlp's baseline"),
            (w + ["--no-batch-norm"], "--no-batch-norm applies to mnist_mlp"),
            (w + ["--conv-group-lasso"], "--conv-group-lasso replaces the L1 term"),
            (w + ["--conv-group-lasso", "--tied", "--L1-loss-coeff", "1e-4"], "the group lasso on tied values is not built"),
            (w + ["--rewire", "--initial-sparsity-conv", "0"], "--rewire moves the connections of a sparse net: give --initial-sparsity-conv"),
            (w + ["--tied", "--initial-sparsity-conv", "0"], "--tied needs a budget: --initial-sparsity-conv"),
            (w + ["--prune", "--initial-sparsity-conv", "0.6", "--prune-target-sparsity-conv", "0.5"],
             "--prune: the target sparsity 0.5 (--prune-target-sparsity-conv) must exceed the initial sparsity 0.6 (--initial-sparsity-conv)"),
            (w + ["--widen-factor", "0.01"], "leaves the wide ResNet's first stage without planes"),
            (["--sparse-resnet-downsample"], "--sparse-resnet-downsample applies to convolution layers; mnist_mlp has none"),
            (["--conv-group-lasso"], "--conv-group-lasso applies to convolution layers; mnist_mlp has none"),
            (["--model", "imagenet_resnet50"], "--model imagenet_resnet50 needs an ImageNet loader"),
        ]
        try f.assertRefused(cases, prefix: ["sparse-train", "--threads", "1", "--schedule-file", "s.yaml"])
        XCTAssertFalse(f.exists("runs"), "nothing written")
        let m = try f.run(wrn() + ["--data", "fashion-mnist"])
        XCTAssertEqual(m.status, 1, m.output)
        XCTAssertTrue(m.stderr.contains("--data fashion-mnist: cifar10_WideResNet takes 3x32x32 images of 10 classes (CIFAR-10), the set has 1x28x28"), m.stderr)
    }
}
