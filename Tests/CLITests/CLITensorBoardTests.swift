import Engine
import Foundation
import XCTest

/// `-tensorboard DIR` on the default flow, `--tensorboard DIR` on `imp`, `freezeout` and `sparse-train`: the
/// event files are where the docs say, with the tags, steps and values the run printed.
/// (TensorBoard's own reader reads the same writer's files in EngineTests.TensorBoardTests.)
final class CLITensorBoardTests: XCTestCase {
    /// The scalars of every event file under `dir`: run (the folder relative to dir, "." for
    /// dir itself) → tag → [(step, value)] in file order.
    private func scalars(_ dir: String) throws -> [String: [String: [(Int, Float)]]] {
        var out: [String: [String: [(Int, Float)]]] = [:]
        let root = URL(fileURLWithPath: dir)
        let walker = try XCTUnwrap(FileManager.default.enumerator(atPath: dir))
        while let rel = walker.nextObject() as? String {
            guard (rel as NSString).lastPathComponent.hasPrefix("events.out.tfevents.") else { continue }
            let run = (rel as NSString).deletingLastPathComponent
            let bytes = Array(try Data(contentsOf: root.appendingPathComponent(rel)))
            for record in try TFRecord.records(bytes).dropFirst() {   // the first is file_version
                let (tag, step, value) = try ScalarEvent.decode(record)
                out[run.isEmpty ? "." : run, default: [:]][tag, default: []].append((step, value))
            }
        }
        return out
    }

    /// The numbers after "avg. error: " in the flow's output, in order.
    private func errors(_ s: String) -> [Float] {
        s.components(separatedBy: "avg. error: ").dropFirst().compactMap { Float($0.prefix(while: { $0 != "," })) }
    }

    func testTheFlowLogsEveryPruningStepAndRetrainingEpoch() throws {
        let f = try CLIFixture()
        let r = try f.run(f.flowOptions + ["-l", "2", "-p", "0.6", "-iPruning", "2", "-reTrain", "-nEpochs", "2",
                                           "-tensorboard", f.path("tb")])
        XCTAssertEqual(r.status, 0, r.output)
        let runs = try scalars(f.path("tb"))
        XCTAssertEqual(Array(runs.keys), ["."])
        let tags = try XCTUnwrap(runs["."])
        XCTAssertEqual(Set(tags.keys), ["test/error", "prune/error_after_pruning", "prune/layer2_retained_percent",
                                        "prune/compression", "train/loss"])
        // initial, after pruning, after retraining; twice.
        let printed = errors(r.stdout)
        XCTAssertEqual(printed.count, 5, r.stdout)
        XCTAssertEqual(tags["test/error"]!.map(\.0), [0, 1, 2])
        XCTAssertEqual(tags["test/error"]!.map(\.1), [printed[0], printed[2], printed[4]].map { $0 })
        XCTAssertEqual(tags["prune/error_after_pruning"]!.map(\.1), [printed[1], printed[3]])
        XCTAssertEqual(tags["prune/layer2_retained_percent"]!.map(\.1), [Float(717) / 1024 * 100, Float(410) / 1024 * 100],
                       "round(0.3 · 1024), then round(0.6 · 1024) pruned")
        XCTAssertEqual(tags["train/loss"]!.map(\.0), [1, 2, 3, 4], "epochs counted over the run")
        XCTAssertEqual(tags["prune/compression"]!.first!.1, 0)
        // Without the flag nothing is written, and .opts is as before.
        let plain = try f.run(f.flowOptions + ["-l", "2", "-p", "0.6", "-jobID", "plain"])
        XCTAssertEqual(plain.status, 0, plain.output)
        XCTAssertFalse(f.read("logs/plain.opts").contains("tensorboard"))
        let empty = try f.run(f.flowOptions + ["-l", "2", "-p", "0.6", "-tensorboard", ""])
        XCTAssertNotEqual(empty.status, 0)
        XCTAssertTrue(empty.output.contains("-tensorboard needs a folder name"), empty.output)
    }

    func testImpLogsIterationsAndTheirSteps() throws {
        let f = try CLIFixture()
        try f.write("""
            [IO]
            save_dir = out
            prefix = t
            [Data]
            dataset = \(f.path("data"))
            [Network]
            arch = f16:x
            steps = 20
            batch_size = 16
            val_size = 32
            validate_step = 10
            [IMP]
            prune = T:F
            weights_step = 5
            max_iterations = 2
            """, to: "exp.ini")
        let r = try f.run(["imp", "-threads", "1", "exp.ini", "--tensorboard", f.path("tb")])
        XCTAssertEqual(r.status, 0, r.output)
        let runs = try scalars(f.path("tb"))
        XCTAssertEqual(Set(runs.keys), ["step", "step/iteration_0", "step/iteration_1"])
        XCTAssertEqual(runs["step"]?["imp/left_pruned_percent"]?.map(\.1), [100, 70], "prune_ratio 0.3")
        XCTAssertEqual(runs["step"]?["imp/best_val_error"]?.map(\.0), [0, 1])
        XCTAssertEqual(runs["step/iteration_1"]?["val/error"]?.map(\.0), [0, 10, 20])
        XCTAssertEqual(runs["step/iteration_1"]?["train/error"]?.count, 3)
    }

