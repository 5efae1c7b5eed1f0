import Engine
import Foundation
import XCTest

/// `workbench sparse-train` end to end on a few Fashion-MNIST images (mnist_mlp, batch 100):
/// the original's stdout lines, the output files and their JSON, the defaults of every seed
/// flag, determinism, and every bad value or impossible combination refused before any work.
/// (Runs are kept to a few iterations: a debug build trains mnist_mlp slowly.)
final class CLISparseTrainTests: XCTestCase {
    /// Rewiring every 2 iterations, so that a short run rewires.
    private let schedule = """
        lr_schedule:
          - 0 : 0.1
          - 1 : 0.05
        rewire_period_schedule:
          - 0 : 2
        DeepR_temperature_schedule:
          - 0 : 1.0e-3

        """

    private func fixture() throws -> CLIFixture {
        let f = try CLIFixture()
        try f.write(schedule, to: "s.yaml")
        return f
    }

    private let small = ["sparse-train", "--data", "fashion-mnist", "--train-size", "200", "--test-size", "100", "-b", "100",
                         "--threads", "1", "--no-progress", "--schedule-file", "s.yaml"]

    private func json(_ f: CLIFixture, _ p: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(f.read(p).utf8)) as? [String: Any], f.read(p))
    }

    func testDSRPrintsTheOriginalsLinesAndWritesItsFiles() throws {
        let f = try fixture()
        let r = try f.run(small + ["--epochs", "2", "--rewire", "--threshold-prune", "--rewire-scaling", "--weight-decay", "0",
                                   "--L1-loss-coeff", "1e-4", "--job-idx", "3"])
        XCTAssertEqual(r.status, 0, r.output)
        for line in ["setting learning rate to 0.1\n", "setting learning rate to 0.05\n", "rewiring every 2 iterations",
                     "rewiring at iteration 2\n", "n_grown : ", "threshold is 0.002\n",
                     "{'sparse': 5324, 'tied': 0, 'fixed': 820, 'learnable': 6144}", "train * Prec@1 ", "test * Prec@1 ",
                     "epoch time ", "Best accuracy: "] {
            XCTAssertTrue(r.stdout.contains(line), "\(line) in\n\(r.stdout)")
        }
        XCTAssertFalse(r.stdout.contains("rewiring at iteration 0\n"), "never at iteration 0")
        XCTAssertEqual(f.files(in: "runs").filter { !$0.hasPrefix(".") },
                       ["mnist_mlp_3.json", "mnist_mlp_3.safetensors", "mnist_mlp_3.state.safetensors", "mnist_mlp_3_initial.json",
                        "mnist_mlp_3_initial.safetensors"])
        let j = try json(f, "runs/mnist_mlp_3.json")
        for key in ["train_loss", "val_loss", "test_loss", "train_prec1", "val_prec1", "test_prec1", "train_prec5", "val_prec5", "test_prec5"] {
            XCTAssertEqual((j[key] as? [Double])?.count, 2, key)
        }
        let size = try XCTUnwrap(j["model_size"] as? [String: Double])
        XCTAssertEqual(size["sparse"], 5324, "DSR's global budget")
        XCTAssertEqual(size["learnable"], 5324 + 820)
        XCTAssertEqual((j["density"] as? [Double])?.count, 3)
        XCTAssertEqual(j["method"] as? String, "dsr")
        let test1 = try XCTUnwrap(j["test_prec1"] as? [Double]), test5 = try XCTUnwrap(j["test_prec5"] as? [Double])
        XCTAssertTrue(zip(test1, test5).allSatisfy { $0 <= $1 }, "top-5 is at least top-1")
        XCTAssertEqual(j["best_prec1"] as? Double, test1.max())
    }

    func testEverySeedFlagHasItsDefault() throws {
        let f = try fixture()
        let r = try f.run(small + ["--epochs", "1", "--no-validate-train"])
        XCTAssertEqual(r.status, 0, r.output)
        let args = try XCTUnwrap(try json(f, "runs/mnist_mlp_0.json")["args"] as? [String: Any])
        let defaults: [String: Any] = [
            "epochs": 1, "start_epoch": 0, "model": "mnist_mlp", "batch_size": 100, "lr": 0.1, "momentum": 0.9, "nesterov": true,
            "weight_decay": 0.0001, "L1_loss_coeff": 0, "print_freq": 10, "layers": 28, "start_pruning_after_epoch": 20,
            "prune_epoch_frequency": 2, "prune_target_sparsity_fc": 0.98, "prune_target_sparsity_conv": 0.5,
            "prune_iterations": 1, "post_prune_epochs": 10, "n_prune_params": 600, "threshold_prune": false, "prune": false,
            "validate_set": false, "rewire_scaling": false, "tied": false, "rescale_tied_gradient": false, "rewire": false,
            "no_validate_train": true, "DeepR": false, "DeepR_eta": 0.001, "stop_rewire_epoch": 1000, "no_batch_norm": false,
            "rewire_fraction": 0.1, "sub_kernel_granularity": 2, "cubic_prune_schedule": false, "sparse_resnet_downsample": false,
            "conv_group_lasso": false, "big_new_weights": false, "widen_factor": 10, "initial_sparsity_conv": 0.5,
            "initial_sparsity_fc": 0.98, "job_idx": 0, "augment": true, "workers": 8, "copy_mask_from": "", "resume": "",
            "name": "WideResNet-28-10", "method": "static", "seed": 0,
        ]
        for (k, v) in defaults {
            switch v {
            case let b as Bool: XCTAssertEqual(args[k] as? Bool, b, k)
            case let s as String: XCTAssertEqual(args[k] as? String, s, k)
            case let x as Int: XCTAssertEqual(args[k] as? Double, Double(x), k)
            case let x as Double: XCTAssertEqual(args[k] as? Double, x, k)
            default: XCTFail(k)
            }
        }
        // --epochs defaults to the original's 100, --data to mnist (data/mnist/, absent here)
        let d = try f.run(["sparse-train", "--threads", "1", "--no-progress", "--schedule-file", "s.yaml"])
        XCTAssertNotEqual(d.status, 0)
        XCTAssertTrue(d.stderr.contains("--data mnist: "), d.output)
    }

    func testTheSameSeedGivesTheSameBits() throws {
        let f = try fixture()
        for dir in ["a", "b"] {
            let r = try f.run(small + ["--epochs", "1", "--rewire", "--no-validate-train", "--seed", "5", "--runs-dir", dir])
            XCTAssertEqual(r.status, 0, r.output)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: f.path("a/mnist_mlp_0.safetensors"))),
                       try Data(contentsOf: URL(fileURLWithPath: f.path("b/mnist_mlp_0.safetensors"))))
    }

    func testEveryMethodRunsAtItsBudget() throws {
        let f = try fixture()
        let runs: [([String], String, Double, Double)] = [
            (["--DeepR", "--L1-loss-coeff", "1e-4"], "deepr", 5324, 0),
            (["--tied"], "tied", 0, 5324),
            (["--rewire"], "set", 5324, 0),
            (["--thin-dense"], "thin-dense", 784 * 7 + 7 * 2 + 2 * 10, 0),
            (["--prune", "--prune-iterations", "2", "--start-pruning-after-epoch", "0", "--prune-epoch-frequency", "1",
              "--post-prune-epochs", "1", "--prune-target-sparsity-fc", "0.9"], "prune", -1, 0),
        ]
        for (extra, method, sparse, tied) in runs {
            let r = try f.run(small + ["--epochs", "1", "--no-validate-train", "--runs-dir", method] + extra)
            XCTAssertEqual(r.status, 0, r.output)
            let name = method == "prune" ? "mnist_mlp_0_target_0.9,0.5.json" : "mnist_mlp_0.json"
            let j = try json(f, method + "/" + name)
            XCTAssertEqual(j["method"] as? String, method)
            let size = try XCTUnwrap(j["model_size"] as? [String: Double])
            if sparse >= 0 { XCTAssertEqual(size["sparse"], sparse, method) }
            XCTAssertEqual(size["tied"], tied, method)
            if method == "prune" {
                // 2 prunes of 1 - 0.1^(1/2) each: about 10% left, per layer
                let d = try XCTUnwrap(j["density"] as? [Double])
                XCTAssertTrue(d.allSatisfy { abs($0 - 0.1) < 0.01 }, "\(d)")
                XCTAssertTrue(r.stdout.contains("nepochs 2"), r.stdout)
            }
        }
    }

    func testMasksCopiedFromARunAndARunResumed() throws {
        let f = try fixture()
        var r = try f.run(small + ["--epochs", "1", "--no-validate-train", "--runs-dir", "a"])
        XCTAssertEqual(r.status, 0, r.output)
        r = try f.run(small + ["--epochs", "1", "--no-validate-train", "--runs-dir", "b", "--seed", "9",
                               "--copy-mask-from", "a/mnist_mlp_0.safetensors"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("=> loaded masks from 'a/mnist_mlp_0.safetensors'"), r.stdout)
        // Masks as the model files give them back (standard files store them compactly).
        let a = try SafetensorsFile(contentsOf: f.path("a/mnist_mlp_0.safetensors"))
        let ma = try ModelFile.load(f.path("a/mnist_mlp_0.safetensors"))
        let mb = try ModelFile.load(f.path("b/mnist_mlp_0_initial.safetensors"))
        for i in [1, 4, 7] {
            XCTAssertEqual(try XCTUnwrap(ma.modules[i].weight?.mask, "\(i).weight_mask").scalars,
                           try XCTUnwrap(mb.modules[i].weight?.mask, "\(i).weight_mask").scalars, "\(i).weight_mask")
        }
        r = try f.run(small + ["--epochs", "2", "--start-epoch", "1", "--no-validate-train", "--runs-dir", "c",
                               "--resume", "a/mnist_mlp_0.safetensors"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("=> loaded checkpoint 'a/mnist_mlp_0.safetensors'"), r.stdout)
        let c = try SafetensorsFile(contentsOf: f.path("c/mnist_mlp_0_initial.safetensors"))
        XCTAssertEqual(try XCTUnwrap(a.tensor("1.weight")).scalars, try XCTUnwrap(c.tensor("1.weight")).scalars)
        XCTAssertEqual((try json(f, "c/mnist_mlp_0.json")["test_prec1"] as? [Double])?.count, 1, "epoch 1 of 2 only")
    }

    /// k epochs, then --resume for the rest: the bits of the unbroken run (momentum, the
    /// iteration count that places the rewire period, DSR's threshold, DeepR's active order,
    /// both generators), for DSR and DeepR.
    func testARunResumedGivesTheBitsOfTheUnbrokenRun() throws {
        let f = try fixture()
        let methods: [(String, [String])] = [
            ("dsr", ["--rewire", "--threshold-prune", "--rewire-scaling", "--weight-decay", "0", "--L1-loss-coeff", "1e-4"]),
            ("deepr", ["--DeepR", "--DeepR_eta", "1", "--L1-loss-coeff", "1e-4"]),
        ]
        for (method, flags) in methods {
            let run = small + flags + ["--no-validate-train", "--seed", "3"]
            var r = try f.run(run + ["--epochs", "3", "--runs-dir", method + "-whole"])
            XCTAssertEqual(r.status, 0, r.output)
            if method == "deepr" {
                // the original's per-layer lines at batch 0 of each epoch (--print-freq 10, 2 batches):
                // 3 layers x 3 epochs; the just-grown line from the second rewiring on; grown at 0
                // (sign 0), a just-grown weight cannot flip at once
                let lines = r.stdout.split(separator: "\n")
                XCTAssertEqual(lines.filter { $0.hasPrefix("pruned ") && $0.hasSuffix("  connections") }.count, 9, r.stdout)
                XCTAssertEqual(lines.filter { $0.hasPrefix("grown ") && $0.hasSuffix("  connections") }.count, 9, r.stdout)
                XCTAssertEqual(lines.filter { $0 == "pruned 0 (0.0 %) just grown weights" }.count, 6, r.stdout)
            }
            r = try f.run(run + ["--epochs", "2", "--runs-dir", method + "-first"])
            XCTAssertEqual(r.status, 0, r.output)
            r = try f.run(run + ["--epochs", "3", "--runs-dir", method + "-rest", "--resume", method + "-first/mnist_mlp_0.safetensors"])
            XCTAssertEqual(r.status, 0, r.output)
            XCTAssertTrue(r.stdout.contains("=> loaded training state '\(method)-first/mnist_mlp_0.state.safetensors' (epoch 2, iteration 4)"),
                          r.stdout)
            if method == "dsr" { XCTAssertTrue(r.stdout.contains("rewiring at iteration 4\n"), r.stdout) }
            for file in ["mnist_mlp_0.safetensors", "mnist_mlp_0.state.safetensors"] {
                XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: f.path(method + "-whole/" + file))),
                               try Data(contentsOf: URL(fileURLWithPath: f.path(method + "-rest/" + file))), "\(method): \(file)")
            }
            let whole = try XCTUnwrap(try json(f, method + "-whole/mnist_mlp_0.json")["test_loss"] as? [Double])
            XCTAssertEqual(try json(f, method + "-rest/mnist_mlp_0.json")["test_loss"] as? [Double], [whole[2]], method)
            XCTAssertEqual(try json(f, method + "-rest/mnist_mlp_0.json")["threshold"] as? Double,
                           try json(f, method + "-whole/mnist_mlp_0.json")["threshold"] as? Double, method)
        }
        // A --start-epoch that contradicts the state is refused; a model file alone resumes weights only.
        var r = try f.run(small + ["--epochs", "3", "--runs-dir", "x", "--start-epoch", "1", "--resume", "dsr-first/mnist_mlp_0.safetensors"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--start-epoch 1: the training state of --resume dsr-first/mnist_mlp_0.safetensors is at epoch 2"), r.output)
        r = try f.run(small + ["--epochs", "2", "--runs-dir", "x", "--resume", "dsr-whole/mnist_mlp_0.safetensors"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("its training state is at epoch 3, which leaves none of the 2 epochs"), r.output)
        r = try f.run(small + ["--epochs", "1", "--no-validate-train", "--runs-dir", "y", "--resume", "dsr-first/mnist_mlp_0_initial.safetensors"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("=> no training state 'dsr-first/mnist_mlp_0_initial.state.safetensors'"), r.stdout)
    }

    func testBadValuesAndImpossibleCombinationsAreRefusedBeforeAnyWork() throws {
        let f = try fixture()
        try f.write("lr_schedule:\n  - 0 : 0.1\n  - 10 : 0.01\n  - 5 : 0.001\n", to: "bad.yaml")
        try f.write("lr_schedule:\n  - 0 : 0.1\n", to: "lr-only.yaml")
        let cases: [([String], String)] = [
            (["--epochs", "0"], "--epochs must be in 1...100000, got 0"),
            (["--lr", "-1"], "--lr must be a learning rate in [0, 10], got -1"),
            (["--momentum", "1"], "--momentum must be in [0, 1), got 1"),
            (["--nesterov", "maybe"], "--nesterov must be true or false, got maybe"),
            (["-b", "0"], "--batch-size must be in 1...4096, got 0"),
            (["--momentum", "0"], "--nesterov true needs a momentum > 0"),
            (["--initial-sparsity-fc", "1"], "--initial-sparsity-fc must be in [0, 1), got 1"),
            (["--rewire-fraction", "0"], "--rewire-fraction must be in (0, 1), got 0"),
            (["--DeepR_eta", "nan"], "--DeepR_eta must be > 0 and <= 10, got nan"),
            (["--model", "resnet"], "--model must be one of mnist_mlp, cifar10_WideResNet, imagenet_resnet50, got resnet"),
            (["--model", "imagenet_resnet50"], "issue 15"),
            (["--rewire", "--DeepR"], "--rewire and --DeepR are different methods"),
            (["--tied", "--prune"], "--tied and --prune are different methods"),
            (["--threshold-prune"], "--threshold-prune is DSR's pruning rule: it needs --rewire"),
            (["--rewire-scaling"], "--rewire-scaling moves weights between layers when rewiring: it needs --rewire"),
            (["--big-new-weights"], "--big-new-weights sets the value of regrown connections: it needs --rewire or --DeepR"),
            (["--rescale-tied-gradient"], "it needs --tied"),
            (["--cubic-prune-schedule"], "it needs --prune"),
            (["--conv-group-lasso"], "--conv-group-lasso applies to convolution layers; mnist_mlp has none"),
            (["--tied", "--initial-sparsity-fc", "0"], "--tied needs a budget"),
            (["--rewire", "--initial-sparsity-fc", "0"], "--rewire moves the connections of a sparse net"),
            (["--prune", "--initial-sparsity-fc", "0.99"], "must exceed the initial sparsity 0.99"),
            (["--resume", "none.safetensors"], "--resume none.safetensors: no such file"),
            (["--start-epoch", "5", "--epochs", "5"], "--start-epoch 5 leaves none of the 5 epochs"),
            (["--schedule-file", "bad.yaml"], "--schedule-file: bad.yaml:4: lr_schedule: epoch 5 comes after epoch 10: epochs must increase"),
            (["--schedule-file", "missing.yaml"], "--schedule-file: missing.yaml: cannot read the YAML file"),
            (["--schedule-file", "lr-only.yaml", "--rewire"], "--rewire needs a rewire_period_schedule"),
            (["--schedule-file", "lr-only.yaml", "--DeepR"], "--DeepR needs a DeepR_temperature_schedule"),
            (["--bogus"], "Unknown option '--bogus'"),
        ]
        try f.assertRefused(cases, prefix: ["sparse-train", "--threads", "1", "--schedule-file", "s.yaml"])
        XCTAssertFalse(f.exists("runs"), "nothing written")
        let d = try f.run(small + ["--data", "nowhere"])
        XCTAssertEqual(d.status, 1)
        XCTAssertTrue(d.stderr.contains("--data nowhere: "), d.stderr)
    }
}
