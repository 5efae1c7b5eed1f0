import Foundation
import XCTest

/// Bad input gives one clear message on stderr, a non-zero exit, and no half-written file.
final class CLIErrorTests: XCTestCase {
    private func assertFails(_ f: CLIFixture, _ args: [String], mentioning needles: [String],
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try f.run(args)
        XCTAssertNotEqual(r.status, 0, "expected failure: \(args)\n\(r.output)", file: file, line: line)
        for n in needles {
            XCTAssertTrue(r.stderr.contains(n), "stderr lacks '\(n)':\n\(r.stderr)", file: file, line: line)
        }
        XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("Backtracing") || r.stderr.contains("crashed"),
                       "crashed:\n\(r.stderr)", file: file, line: line)
        XCTAssertEqual(f.files(in: "out"), [], "no output written", file: file, line: line)
    }

    func testUnknownFlag() throws {
        let f = try CLIFixture()
        try assertFails(f, f.flowOptions + ["-reTrian"], mentioning: ["-reTrian"])
    }

    func testLayerWithoutWeights() throws {
        let f = try CLIFixture()
        try assertFails(f, f.flowOptions + ["-l", "3", "-p", "0.5"], mentioning: ["layer 3", "nn.Tanh", "no weights"])
    }

    func testLayerOutOfRange() throws {
        let f = try CLIFixture()
        try assertFails(f, f.flowOptions + ["-l", "9", "-p", "0.5"], mentioning: ["layer 9 does not exist", "1..4"])
    }

    func testFractionOutsideUnitInterval() throws {
        let f = try CLIFixture()
        try assertFails(f, f.flowOptions + ["-l", "2", "-p", "1.5"], mentioning: ["-p", "[0, 1]"])
        try f.write("2\n-0.5\n", to: "inp/tiny.conf")
        try assertFails(f, f.flowOptions, mentioning: ["layer 2", "[0, 1]"])
    }

    func testMissingModelAndData() throws {
        let f = try CLIFixture()
        try assertFails(f, f.flowOptions + ["-l", "2", "-p", "0.5", "-model", "nosuch"], mentioning: ["nosuch"])
        var opts = f.flowOptions
        opts[opts.firstIndex(of: "-data")! + 1] = f.path("nodata")
        try assertFails(f, opts + ["-l", "2", "-p", "0.5"], mentioning: ["nodata"])
    }

    func testTruncatedModelFile() throws {
        let f = try CLIFixture()
        let data = try Data(contentsOf: URL(fileURLWithPath: f.path("inp/tiny.safetensors")))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: f.path("inp/tiny.safetensors")))
        try assertFails(f, f.flowOptions + ["-l", "2", "-p", "0.5"], mentioning: ["tiny.safetensors"])
    }

    func testMalformedConf() throws {
        let f = try CLIFixture()
        try f.write("2,x\n0.5,0.5\n", to: "inp/tiny.conf")
        try assertFails(f, f.flowOptions, mentioning: ["tiny.conf:1", "\"x\""])
        try f.write("2,4\n0.5\n", to: "inp/tiny.conf")
        try assertFails(f, f.flowOptions, mentioning: ["tiny.conf", "2 layers but 1 fractions"])
        try f.write("2,4\n", to: "inp/tiny.conf")
        try assertFails(f, f.flowOptions, mentioning: ["tiny.conf", "two CSV lines"])
    }

    func testUnknownPruner() throws {
        let f = try CLIFixture()
        try assertFails(f, f.flowOptions + ["-l", "2", "-p", "0.5", "-pruner", "taylor9"], mentioning: ["taylor9", "mag"])
    }

    func testLuaSyntaxAndRuntimeErrorsShowFileAndLine() throws {
        let f = try CLIFixture()
        try f.write("local x = \n", to: "syntax.lua")
        try assertFails(f, ["run", "syntax.lua"], mentioning: ["syntax.lua:"])
        try f.write("local t = nil\nlocal function g() return t.x end\ng()\n", to: "runtime.lua")
        try assertFails(f, ["run", "runtime.lua"], mentioning: ["runtime.lua:2:", "stack traceback"])
        try assertFails(f, ["run", "missing.lua"], mentioning: ["missing.lua"])
    }

    func testErrorInsideATrainingCallbackStopsCleanly() throws {
        let f = try CLIFixture()
        try f.write("""
        local train = wb.loadData('\(f.path("data"))')
        local model = wb.loadModel('\(f.path("inp/tiny.safetensors"))')
        local ok, err = pcall(wb.train, model, train, {progress = false, onBatch = function(b)
          if b.batch == 2 then error('stop at batch 2') end
        end})
        print(ok, err:match('stop at batch 2') ~= nil)
        wb.train(model, train, {progress = false, onEpoch = function() error('epoch hook failed') end})
        """, to: "cb.lua")
        let r = try f.run(["run", "cb.lua"])
        XCTAssertEqual(r.stdout, "false\ttrue\n")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("epoch hook failed"), r.stderr)
        XCTAssertTrue(r.stderr.contains("cb.lua:7"), r.stderr)
    }

    func testCtrlCStopsTrainingCleanly() throws {
        let f = try CLIFixture()
        let r = try f.run(f.flowOptions + ["-l", "2", "-p", "0.5", "-reTrain", "-nEpochs", "10000"], interruptAfter: 1.5)
        XCTAssertEqual(r.status, 130, r.output)
        XCTAssertTrue(r.stderr.contains("interrupted"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Backtracing"), r.stderr)
        XCTAssertEqual(f.files(in: "out"), [], "no model written")
    }

    func testHelpListsFlagsWithExamples() throws {
        let f = try CLIFixture()
        for h in ["-h", "--help"] {
            let r = try f.run([h])
            XCTAssertEqual(r.status, 0)
            XCTAssertTrue(r.stdout.contains("workbench -l 8 -p 0.7 -reTrain"), r.stdout)
            for sub in ["run", "bench"] { XCTAssertTrue(r.stdout.contains(sub), "help lacks \(sub)") }
        }
        let r = try f.run(["--help"])
        for flag in ["-reTrain", "-nEpochs", "-iPruning", "-reLoad", "-acctradeoff", "-pruner", "-model", "-data",
                     "-batchsize", "-LR", "-momentum", "-manualSeed", "-logDir", "-jobID", "-verbose", "-test", "-train",
                     "-threads"] {
            XCTAssertTrue(r.stdout.contains(flag), "help lacks \(flag)")
        }
    }
}
