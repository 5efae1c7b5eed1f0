import Foundation
import RunConfig
import XCTest

/// The edge-popup config reader: every key read from a file, the overrides, and each error
/// naming the file, the line (or the flag) and the key.
final class EdgePopupConfigTests: XCTestCase {
    func parse(_ text: String, _ overrides: [String] = []) throws -> EdgePopupConfig {
        try EdgePopupConfig(file: try ConfigFile.parse(text, path: "c.yml"), overrides: overrides)
    }

    func assertError(_ text: String, _ overrides: [String] = [], _ expected: String, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text, overrides), line: line) { e in
            XCTAssertTrue("\(e)".hasPrefix(expected), "got: \(e)", line: line)
        }
    }

    /// A file giving every key a value other than its default: each is read.
    func testEveryKeyIsRead() throws {
        let text = """
        arch: Conv4
        set: CIFAR10
        data: somewhere
        name: run1
        log_dir: out/runs
        optimizer: adam
        lr: 0.05
        lr_policy: constant_lr
        warmup_length: 2
        epochs: 7
        weight_decay: 0.0005
        momentum: 0.5
        nesterov: True
        batch_size: 64
        conv_type: DenseConv
        bn_type: AffineBatchNorm
        freeze_weights: False
        prune_rate: 0.3
        init: xavier_normal
        scale_fan: True
        scale_fan_rule: original
        mode: fan_out
        nonlinearity: linear
        first_layer_dense: yes
        seed: 42
        print_freq: 5
        save_every: 3
        workers: 2
        train_size: 100
        test_size: 50
        """
        let c = try parse(text)
        let expected: [String: ConfigValue] = [
            "arch": .string("Conv4"), "set": .string("CIFAR10"), "data": .string("somewhere"), "name": .string("run1"),
            "log_dir": .string("out/runs"), "optimizer": .string("adam"), "lr": .double(0.05), "lr_policy": .string("constant_lr"),
            "warmup_length": .int(2), "epochs": .int(7), "weight_decay": .double(0.0005), "momentum": .double(0.5),
            "nesterov": .bool(true), "batch_size": .int(64), "conv_type": .string("DenseConv"), "bn_type": .string("AffineBatchNorm"),
            "freeze_weights": .bool(false), "prune_rate": .double(0.3), "init": .string("xavier_normal"), "scale_fan": .bool(true),
            "scale_fan_rule": .string("original"), "mode": .string("fan_out"), "nonlinearity": .string("linear"),
            "first_layer_dense": .bool(true), "seed": .int(42), "print_freq": .int(5), "save_every": .int(3), "workers": .int(2),
            "train_size": .int(100), "test_size": .int(50),
        ]
        XCTAssertEqual(Set(expected.keys), Set(EdgePopupConfig.keys.map(\.name)), "the test covers every key")
        for key in EdgePopupConfig.keys {
            XCTAssertEqual(c[key.name], expected[key.name], key.name)
            XCTAssertNotEqual(key.defaultValue, expected[key.name], "\(key.name): the test value differs from the default")
        }
        XCTAssertEqual(c.keptFraction, 1, "dense: every weight kept")
        XCTAssertEqual(c.double("prune_rate"), 0.3)
        XCTAssertTrue(c.settingsText.contains("prune_rate: 0.3    # c.yml:18"))
    }

    func testShippedConfigsAllRead() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let root = url.appendingPathComponent("inp/edge-popup/configs").path
        let files = FileManager.default.enumerator(atPath: root)!.compactMap { $0 as? String }.filter { $0.hasSuffix(".yml") }
        XCTAssertEqual(files.count, 13)
        for f in files {
            let c = try EdgePopupConfig(path: root + "/" + f, overrides: ["--prune-rate", "0.5"])
            XCTAssertEqual(c.string("name") + ".yml", (f as NSString).lastPathComponent, f)
        }
    }

    func testOverridesWinOverTheFile() throws {
        let c = try parse("prune_rate: 0.3\nepochs: 5\nname: a\n",
                          ["--prune-rate", "0.7", "--epochs=9", "--name", "b", "--scale-fan", "--lr", "0.01", "--seed", "3",
                           "--data", "d", "--first-layer-dense", "false"])
        XCTAssertEqual(c.double("prune_rate"), 0.7)
        XCTAssertEqual(c.int("epochs"), 9)
        XCTAssertEqual(c.string("name"), "b")
        XCTAssertTrue(c.bool("scale_fan"))
        XCTAssertFalse(c.bool("first_layer_dense"))
        XCTAssertEqual(c.double("lr"), 0.01)
        XCTAssertEqual(c.int("seed"), 3)
        XCTAssertEqual(c.string("data"), "d")
        XCTAssertTrue(c.settingsText.contains("prune_rate: 0.7    # command line"))
        // A dense run needs no prune_rate; its kept fraction is 1.
        XCTAssertEqual(try parse("conv_type: DenseConv\n").keptFraction, 1)
    }

    func testErrorsNameFileLineAndKey() {
        let ok = "prune_rate: 0.5\n"
        assertError(ok + "colour: red\n", [], "c.yml:2: colour: unknown key")
        assertError(ok + "arch: VGG\n", [], "c.yml:2: arch: 'VGG' is not one of FC, Conv2")
        assertError(ok + "lr: fast\n", [], "c.yml:2: lr: 'fast' is not a finite number")
        assertError(ok + "lr: 0\n", [], "c.yml:2: lr: 0 is out of range (0.0, 10.0]")
        assertError(ok + "lr: .nan\n", [], "c.yml:2: lr: '.nan' is not a finite number")
        assertError(ok + "epochs: 2.5\n", [], "c.yml:2: epochs: '2.5' is not an integer")
        assertError(ok + "epochs: 0\n", [], "c.yml:2: epochs: 0 is out of range 1...10000")
        assertError(ok + "freeze_weights: maybe\n", [], "c.yml:2: freeze_weights: 'maybe' is not True or False")
        assertError(ok + "name: ''\n", [], "c.yml:2: name: must not be empty")
        assertError("prune_rate: 1.5\n", [], "c.yml:1: prune_rate: 1.5 is out of range (0.0, 1.0]")
        assertError("prune_rate: 0\n", [], "c.yml:1: prune_rate: 0 is out of range (0.0, 1.0]")
        assertError("prune_rate: -1\n", [], "c.yml:1: prune_rate: -1 (unset): give the fraction of weights to KEEP")
        assertError("init: kaiming_normal\n", [], "c.yml: prune_rate: -1 (unset)")
        assertError(ok + "epochs: [1, 2]\n", [], "c.yml:2: epochs: the value must be a single value")
        assertError(ok + "lr: 0.1\nlr: 0.2\n", [], "c.yml:")
        assertError("- a\n- b\n", [], "c.yml:1: the config must be a mapping")
        assertError(ok + "lr: [0.1\n", [], "c.yml:")
        assertError(ok + "arch: Conv4\nset: MNIST\n", [], "c.yml:2: arch: Conv4 is a CIFAR-10 net")
        assertError(ok + "scale_fan: True\nscale_fan_rule: original\n", ["--prune-rate", "1"], "command line: --prune-rate: 1 with scale_fan_rule original")
        assertError(ok + "warmup_length: 5\nepochs: 5\n", [], "c.yml:2: warmup_length: 5 warm-up epochs leave none")
        assertError(ok, ["--prune-rate", "2"], "command line: --prune-rate: 2 is out of range (0.0, 1.0]")
        assertError(ok, ["--colour", "red"], "command line: --colour: unknown option")
        assertError(ok, ["--epochs"], "command line: --epochs: needs a value")
        assertError(ok, ["epochs", "3"], "command line: 'epochs': expected an override --key value")
        XCTAssertThrowsError(try EdgePopupConfig(path: "/nonexistent/c.yml")) { XCTAssertTrue("\($0)".hasPrefix("/nonexistent/c.yml: cannot read")) }
    }
}
