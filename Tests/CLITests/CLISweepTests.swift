import Engine
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// `workbench sweep` end to end on the fixture's tiny model (layers 2 and 4 have weights) and
/// 8x8 images: the grid's parsing and every error, the CSV's numbers against the fixture's own
/// test, `--jobs 1` and `--jobs 2` giving the same CSV, a killed run resumed to the same CSV, a
/// result file cut short redone, the merge naming missing cells, the SVG and the batch script.
final class CLISweepTests: XCTestCase {
    static func options(_ f: CLIFixture) -> [String] {
        ["sweep", "--model", "tiny", "--inp", f.path("inp"), "--data", f.path("data"), "--batch-size", "32"]
    }

    /// The CSV's rows without the `seconds` column (the only one that may differ between runs).
    static func numbers(_ csv: String) -> [String] {
        csv.split(separator: "\n").map { line in line.split(separator: ",", omittingEmptySubsequences: false).dropLast().joined(separator: ",") }
    }

    func testEveryBadGridIsRefusedBeforeAnyWork() throws {
        let f = try CLIFixture()
        let cases: [([String], String)] = [
            (["--layers", "3"], "--layers: layer 3 (nn.Tanh) has no weights to prune (layers with weights: 2,4)"),
            (["--layers", "7"], "--layers: layer 7 does not exist: the model has layers 1..4"),
            (["--layers", "2,x"], "--layers: 'x' is not a layer index"),
            (["--layers", "2,2"], "--layers: 2 is listed twice"),
            (["--layers", "2,,4"], "--layers: empty entry in '2,,4'"),
            (["--levels", "0:1.5:0.5"], "--levels: 1.5 is outside [0, 1]"),
            (["--levels", "0.5,-0.1"], "--levels: -0.1 is outside [0, 1]"),
            (["--levels", "0:1"], "--levels: '0:1' is not START:STOP:STEP"),
            (["--levels", "abc"], "--levels: 'abc' is not a number; expected START:STOP:STEP"),
            (["--levels", "0:1:0"], "--levels: the step must be positive, got 0"),
            (["--levels", "0.9:0.1:0.1"], "--levels: STOP 0.1 is below START 0.9"),
            (["--levels", "0.5,0.50"], "--levels: 0.5 is listed twice"),
            (["--pruners", "mag,nope"], "--pruners: unknown pruner 'nope'; known: "),
            (["--seeds", "-1"], "--seeds: '-1' is not a seed"),
            (["--seeds", "1.5"], "--seeds: '1.5' is not a seed"),
            (["--retrain-epochs", "-1"], "--retrain-epochs must be in 0...10000, got -1"),
            (["--jobs", "0"], "--jobs must be in 1...256, got 0"),
            (["--threads-per-job", "0"], "--threads-per-job must be in 1...256, got 0"),
            (["--slurm", "--time", "soon"], "--time must be sbatch's"),
            (["--slurm", "--mem", "2X"], "--mem must be a size"),
            (["--slurm", "--sbatch-arg", "partition=cpu"], "--sbatch-arg must be one sbatch option"),
            (["--dry-run"], "--dry-run and --wait go with --slurm"),
            (["--slurm", "--jobs", "2"], "--slurm runs the cells as a job array"),
            (["--model", "absent"], "--model absent: "),
            (["--data", "nowhere"], "--data nowhere: unknown dataset 'nowhere'"),
        ]
        for (flags, message) in cases {
            let r = try f.run(Self.options(f) + flags + ["--out", "sw"])
            XCTAssertNotEqual(r.status, 0, "\(flags)")
            XCTAssertTrue(r.stderr.contains(message), "\(flags): expected \(message) in\n\(r.stderr)")
            XCTAssertFalse(r.stderr.contains("stack traceback"), "\(flags): a message, not a traceback:\n\(r.stderr)")
            XCTAssertFalse(f.exists("sw"), "\(flags): nothing written: \(f.files(in: "sw"))")
        }
    }

