import Engine
import Foundation
import XCTest

/// `workbench edge-popup` end to end on the fixture's tiny data (8x8 images, so FC is
/// 64-300-100-10) and on tiny synthetic CIFAR-10 batches (Conv2).
final class CLIEdgePopupTests: XCTestCase {
    var fx: CLIFixture!

    override func setUpWithError() throws { fx = try CLIFixture() }
    override func tearDown() { fx = nil }

    func config(_ extra: String = "", conv: String = "SubnetConv", initName: String = "signed_constant") throws -> String {
        try fx.write("""
        arch: FC
        set: MNIST
        name: tiny
        lr: 0.1
        epochs: 3
        batch_size: 32
        conv_type: \(conv)
        freeze_weights: True
        prune_rate: 0.3
        init: \(initName)
        print_freq: 2
        \(extra)
        """, to: "fc_tiny.yml")
        return "fc_tiny.yml"
    }

    func run(_ args: [String]) throws -> CLIFixture.Result {
        try fx.run(["edge-popup"] + args + ["-threads", "1"])
    }

    /// The file's tensors, masks as float tensors (standard files hold them compactly).
    func tensors(_ p: String) throws -> SafetensorsFile { try ModelFile.standardTensors(fx.path(p)) }

    func values(_ f: SafetensorsFile, _ name: String) throws -> [Float] {
        let t = try XCTUnwrap(f.tensor(name), name)
        return (0..<t.count).map { t[$0] }
    }

