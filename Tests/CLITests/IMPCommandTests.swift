import Engine
import Foundation
import XCTest

/// `workbench imp` end to end on the fixture's tiny data (8x8 images, 4 classes): densities,
/// rewinding, the stop rule, the outputs as docs/imp.md describes them, restart, errors.
final class IMPCommandTests: XCTestCase {
    private var fixture: CLIFixture!

    override func setUpWithError() throws { fixture = try CLIFixture() }
    override func tearDown() { fixture = nil }

    /// f16:f8:x on 64 inputs: layer 1 has 64*16 + 16 entries, layer 2 16*8 + 8.
    static let sizes = [64 * 16 + 16, 16 * 8 + 8]

    private func settings(_ extra: String = "") -> String {
        """
        # tiny IMP run
        [IO]
        save_dir = out
        prefix = t
        [Data]
        dataset = \(fixture.path("data"))
        [Network]
        arch = f16:f8:x
        steps = 40
        batch_size = 16
        val_size = 32
        validate_step = 10
        learning_rate = 0.1
        [IMP]
        prune = T:T:F
        prune_ratio = 0.3
        weights_step = 5
        max_iterations = 4
        \(extra)
        """
    }

    private func imp(_ args: [String], ini: String? = nil) throws -> CLIFixture.Result {
        try fixture.write(ini ?? settings(), to: "exp.ini")
        return try fixture.run(["imp", "-threads", "1", "exp.ini"] + args)
    }