    /// The default layers (those with weights), START:STOP:STEP levels with STOP included and
    /// exact decimals, Distiller's columns, and level 0 giving the unpruned model's own test.
    func testTheGridAndTheNumbersOfItsCells() throws {
        let f = try CLIFixture()
        let r = try f.run(Self.options(f) + ["--levels", "0:1:0.25", "--out", "sw"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("10 cells (2 layers x 5 levels x 1 pruner x 1 seed), 0 with a result, 10 to run"), r.stdout)
        XCTAssertTrue(r.stdout.contains("10/10 cells"), r.stdout)
        let rows = f.read("sw/sensitivity.csv").split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        XCTAssertEqual(rows.first, ["parameter", "sparsity", "top1", "top5", "loss", "layer", "pruner", "seed", "retrain_epochs",
                                    "error_before_retrain", "seconds"])
        XCTAssertEqual(rows.dropFirst().map { "\($0[0]) \($0[1]) \($0[5])" },
                       ["1.weight 0 2", "1.weight 0.25 2", "1.weight 0.5 2", "1.weight 0.75 2", "1.weight 1 2",
                        "3.weight 0 4", "3.weight 0.25 4", "3.weight 0.5 4", "3.weight 0.75 4", "3.weight 1 4"])
        // Level 0 prunes nothing: the model's own test error, as the fixture measured it.
        for row in rows.dropFirst() where row[1] == "0" {
            XCTAssertEqual(Double(row[9])!, f.trainedError, accuracy: 1e-9, "\(row)")
            XCTAssertEqual(Double(row[2])!, 100 - f.trainedError, accuracy: 1e-9, "\(row)")
        }
        // Layer 4 pruned to 1: every output is its bias, one class for all: 4 classes used.
        let empty = rows.first { $0[0] == "3.weight" && $0[1] == "1" }!
        XCTAssertGreaterThanOrEqual(Double(empty[9])!, 50, "\(empty)")
        let levels = try f.run(Self.options(f) + ["--layers", "4", "--levels", "0.1:0.3:0.1", "--out", "sw2"])
        XCTAssertEqual(levels.status, 0, levels.output)
        XCTAssertEqual(f.read("sw2/sensitivity.csv").split(separator: "\n").dropFirst().map { String($0.split(separator: ",")[1]) },
                       ["0.1", "0.2", "0.3"])
        let plotlog = f.read("sw2/mag_seed0.plotlog").split(separator: "\n")
        XCTAssertEqual(plotlog.first, "LayerNo,Retained%,TestError")
        XCTAssertEqual(plotlog.dropFirst().map { String($0.split(separator: ",")[1]) }, ["90", "80", "70"])
        // Another grid into the same folder is refused, naming what differs.
        let other = try f.run(Self.options(f) + ["--layers", "4", "--levels", "0.1,0.2", "--out", "sw2"])
        XCTAssertNotEqual(other.status, 0)
        XCTAssertTrue(other.stderr.contains("sw2/sweep.json holds another sweep (levels was"), other.stderr)
    }

    /// 2 layers x 11 levels x 2 seeds with a retraining epoch: --jobs 1 and --jobs 2 give the
    /// same CSV; a run killed mid-way and run again gives it too; a cut-short result is redone.
    func testJobsKillsAndCutShortFilesAllGiveTheSameCSV() throws {
        let f = try CLIFixture()
        let grid = Self.options(f) + ["--levels", "0:1:0.1", "--seeds", "0,1", "--retrain-epochs", "2"]
        let one = try f.run(grid + ["--out", "one"])
        XCTAssertEqual(one.status, 0, one.output)
        let reference = Self.numbers(f.read("one/sensitivity.csv"))
        XCTAssertEqual(reference.count, 45)
        XCTAssertNotEqual(reference[1].split(separator: ",")[4], reference[2].split(separator: ",")[4], "the seeds retrain differently")

        let two = try f.run(grid + ["--jobs", "2", "--out", "two"])
        XCTAssertEqual(two.status, 0, two.output)
        XCTAssertTrue(two.stdout.contains("Workers: 2 processes of 44 cells"), two.stdout)
        XCTAssertTrue(two.stdout.contains("Worker start-up (process start, model and data load): "), two.stdout)
        XCTAssertEqual(Self.numbers(f.read("two/sensitivity.csv")), reference)

        // Killed (SIGKILL) once a few cells are done; the rerun runs only the others.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try CLIFixture.binary())
        p.arguments = grid + ["--out", "killed"]
        p.currentDirectoryURL = URL(fileURLWithPath: f.folder)
        var env = ProcessInfo.processInfo.environment
        env["WORKBENCH_SCRIPTS"] = CLIFixture.repositoryRoot + "/scripts"
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        while f.files(in: "killed/cells").filter({ $0.hasSuffix(".csv") }).count < 3 && p.isRunning { usleep(2000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let kept = f.files(in: "killed/cells").filter { $0.hasSuffix(".csv") }.count
        XCTAssertTrue(kept >= 3 && kept < 44, "killed mid-way: \(kept) cells kept")
        XCTAssertFalse(f.exists("killed/sensitivity.csv"))
        let resumed = try f.run(grid + ["--out", "killed"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.stdout.contains("\(kept) with a result, \(44 - kept) to run"), resumed.stdout)
        XCTAssertEqual(Self.numbers(f.read("killed/sensitivity.csv")), reference)

        // A result cut short is not a result: redone, same CSV.
        let cell = "one/cells/mag_l4_p0.5_s1.csv"
        let text = f.read(cell)
        try f.write(String(text.prefix(text.count - 12)), to: cell)
        let redo = try f.run(grid + ["--out", "one"])
        XCTAssertEqual(redo.status, 0, redo.output)
        XCTAssertTrue(redo.stdout.contains("43 with a result, 1 to run"), redo.stdout)
        XCTAssertTrue(redo.stdout.contains("Redoing 1 cell whose result file is not a result: mag_l4_p0.5_s1 (cut short or damaged)"), redo.stdout)
        XCTAssertEqual(Self.numbers(f.read(cell)), Self.numbers(text), "the redone cell's numbers are the first run's")
        XCTAssertEqual(Self.numbers(f.read("one/sensitivity.csv")), reference)
        // Another cell's result under this cell's name is not its result either.
        try f.write(f.read("one/cells/mag_l4_p0.6_s1.csv"), to: cell)
        let swapped = try f.run(grid + ["--out", "one"])
        XCTAssertEqual(swapped.status, 0, swapped.output)
        XCTAssertTrue(swapped.stdout.contains("mag_l4_p0.5_s1 (not this cell)"), swapped.stdout)
        XCTAssertEqual(Self.numbers(f.read("one/sensitivity.csv")), reference)
        // Every cell done: nothing runs again.
        let again = try f.run(grid + ["--jobs", "2", "--out", "two"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.stdout.contains("44 with a result, 0 to run"), again.stdout)
    }

    /// A cell that fails (here a criterion of --pruner-file that raises an error on layer 4) is
    /// reported by cell, in one process and in workers alike; the other cells keep their
    /// results and no CSV is written.
    func testAFailingCellIsReportedAndTheOthersAreKept() throws {
        let f = try CLIFixture()
        try f.write("""
            wb.registerPruner('flaky', function(ctx)
              if ctx.layer == 4 then error('flaky: no scores for layer 4', 0) end
              return ctx.weight:clone():abs()
            end)
            """, to: "flaky.lua")
        for jobs in ["1", "2"] {
            let out = "fail\(jobs)"
            let r = try f.run(Self.options(f) + ["--levels", "0.5,0.9", "--pruner-file", "flaky.lua", "--pruners", "flaky",
                                                 "--jobs", jobs, "--out", out])
            XCTAssertNotEqual(r.status, 0, r.output)
            for level in ["0.5", "0.9"] {
                XCTAssertTrue(r.stderr.contains("layer 4, level \(level), pruner flaky, seed 0: flaky: no scores for layer 4"), "--jobs \(jobs):\n\(r.stderr)")
            }
            XCTAssertEqual(f.files(in: "\(out)/cells").filter { $0.hasSuffix(".csv") }, ["flaky_l2_p0.5_s0.csv", "flaky_l2_p0.9_s0.csv"])
            XCTAssertFalse(f.exists("\(out)/sensitivity.csv"))
        }
    }

    /// --merge names each cell without a result and writes nothing then.
    func testMergeNamesTheCellsWithoutAResult() throws {
        let f = try CLIFixture()
        let r = try f.run(Self.options(f) + ["--levels", "0.5,0.9", "--out", "m"])
        XCTAssertEqual(r.status, 0, r.output)
        try FileManager.default.removeItem(atPath: f.path("m/cells/mag_l4_p0.9_s0.csv"))
        try FileManager.default.removeItem(atPath: f.path("m/sensitivity.csv"))
        let merge = try f.run(["sweep", "--merge", "m"])
        XCTAssertNotEqual(merge.status, 0)
        XCTAssertTrue(merge.stderr.contains("1 of 4 cells have no result, so m/sensitivity.csv is not written"), merge.stderr)
        XCTAssertTrue(merge.stderr.contains("layer 4, level 0.9, pruner mag, seed 0: missing"), merge.stderr)
        XCTAssertFalse(f.exists("m/sensitivity.csv"))
        let none = try f.run(["sweep", "--merge", "nothing"])
        XCTAssertNotEqual(none.status, 0)
        XCTAssertTrue(none.stderr.contains("nothing: no sweep here (no sweep.json)"), none.stderr)
    }

    /// The SVG parses as XML: a panel after pruning and one after retraining, each with one
    /// polyline per layer; the HTML index shows it.
    func testThePlotIsWellFormedWithOneLinePerLayerInEachPanel() throws {
        let f = try CLIFixture()
        let r = try f.run(Self.options(f) + ["--levels", "0:1:0.2", "--retrain-epochs", "1", "--pruners", "mag,random", "--out", "p"])
        XCTAssertEqual(r.status, 0, r.output)
        for pruner in ["mag", "random"] {
            let counter = SVGCounter()
            let parser = XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: f.path("p/\(pruner).svg"))))
            parser.delegate = counter
            XCTAssertTrue(parser.parse(), "\(pruner).svg: \(String(describing: parser.parserError))")
            XCTAssertEqual(counter.root, "svg")
            XCTAssertEqual(counter.polylinesPerPanel, [2, 2], "\(pruner): 2 layers, 2 panels")
            XCTAssertEqual(counter.pointsPerPolyline, Array(repeating: 6, count: 4), "6 levels a line")
        }
        let html = f.read("p/index.html")
        for s in ["<img src=\"mag.svg\"", "<img src=\"random.svg\"", "href=\"sensitivity.csv\"", "href=\"mag_seed0.plotlog\""] {
            XCTAssertTrue(html.contains(s), "\(s) in\n\(html)")
        }
        let oneShot = try f.run(Self.options(f) + ["--levels", "0:1:0.5", "--out", "q"])
        XCTAssertEqual(oneShot.status, 0, oneShot.output)
        let counter = SVGCounter()
        let parser = XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: f.path("q/mag.svg"))))
        parser.delegate = counter
        XCTAssertTrue(parser.parse())
        XCTAssertEqual(counter.polylinesPerPanel, [2], "no retraining: one panel")
    }

    /// --slurm --dry-run writes the batch script (the array over the chunks with cells left,
    /// the resources, the user's lines) and submits nothing.
    func testTheBatchScriptOfADryRun() throws {
        let f = try CLIFixture()
        let grid = Self.options(f) + ["--levels", "0:1:0.1", "--slurm", "--cells-per-task", "5", "--time", "0:10:00", "--mem", "300M",
                                      "--sbatch-arg", "--partition=debug", "--sbatch-arg=--account=proj", "--out", "s"]
        let r = try f.run(grid + ["--dry-run"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("5 array tasks (--array=0-4) for 22 cells"), r.stdout)
        let script = f.read("s/sweep.sbatch")
        let dir = URL(fileURLWithPath: f.path("s")).standardizedFileURL.path
        for line in ["#SBATCH --array=0-4", "#SBATCH --cpus-per-task=1", "#SBATCH --time=0:10:00", "#SBATCH --mem=300M",
                     "#SBATCH --partition=debug", "#SBATCH --account=proj", "#SBATCH --output=\(dir)/slurm/%A_%a.out",
                     "sweep --task \"$SLURM_ARRAY_TASK_ID\" --cells-per-task 5 --out '\(dir)' --started \"$started\""] {
            XCTAssertTrue(script.contains(line), "\(line) in\n\(script)")
        }
        XCTAssertTrue(f.files(in: "s/cells").isEmpty)
        // Cells 1-5 and 11 done (here, by one process): the array lists only the other chunks.
        let some = try f.run(Self.options(f) + ["--levels", "0:1:0.1", "--layers", "2", "--out", "done"])
        XCTAssertEqual(some.status, 0, some.output)
        for name in ["mag_l2_p0_s0", "mag_l2_p0.1_s0", "mag_l2_p0.2_s0", "mag_l2_p0.3_s0", "mag_l2_p0.4_s0", "mag_l2_p1_s0"] {
            try FileManager.default.copyItem(atPath: f.path("done/cells/\(name).csv"), toPath: f.path("s/cells/\(name).csv"))
        }
        let again = try f.run(grid + ["--dry-run"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(f.read("s/sweep.sbatch").contains("#SBATCH --array=1-4\n"), f.read("s/sweep.sbatch"))
    }
}

/// Counts an SVG's panels (`<g class="panel">`), the polylines in each and their points.
final class SVGCounter: NSObject, XMLParserDelegate {
    var root: String?
    var polylinesPerPanel: [Int] = []
    var pointsPerPolyline: [Int] = []

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if root == nil { root = name }
        if name == "g", attributes["class"] == "panel" { polylinesPerPanel.append(0) }
        if name == "polyline", !polylinesPerPanel.isEmpty {
            polylinesPerPanel[polylinesPerPanel.count - 1] += 1
            pointsPerPolyline.append((attributes["points"] ?? "").split(separator: " ").count)
        }
    }
}
