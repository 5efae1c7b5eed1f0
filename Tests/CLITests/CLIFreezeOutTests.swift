import Engine
import Foundation
import XCTest

/// `workbench freezeout` end to end on the fixture's 8x8 images (256 training, 64 test) with
/// a 3-layer model file written here: its output lines, the jsonl log, the model file, the
/// booleans, --const_time, determinism, and every bad flag refused before any work.
final class CLIFreezeOutTests: XCTestCase {
    /// 64 → 16 → 12 → 10 with tanh: layers 1-3 (modules 1-3), 2 (4-5), 3 (6).
    private func fixture() throws -> CLIFixture {
        let f = try CLIFixture()
        try f.write("""
            local net = nn.Sequential():add(nn.View(64)):add(nn.Linear(64, 16)):add(nn.Tanh())
            net:add(nn.Linear(16, 12)):add(nn.Tanh()):add(nn.Linear(12, 10))
            return net
            """, to: "tiny.lua")
        return f
    }

    private func options(_ f: CLIFixture) -> [String] {
        ["freezeout", "--model", "tiny.lua", "--data", f.path("data"), "--batch_size", "32", "--threads", "1"]
    }

    func testARunPrintsItsLinesWritesTheLogAndTheModel() throws {
        let f = try fixture()
        let r = try f.run(options(f) + ["--epochs", "2", "--name", "t", "--out", "runs"])
        XCTAssertEqual(r.status, 0, r.output)
        // t = 0.512, 0.729, 1 of J = 2 · 8 = 16 iterations: layer 1 after 9, layer 2 after 12.
        for line in ["Estimated speedup is ", "Currently have 2 active layers (layer 1 frozen after 9 of 16 iterations)",
                     "Currently have 1 active layers (layer 2 frozen after 12 of 16 iterations)",
                     "epoch 2/2: training loss", "[8/8]"] {
            XCTAssertTrue(r.stdout.contains(line), "\(line) in\n\(r.stdout)")
        }
        let log = f.read("runs/logs/t_log.jsonl").split(separator: "\n")
        XCTAssertEqual(log.count, 2, f.read("runs/logs/t_log.jsonl"))
        for (k, line) in log.enumerated() {
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertEqual(Set(record?.keys.map { $0 } ?? []), ["epoch", "train_loss", "val_loss", "val_err", "_stamp"])
            XCTAssertEqual(record?["epoch"] as? Int, k + 1)
            let err = record?["val_err"] as? Double ?? -1
            XCTAssertTrue(err >= 0 && err <= 100, "\(line)")
        }
        let model = try ModelFile.load(f.path("runs/t.safetensors"))
        XCTAssertEqual(model.count, 6)
        let test = try Datasets.load(path: f.path("data")).test
        let err = try evaluate(model, on: test).errorPercent
        XCTAssertTrue(r.stdout.contains(String(format: "Test error %.2f%%", err)), "the saved model is the one tested:\n\(r.stdout)")
        // The same flags again: the same bits (seeded weights, order, schedule).
        let again = try f.run(options(f) + ["--epochs", "2", "--name", "t2", "--out", "runs"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: f.path("runs/t.safetensors"))),
                       try Data(contentsOf: URL(fileURLWithPath: f.path("runs/t2.safetensors"))))
    }

    /// --scale_lr false really is false (every layer starts at --lr), true scales by 1/t_i;
    /// the default name says which; --t_0 1 freezes nothing.
    func testBooleansAreBooleansAndTheDefaultNameSaysSo() throws {
        let f = try fixture()
        for (value, scaled) in [("false", false), ("False", false), ("0", false), ("true", true), ("TRUE", true)] {
            let r = try f.run(options(f) + ["--epochs", "1", "--scale_lr", value, "--lr", "0.05", "--out", "o"])
            XCTAssertEqual(r.status, 0, r.output)
            XCTAssertTrue(r.stdout.contains("t = 0.5120, lr \(scaled ? "0.09766" : "0.05"),"), "--scale_lr \(value):\n\(r.stdout)")
            XCTAssertTrue(r.stdout.contains(scaled ? ", scaled;" : ", unscaled;"), r.stdout)
            let name = "tiny_ice80_cubic\(scaled ? "Scaled" : "Unscaled")_seed0_epochs1"
            XCTAssertTrue(f.exists("o/logs/\(name)_log.jsonl") && f.exists("o/\(name).safetensors"), "\(name): \(f.files(in: "o"))")
        }
        let base = try f.run(options(f) + ["--epochs", "1", "--t_0", "1", "--out", "o"])
        XCTAssertEqual(base.status, 0, base.output)
        XCTAssertTrue(base.stdout.contains("Estimated speedup is 0.0%."), base.stdout)
        XCTAssertFalse(base.stdout.contains("Currently have"), base.stdout)
    }

    /// --const_time runs epochs/(1 − s) epochs, rounded: s = 20.6% here, 4/(1 − 0.206) = 5.03 → 5.
    func testConstantTimeLengthensTheRun() throws {
        let f = try fixture()
        let r = try f.run(options(f) + ["--epochs", "4", "--const_time", "--name", "c", "--out", "o"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("Constant time: 5 epochs instead of 4"), r.stdout)
        XCTAssertEqual(f.read("o/logs/c_log.jsonl").split(separator: "\n").count, 5)
    }

    func testBadFlagsAreRefusedBeforeAnyWork() throws {
        let f = try fixture()
        let usage: [([String], String)] = [
            (["--t_0", "0"], "--t_0 must be in (0, 1], got 0"),
            (["--t_0", "1.5"], "--t_0 must be in (0, 1], got 1.5"),
            (["--t_0", "nan"], "--t_0 must be in (0, 1], got nan"),
            (["--how_scale", "quartic"], "--how_scale must be linear, squared or cubic, got quartic"),
            (["--scale_lr", "maybe"], "--scale_lr must be true or false, got maybe"),
            (["--epochs", "0"], "--epochs must be in 1...10000, got 0"),
            (["--batch_size", "-3"], "--batch_size must be in 1...4096, got -3"),
            (["--lr", "0"], "--lr must be a finite learning rate in (0, 10], got 0"),
            (["--momentum", "1"], "--momentum must be in [0, 1), got 1"),
            (["--weight_decay", "-1"], "--weight_decay must be in [0, 1], got -1"),
            (["--seed", "x"], "--seed must be an integer"),
            (["--threads", "0"], "-threads must be in 1...256, got 0"),
            (["--name", "a/b"], "--name must be a non-empty name without '/'"),
            (["--bogus"], "Unknown option '--bogus'"),
        ]
        for (flags, message) in usage {
            let r = try f.run(options(f) + flags)
            XCTAssertEqual(r.status, 64, "\(flags): \(r.output)")
            XCTAssertTrue(r.stderr.contains(message), "\(flags): \(r.stderr)")
            XCTAssertEqual(r.stdout, "", "\(flags): no work")
        }
        let failures: [([String], String)] = [
            (["--model", "nosuch"], "unknown model 'nosuch'; known: conv4, conv48-2, convnet-bn, densenet-bc, densenet-bc-100, densenet-bc-40, edge-popup, lenet300-100, lenet5, lenet5-classic, mnist-mlp, resnet-cifar"),
            (["--model", "missing.lua"], "--model missing.lua: no such file"),
            (["--data", f.path("nodata")], "nodata"),
        ]
        for (flags, message) in failures {
            let r = try f.run(options(f) + flags)
            XCTAssertEqual(r.status, 1, "\(flags): \(r.output)")
            XCTAssertTrue(r.stderr.contains("workbench: error:") && r.stderr.contains(message), "\(flags): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("Backtracing"), r.stderr)
        }
        XCTAssertFalse(f.exists("out/freezeout/logs"), "no log written: \(f.files(in: "out/freezeout"))")
        let help = try f.run(["freezeout", "--help"])
        XCTAssertEqual(help.status, 0)
        for text in ["--t_0", "--how_scale", "--scale_lr", "<true|false>", "--const_time", "--threads <threads>", "--train_size",
                     "(default: 0.8)", "(default: 50)", "0.0001)", "workbench freezeout --t_0 1 --name baseline"] {
            XCTAssertTrue(help.stdout.contains(text), "\(text) in\n\(help.stdout)")
        }
    }
}