    private func json(_ p: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture.path(p)))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], p)
    }

    private func tensors(_ p: String) throws -> SafetensorsFile { try SafetensorsFile(contentsOf: fixture.path(p)) }

    private func values(_ f: SafetensorsFile, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [Float] {
        try XCTUnwrap(f.tensor(name), "\(f.file) lacks \(name)", file: file, line: line).scalars
    }

    /// The findata rows as dictionaries of numbers.
    private func findata(_ p: String) -> [[String: Double]] {
        let lines = fixture.read(p).split(separator: "\n").map(String.init)
        guard let header = lines.first?.split(separator: ",").map(String.init) else { return [] }
        return lines.dropFirst().map { line in
            Dictionary(uniqueKeysWithValues: zip(header, line.split(separator: ",").map { Double($0) ?? .nan }))
        }
    }

    func testDensitiesRewindingAndOutputsHoldWhatTheDocsSay() throws {
        let r = try imp([])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("Stopped after iteration 3: max_iterations = 4"), r.stdout)
        XCTAssertEqual(fixture.files(in: "out").filter { !$0.hasPrefix(".") }, [
            "t_accuracy.svg", "t_connections.svg", "t_findata.csv",
            "t_itdata_0.json", "t_itdata_0.safetensors", "t_itdata_1.json", "t_itdata_1.safetensors",
            "t_itdata_2.json", "t_itdata_2.safetensors", "t_itdata_3.json", "t_itdata_3.safetensors", "t_out.dat",
        ])
        // density after n iterations: 1 - floor(r_n * size)/size per pruned layer, r_n = 1 - 0.7^n
        let rows = findata("out/t_findata.csv")
        XCTAssertEqual(rows.count, 4)
        var ratio = 0.0
        for (n, row) in rows.enumerated() {
            XCTAssertEqual(row["iteration"], Double(n))
            for (i, size) in Self.sizes.enumerated() {
                let expected = 1 - (ratio * Double(size)).rounded(.down) / Double(size)
                XCTAssertEqual(row["left_layer\(i + 1)"]!, expected, accuracy: 1e-6, "iteration \(n) layer \(i + 1)")
                XCTAssertEqual(expected, pow(0.7, Double(n)), accuracy: 1.0 / Double(size))
            }
            XCTAssertEqual(row["left_layer3"], 1, "x is not pruned")
            let record = try json("out/t_itdata_\(n).json")
            XCTAssertEqual(record["best_val_error"] as? Double ?? -1, row["best_val_error"]!, accuracy: 1e-6)
            ratio += 0.3 * (1 - ratio)
        }
        // the JSON record
        let first = try json("out/t_itdata_0.json")
        XCTAssertEqual(first["saved_steps"] as? [Int], [0, 5, 40])
        XCTAssertEqual((first["steps"] as? [Int])?.count, 41)
        XCTAssertEqual((first["train_errors"] as? [Double])?.count, 41)
        XCTAssertEqual(first["val_steps"] as? [Int], [0, 10, 20, 30, 40])
        let ve = try XCTUnwrap(first["val_errors"] as? [Double])
        XCTAssertEqual(first["best_val_error"] as? Double, ve.min())
        XCTAssertEqual(first["final_val_error"] as? Double, ve.last)
        XCTAssertEqual(first["arch"] as? String, "f16:f8:x")
        XCTAssertEqual(first["ratios"] as? [Double], [0, 0])
        XCTAssertEqual(first["next_ratios"] as? [Double], [0.3, 0.3])
        XCTAssertEqual(first["left"] as? [Double], [1, 1, 1])
        XCTAssertEqual(first["tensors"] as? String, "t_itdata_0.safetensors")
        let second = try json("out/t_itdata_1.json")
        XCTAssertEqual(second["saved_steps"] as? [Int], [0, 40], "the rewind point is saved in iteration 0 only")
        // the safetensors file: weights at the saved steps, batch-norm averages, masks
        let t0 = try tensors("out/t_itdata_0.safetensors"), t1 = try tensors("out/t_itdata_1.safetensors")
        XCTAssertEqual(t0.entry("step5.layer1.W")?.shape, [16, 64])
        XCTAssertEqual(t0.entry("step40.layer2.b")?.shape, [8])
        XCTAssertEqual(t0.entry("step0.layer1.gamma")?.shape, [64])
        XCTAssertEqual(t0.entry("step40.layer3.running_var")?.shape, [8])
        XCTAssertEqual(t0.entry("mask.layer1.b")?.shape, [16])
        XCTAssertEqual(try values(t0, "step0.layer1.running_mean"), Array(repeating: 0, count: 64), "averages start at 0 and 1")
        XCTAssertEqual(try values(t0, "step0.layer1.running_var"), Array(repeating: 1, count: 64))
        XCTAssertEqual(t0.metadata["iteration"], "0")
        // rewinding: iteration 1 starts from exactly the weights of step 5, under its new mask
        for l in 1...3 {
            for f in ["W", "b", "gamma", "beta"] {
                XCTAssertTrue(try values(t1, "step0.layer\(l).\(f)") == values(t0, "step5.layer\(l).\(f)"), "layer \(l) \(f)")
            }
        }
        // the new mask: |W| and |b| of iteration 0's final weights ranked together, floor(0.3 n) pruned
        for l in 1...2 {
            let w = try values(t0, "step40.layer\(l).W"), b = try values(t0, "step40.layer\(l).b")
            let scores = (w + b).map { abs($0) }
            let k = Int((0.3 * Double(scores.count)).rounded(.down))
            let threshold = scores.sorted()[k]
            let expected = scores.map { $0 >= threshold ? Float(1) : 0 }
            XCTAssertTrue(try values(t1, "mask.layer\(l).W") + values(t1, "mask.layer\(l).b") == expected, "layer \(l)")
        }
        // out.dat: the original's lines
        let log = fixture.read("out/t_out.dat").split(separator: "\n").map(String.init)
        XCTAssertEqual(log.count, 4 * 6)
        XCTAssertNotNil(log[0].range(of: #"^Step:       0, TE: \d\.\d{3}, VE: \d\.\d{3}$"#, options: .regularExpression), log[0])
        XCTAssertNotNil(log[5].range(of: #"^Ratios: \[0 0\]; more than 0 connections: 1; Emin: [0-9.]+$"#, options: .regularExpression), log[5])
        XCTAssertTrue(log[11].hasPrefix("Ratios: [0.3 0.3];"), log[11])
        // the plots
        for svg in ["out/t_accuracy.svg", "out/t_connections.svg"] {
            let text = fixture.read(svg)
            XCTAssertTrue(text.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""), svg)
            XCTAssertTrue(text.hasSuffix("</svg>\n"), svg)
        }
        XCTAssertEqual(fixture.read("out/t_accuracy.svg").components(separatedBy: "<polyline").count - 1, 1)
    }

    func testRewindModesStartFromTheirWeights() throws {
        let r = try imp(["rewind=init,random,none", "max_iterations=2"])
        XCTAssertEqual(r.status, 0, r.output)
        let start = { (mode: String, it: Int, step: Int) throws -> [Float] in
            try self.values(try self.tensors("out/t_\(mode)_itdata_\(it).safetensors"), "step\(step).layer1.W")
        }
        XCTAssertTrue(try start("init", 1, 0) == start("init", 0, 0), "init: the initial weights")
        XCTAssertTrue(try start("none", 1, 0) == start("none", 0, 40), "none: where the last iteration ended")
        let random = try start("random", 1, 0)
        XCTAssertFalse(try random == start("random", 0, 0))
        XCTAssertFalse(try random == start("random", 0, 40))
        XCTAssertTrue(try start("random", 0, 0) == start("init", 0, 0), "every mode starts from the same net")
        XCTAssertEqual(fixture.read("out/t_accuracy.svg").components(separatedBy: "<polyline").count - 1, 3, "one line per mode")
        XCTAssertTrue(fixture.read("out/t_accuracy.svg").contains("rewind: random"))
    }

    func testTheStopRuleFiresOnConnectivity() throws {
        let ini = settings().replacingOccurrences(of: "arch = f16:f8:x", with: "arch = f16:x")
            .replacingOccurrences(of: "prune = T:T:F", with: "prune = T:F")
            .replacingOccurrences(of: "prune_ratio = 0.3", with: "prune_ratio = 0.8")
            .replacingOccurrences(of: "max_iterations = 4", with: "max_iterations = 50\nstop_ratio = 0.5")
        let r = try imp([], ini: ini)
        XCTAssertEqual(r.status, 0, r.output)
        let rows = findata("out/t_findata.csv")
        XCTAssertGreaterThan(rows.count, 1)
        XCTAssertLessThan(rows.count, 50)
        for n in 0..<rows.count {
            let record = try json("out/t_itdata_\(n).json")
            let next = try XCTUnwrap(record["next_nnconn"] as? Double)
            XCTAssertGreaterThan(try XCTUnwrap(record["nnconn"] as? Double), 0.5, "iteration \(n) ran with enough connected units")
            // the last iteration is the one whose next mask leaves at most half the units connected
            if n == rows.count - 1 { XCTAssertLessThanOrEqual(next, 0.5) } else { XCTAssertGreaterThan(next, 0.5) }
            XCTAssertEqual(rows[n]["connected"]!, record["nnconn"] as! Double, accuracy: 1e-6)
        }
        XCTAssertTrue(r.stdout.contains("of its units connected (stop_ratio 0.5)"), r.stdout)
    }

    func testRestartContinuesToTheSameResult() throws {
        let adam = ["minimizer=Adam", "learning_rate=0.01", "max_iterations=3"]
        XCTAssertEqual(try imp(adam).status, 0)
        let bytes = { (p: String) in (try? Data(contentsOf: URL(fileURLWithPath: self.fixture.path("out/" + p)))) ?? Data() }
        let whole = ["t_itdata_2.safetensors", "t_out.dat"].map(bytes)
        XCTAssertGreaterThan(whole[0].count, 1000)
        let wholeCSV = fixture.read("out/t_findata.csv")
        let wholeJSON = try json("out/t_itdata_2.json")
        try FileManager.default.removeItem(atPath: fixture.path("out"))
        let first = try imp(["minimizer=Adam", "learning_rate=0.01", "max_iterations=2"])
        XCTAssertEqual(first.status, 0, first.output)
        let second = try imp(adam + ["restart=T", "rest_it=2"])
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertTrue(["t_itdata_2.safetensors", "t_out.dat"].map(bytes) == whole, "the same weights, masks and log")
        let strip = { (csv: String) in csv.split(separator: "\n").map { $0.split(separator: ",").dropLast().joined(separator: ",") } }
        XCTAssertEqual(strip(fixture.read("out/t_findata.csv")), strip(wholeCSV), "the same rows but for the wall time")
        var a = try json("out/t_itdata_2.json"), b = wholeJSON
        a["seconds"] = nil; b["seconds"] = nil
        XCTAssertEqual(NSDictionary(dictionary: a), NSDictionary(dictionary: b))
        // a restart from an iteration the files do not hold is refused with the key
        let bad = try imp(adam + ["restart=T", "rest_it=7"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("rest_weights_file") || bad.stderr.contains("rest_mask_file"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains("t_itdata_6.json"), bad.stderr)
    }

    func testBadSettingsNameTheFileLineAndKey() throws {
        let r = try imp([], ini: settings().replacingOccurrences(of: "steps = 40", with: "steps = forty"))
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("exp.ini:9: steps: expected a whole number, got 'forty'"), r.stderr)
        XCTAssertFalse(fixture.exists("out/t_out.dat"), "nothing is written before the settings are checked")
        let missing = try fixture.run(["imp", "nowhere.ini"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("nowhere.ini: no such file"), missing.stderr)
        let data = try imp(["dataset=nofolder"])
        XCTAssertEqual(data.status, 1)
        XCTAssertTrue(data.stderr.contains("the override 'dataset=nofolder': dataset:"), data.stderr)
        let val = try imp(["val_size=999"])
        XCTAssertTrue(val.stderr.contains("the override 'val_size=999': val_size: 999 validation images asked for; "), val.stderr)
        let help = try fixture.run(["imp", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("Examples:") && help.stdout.contains("workbench imp inp/imp/lenet300.ini"), help.stdout)
    }

    func testReclassMapsTheClasses() throws {
        let modulo = try imp(["reclass=m,2", "max_iterations=1"])
        XCTAssertEqual(modulo.status, 0, modulo.output)
        var layers = try XCTUnwrap(try json("out/t_itdata_0.json")["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.last?["outputs"] as? Int, 2, "x has as many units as the new classes")
        try fixture.write("0, 2, 1, 2, 0, 0, 0, 0, 0, 0\n", to: "super.txt")
        let file = try imp(["reclass=f,3,super.txt", "max_iterations=1"])
        XCTAssertEqual(file.status, 0, file.output)
        layers = try XCTUnwrap(try json("out/t_itdata_0.json")["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.last?["outputs"] as? Int, 3)
        try fixture.write("0, 1, 7\n", to: "bad.txt")
        let bad = try imp(["reclass=f,3,bad.txt"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("the override 'reclass=f,3,bad.txt': reclass: bad.txt: entry 3 is '7'"), bad.stderr)
    }

    func testCtrlCLeavesNoPartialFile() throws {
        try fixture.write(settings().replacingOccurrences(of: "steps = 40", with: "steps = 1000000"), to: "exp.ini")
        let r = try fixture.run(["imp", "-threads", "1", "exp.ini"], interruptAfter: 4)
        XCTAssertEqual(r.status, 130, r.output)
        XCTAssertTrue(r.stderr.contains("interrupted (Ctrl-C)"), r.stderr)
        XCTAssertFalse(r.stderr.contains("continue with"), "nothing to continue in iteration 0: \(r.stderr)")
        let files = fixture.files(in: "out")
        XCTAssertFalse(files.contains { $0.contains(".tmp-") || $0.hasSuffix(".lock") }, "\(files)")
        XCTAssertFalse(files.contains("t_itdata_0.json"))
    }
}