    func testFreezeOutLogsEachEpoch() throws {
        let f = try CLIFixture()
        try f.write("return nn.Sequential():add(nn.View(64)):add(nn.Linear(64, 10))", to: "tiny.lua")
        let r = try f.run(["freezeout", "--model", "tiny.lua", "--data", f.path("data"), "--batch_size", "32", "--threads", "1",
                           "--epochs", "2", "--name", "t", "--out", "runs", "--tensorboard", f.path("tb")])
        XCTAssertEqual(r.status, 0, r.output)
        let tags = try XCTUnwrap(try scalars(f.path("tb"))["t"])
        XCTAssertEqual(Set(tags.keys), ["train/loss", "val/loss", "val/error", "train/seconds"])
        XCTAssertEqual(tags["val/error"]?.map(\.0), [1, 2])
        let log = f.read("runs/logs/t_log.jsonl").split(separator: "\n")
        let last = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(log[1].utf8)) as? [String: Any])
        XCTAssertEqual(tags["val/error"]?.last?.1 ?? -1, Float(last["val_err"] as? Double ?? 0), accuracy: 1e-4)
    }

    func testSparseTrainLogsEachEpochAndEachRewiring() throws {
        let f = try CLIFixture()
        try f.write("lr_schedule:\n  - 0 : 0.1\nrewire_period_schedule:\n  - 0 : 2\n", to: "s.yaml")
        let r = try f.run(["sparse-train", "--data", "fashion-mnist", "--train-size", "200", "--test-size", "100", "-b", "100",
                           "--threads", "1", "--no-progress", "--schedule-file", "s.yaml", "--epochs", "2",
                           "--rewire", "--threshold-prune", "--rewire-scaling", "--tensorboard", f.path("tb")])
        XCTAssertEqual(r.status, 0, r.output)
        let tags = try XCTUnwrap(try scalars(f.path("tb"))["."])
        for tag in ["train/loss", "train/prec1", "test/loss", "test/prec1", "test/prec5", "lr"] {
            XCTAssertEqual(tags[tag]?.map(\.0), [1, 2], tag)
        }
        XCTAssertEqual(tags.keys.filter { $0.hasPrefix("density/") }.count, 3, "one per sparse layer")
        // 2 epochs of 2 iterations, rewiring every 2 (never at iteration 0): at iterations 2
        XCTAssertEqual(tags["rewire/grown"]?.map(\.0), [2])
        XCTAssertEqual(tags["rewire/threshold"]?.count, 1)
        let j = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(f.read("runs/mnist_mlp_0.json").utf8)) as? [String: Any])
        let test1 = try XCTUnwrap(j["test_prec1"] as? [Double])
        XCTAssertEqual(tags["test/prec1"]?.map { Double($0.1) } ?? [], test1.map { Double(Float($0)) })
    }
}

/// Reads back one scalar `Event` (wall_time = 1, step = 2, summary = 5 { value = 1 { tag = 1,
/// simple_value = 2 } }): the test's own decoder of the protobuf the Engine writes.
enum ScalarEvent {
    struct Malformed: Error {}

    static func decode(_ bytes: [UInt8]) throws -> (tag: String, step: Int, value: Float) {
        var step = 0, tag = "", value = Float.nan
        try fields(bytes[...]) { field, wire, payload, varint in
            switch (field, wire) {
            case (2, 0): step = Int(varint)
            case (5, 2):
                try fields(payload) { f, w, p, _ in
                    guard f == 1, w == 2 else { return }
                    try fields(p) { f2, w2, p2, _ in
                        if f2 == 1, w2 == 2 { tag = String(decoding: p2, as: UTF8.self) }
                        if f2 == 2, w2 == 5 {
                            value = Float(bitPattern: p2.reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                        }
                    }
                }
            default: break
            }
        }
        return (tag, step, value)
    }

    /// Calls body(field, wire type, payload bytes, varint value) for each field.
    private static func fields(_ b: ArraySlice<UInt8>, _ body: (Int, Int, ArraySlice<UInt8>, UInt64) throws -> Void) throws {
        var i = b.startIndex
        func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < b.endIndex, shift < 64 else { throw Malformed() }
                let byte = b[i]; i += 1
                v |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return v }
                shift += 7
            }
        }
        while i < b.endIndex {
            let key = try varint()
            let field = Int(key >> 3), wire = Int(key & 7)
            switch wire {
            case 0: try body(field, wire, b[i..<i], try varint())
            case 1, 5:
                let n = wire == 1 ? 8 : 4
                guard i + n <= b.endIndex else { throw Malformed() }
                try body(field, wire, b[i..<(i + n)], 0); i += n
            case 2:
                let n = Int(try varint())
                guard n >= 0, i + n <= b.endIndex else { throw Malformed() }
                try body(field, wire, b[i..<(i + n)], 0); i += n
            default: throw Malformed()
            }
        }
    }
}
