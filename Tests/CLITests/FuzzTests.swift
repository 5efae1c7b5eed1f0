import Foundation
import XCTest

/// The short fuzz run through the built `workbench fuzz` binary: 300 seeded mutants per
/// format, each loaded by the real loader in a watched worker process. Hostile inputs must
/// give errors, never crashes, hangs or runaway memory (the issue "Hostile inputs: no crash,
/// no runaway allocation, no silent NaN"). The long run is in docs/reliability.md.
final class FuzzTests: XCTestCase {
    struct Finding: Decodable {
        let index: Int
        let outcome: String
        let message: String
        let mutation: String
        let input: String?
        let reproduce: String
    }

    struct Summary: Decodable {
        let format: String
        let runs, accepted, wrong, cleanErrors, unnamedErrors, crashes, hangs, runaway: Int
        let peakBytes: Int
        let seconds: Double
        let slowestSeconds: Double
        let failures: [Finding]
        let notes: [Finding]
    }

    struct Report: Decodable {
        let seed: UInt64
        let formats: [Summary]
    }

    private var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("wb-fuzz-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    private func fuzz(_ arguments: [String]) throws -> CLIFixture.Result {
        try CLIFixture.run(["fuzz"] + arguments, in: folder)
    }

    private func describe(_ f: Finding, _ format: String) -> String {
        "  [\(format) #\(f.index)] \(f.outcome): \(f.message)\n    mutation: \(f.mutation)\n    input: \(f.input ?? "(not saved)")\n    reproduce: \(f.reproduce)"
    }

    /// The short run: 300 inputs of every format, seed 1.
    func testShortRunHasNoCrashHangOrRunaway() throws {
        let crashes = folder + "/crashes"
        let t0 = Date()
        let r = try fuzz(["--format", "all", "--count", "300", "--seed", "1", "--time-limit", "2", "--json", "--save-crashes", crashes])
        let seconds = Date().timeIntervalSince(t0)
        let report = try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8))
        XCTAssertEqual(report.formats.map(\.format), ["safetensors", "compressed", "idx", "idx-gz", "cifar", "conf"])
        var table = "format | runs | accepted | wrong | clean errors | errors not naming the file | crashes | hangs | runaway | peak MB | s | slowest input s\n"
        for s in report.formats {
            table += "\(s.format) | \(s.runs) | \(s.accepted) | \(s.wrong) | \(s.cleanErrors) | \(s.unnamedErrors) | \(s.crashes) | \(s.hangs) | \(s.runaway) | "
                + String(format: "%.0f | %.1f | %.2f\n", Double(s.peakBytes) / 1_048_576, s.seconds, s.slowestSeconds)
        }
        print("short fuzz run, \(String(format: "%.1f", seconds)) s:\n" + table)
        var problems = [String]()
        for s in report.formats {
            XCTAssertEqual(s.runs, 300, "\(s.format): every input is accounted for")
            XCTAssertEqual(s.accepted + s.wrong + s.cleanErrors + s.unnamedErrors + s.crashes + s.hangs + s.runaway, s.runs)
            XCTAssertGreaterThan(s.cleanErrors, 0, "\(s.format): the mutants should mostly be refused")
            if s.crashes + s.hangs + s.runaway > 0 {
                problems.append("\(s.format): \(s.crashes) crash(es), \(s.hangs) hang(s), \(s.runaway) runaway:\n"
                                + s.failures.map { describe($0, s.format) }.joined(separator: "\n"))
            }
            let unnamed = s.notes.filter { $0.outcome == "error-not-naming-file" }
            if !unnamed.isEmpty {
                print("\(s.format): \(unnamed.count) error(s) not naming the file:\n" + unnamed.prefix(10).map { describe($0, s.format) }.joined(separator: "\n"))
            }
            let wrong = s.notes.filter { $0.outcome == "accepted-but-wrong" }
            if !wrong.isEmpty {
                print("\(s.format): \(wrong.count) input(s) accepted but wrong:\n" + wrong.prefix(10).map { describe($0, s.format) }.joined(separator: "\n"))
            }
        }
        XCTAssertTrue(problems.isEmpty, "hostile inputs crashed, hung or ran away (inputs saved in the crash folder):\n" + problems.joined(separator: "\n"))
        XCTAssertEqual(r.status, problems.isEmpty ? 0 : 1, "exit status")
    }

    /// The harness itself: a hidden format whose inputs crash, hang and run away on purpose.
    func testHarnessRecordsCrashesHangsAndRunaways() throws {
        let crashes = folder + "/crashes"
        let r = try fuzz(["--format", "selftest", "--count", "5", "--seed", "1", "--time-limit", "1", "--json", "--save-crashes", crashes])
        XCTAssertEqual(r.status, 1, r.stderr)
        let s = try XCTUnwrap(try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8)).formats.first)
        XCTAssertEqual([s.runs, s.accepted, s.crashes, s.hangs, s.runaway], [5, 2, 1, 1, 1])
        XCTAssertEqual(s.failures.map(\.index), [1, 2, 3])
        XCTAssertTrue(s.failures[0].message.contains("SIGILL") && s.failures[0].message.contains("Index out of range"), s.failures[0].message)
        for f in s.failures {
            let input = try XCTUnwrap(f.input)
            XCTAssertTrue(FileManager.default.fileExists(atPath: input), input)
            XCTAssertEqual(f.reproduce, "workbench fuzz --format selftest --seed 1 --only \(f.index)")
        }
    }

    /// `--only` runs exactly the input it names, the same one the full run made.
    func testOnlyReproducesOneInput() throws {
        let all = try JSONDecoder().decode(Report.self, from: Data(try fuzz(["--format", "cifar", "--count", "20", "--json", "--verbose"]).stdout.utf8))
        let one = try fuzz(["--format", "cifar", "--only", "13", "--json", "--verbose"])
        let s = try XCTUnwrap(try JSONDecoder().decode(Report.self, from: Data(one.stdout.utf8)).formats.first)
        XCTAssertEqual(s.runs, 1)
        XCTAssertEqual(all.formats[0].runs, 20)
        let line = try XCTUnwrap(one.stderr.split(separator: "\n").first { $0.hasPrefix("[cifar #13]") })
        let full = try fuzz(["--format", "cifar", "--count", "20", "--verbose"])
        XCTAssertTrue(full.stderr.contains(line), "\(line) not in the full run")
        XCTAssertEqual(one.status, 0)
    }

    func testUnknownFormatIsRefused() throws {
        let r = try fuzz(["--format", "png"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("unknown format 'png'"), r.stderr)
        let help = try fuzz(["--help"])
        XCTAssertFalse(help.stdout.contains("--worker"), "the worker flag is hidden")
        XCTAssertTrue(help.stdout.contains("ini (") && help.stdout.contains("yaml ("), "planned formats are listed")
        XCTAssertTrue(help.stdout.contains("compressed"), "the compressed model format is fuzzed")
    }
}