    /// Each layer keeps exactly round(k·n) weights, the weights are bit-identical to their
    /// init after training, the scores trained, and the files are laid out as the original's.
    func testSubnetRunKeepsExactlyKAndLeavesWeightsAlone() throws {
        let r = try run(["--config", try config(), "--data", fx.path("data")])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("keeping k = 0.3 of each layer's weights (pruning 70.0%): prune_rate is the fraction KEPT"), r.stdout)
        let dir = "runs/fc_tiny/tiny/prune_rate=0.3"
        XCTAssertEqual(fx.files(in: dir), ["checkpoints", "logs", "settings.txt"])
        XCTAssertEqual(fx.files(in: dir + "/checkpoints"), ["initial.safetensors", "model_best.safetensors", "model_last.safetensors"])
        XCTAssertTrue(fx.read(dir + "/settings.txt").contains("prune_rate: 0.3"))
        let csv = fx.read("runs/results.csv").split(separator: "\n")
        XCTAssertEqual(csv.count, 2)
        XCTAssertEqual(String(csv[0]), "Date Finished, Base Config, Name, Prune Rate, Current Val Top 1, Current Val Top 5, Best Val Top 1, Best Val Top 5, Best Train Top 1, Best Train Top 5")
        XCTAssertTrue(csv[1].contains(", fc_tiny.yml, tiny, 0.3, "), String(csv[1]))
        let initial = try tensors(dir + "/checkpoints/initial.safetensors"), last = try tensors(dir + "/checkpoints/model_last.safetensors")
        for (layer, n) in [(1, 64 * 300), (3, 300 * 100), (5, 100 * 10)] {
            let w0 = try values(initial, "\(layer).weight_orig"), w1 = try values(last, "\(layer).weight_orig")
            XCTAssertEqual(w0.map(\.bitPattern), w1.map(\.bitPattern), "layer \(layer + 1): weights changed")
            XCTAssertEqual(Set(w0.map { abs($0) }).count, 1, "signed constant: one magnitude")
            let mask = try values(last, "\(layer).weight_mask")
            XCTAssertEqual(mask.filter { $0 == 1 }.count, Int((0.3 * Double(n)).rounded()), "layer \(layer + 1)")
            XCTAssertEqual(mask.filter { $0 != 0 && $0 != 1 }.count, 0)
            let s0 = try values(initial, "\(layer).weight_scores"), s1 = try values(last, "\(layer).weight_scores")
            XCTAssertNotEqual(s0, s1, "layer \(layer + 1): the scores trained")
            // The mask is the top round(k·n) of |s|.
            let threshold = s1.map { abs($0) }.sorted(by: >)[Int((0.3 * Double(n)).rounded()) - 1]
            XCTAssertTrue(zip(mask, s1).allSatisfy { $0.0 == 1 ? abs($0.1) >= threshold : abs($0.1) <= threshold })
        }
        // The checkpoint loads back with its scores and masks, and saves the same tensors.
        let model = try ModelFile.load(fx.path(dir + "/checkpoints/model_last.safetensors"))
        try ModelFile.save(model, to: fx.path("again.safetensors"), originals: true)
        let again = try tensors("again.safetensors")
        for name in ["1.weight_mask", "1.weight_scores", "3.weight_mask", "5.weight_scores", "5.weight_orig"] {
            XCTAssertEqual(try values(again, name), try values(last, name), name)
        }
        // The event file: whole records with their CRCs; the scalars' tags are the original's.
        let logs = fx.files(in: dir + "/logs")
        XCTAssertEqual(logs.count, 1)
        XCTAssertTrue(logs[0].hasPrefix("events.out.tfevents."))
        let records = try TFRecord.records(Array(try Data(contentsOf: URL(fileURLWithPath: fx.path(dir + "/logs/" + logs[0])))))
        let text = String(decoding: records.joined(), as: UTF8.self)
        for tag in ["train/Loss_val", "train/Acc@1_avg", "train/Acc@5_val", "test/Loss_avg", "test/Acc@1_avg", "test/Acc@5_avg", "test/lr",
                    "diagnostics/epoch_time_val"] {
            XCTAssertTrue(text.contains(tag), tag)
        }
    }

    /// The same config twice: the second run goes to prune_rate=0.3/0/, appends its line, and
    /// gives bit-identical checkpoints (same seed, same threads).
    func testSecondRunIsNumberedAndIdentical() throws {
        let c = try config()
        XCTAssertEqual(try run(["--config", c, "--data", fx.path("data"), "--epochs", "1"]).status, 0)
        let r = try run(["--config", c, "--data", fx.path("data"), "--epochs", "1"])
        XCTAssertEqual(r.status, 0, r.output)
        let a = try tensors("runs/fc_tiny/tiny/prune_rate=0.3/checkpoints/model_last.safetensors")
        let b = try tensors("runs/fc_tiny/tiny/prune_rate=0.3/0/checkpoints/model_last.safetensors")
        for e in a.entries { XCTAssertEqual(try values(a, e.name).map(\.bitPattern), try values(b, e.name).map(\.bitPattern), e.name) }
        XCTAssertEqual(fx.read("runs/results.csv").split(separator: "\n").count, 3)
    }

    func testDenseBaselineTrainsTheWeights() throws {
        let r = try run(["--config", try config(conv: "DenseConv", initName: "kaiming_normal"), "--data", fx.path("data"), "--epochs", "2"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("dense baseline"))
        let dir = "runs/fc_tiny/tiny/prune_rate=0.3/checkpoints/"
        let w0 = try values(try tensors(dir + "initial.safetensors"), "1.weight")
        let last = try tensors(dir + "model_last.safetensors")
        XCTAssertNotEqual(w0, try values(last, "1.weight"))
        XCTAssertNil(last.tensor("1.weight_mask"))
    }

    func testConfigErrorsNameFileLineAndKey() throws {
        try fx.write("arch: FC\nprune_rate: 0.5\nlearning_rate: 0.1\n", to: "bad.yml")
        var r = try run(["--config", "bad.yml"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("bad.yml:3: learning_rate: unknown key"), r.stderr)
        try fx.write("arch: FC\nprune_rate: -1\n", to: "unset.yml")
        r = try run(["--config", "unset.yml"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("unset.yml:2: prune_rate: -1 (unset)"), r.stderr)
        r = try run(["--config", "unset.yml", "--prune-rate", "1.5"])
        XCTAssertTrue(r.stderr.contains("command line: --prune-rate: 1.5 is out of range"), r.stderr)
        r = try run(["--config", "missing.yml"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("missing.yml: cannot read the config file"), r.stderr)
        XCTAssertFalse(fx.exists("runs"))
    }

    func testMissingCIFARIsAClearError() throws {
        try fx.write("arch: Conv2\nset: CIFAR10\nprune_rate: 0.5\n", to: "conv2.yml")
        let r = try run(["--config", "conv2.yml", "--data", fx.path("nothing-here")])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("cannot load the CIFAR10 data"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Fatal"), r.stderr)
    }
}
