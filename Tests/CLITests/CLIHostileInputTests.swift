import Engine
import Foundation
import XCTest

/// Hostile input on the command line: every numeric flag out of its range (negative numbers,
/// nan, inf, huge values), folders that cannot be written, two runs into the same folders,
/// Lua scripts that allocate or loop without end, errors without a message, bad .conf files.
/// Each gives one clear message and a non-zero exit, never a crash, a hang or a NaN model.
final class CLIHostileInputTests: XCTestCase {
    private func assertNoCrash(_ r: CLIFixture.Result, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("Backtracing") || r.stderr.contains("crashed")
                       || r.stderr.contains("unprotected Lua error"), "crashed:\n\(r.stderr)", file: file, line: line)
    }

    /// Runs and checks a refusal: non-zero exit, `message` as the first line of stderr, no
    /// work done (no model, no test line).
    private func assertRefused(_ f: CLIFixture, _ args: [String], _ message: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try f.run(args)
        XCTAssertNotEqual(r.status, 0, "expected failure: \(args)\n\(r.output)", file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").first.map(String.init), message, "args: \(args)", file: file, line: line)
        XCTAssertFalse(r.stdout.contains("test: avg."), "no work before the check: \(r.stdout)", file: file, line: line)
        XCTAssertEqual(f.files(in: "out"), [], "no model written", file: file, line: line)
        assertNoCrash(r, file: file, line: line)
    }

    func testEveryNumericFlagIsRangeChecked() throws {
        let f = try CLIFixture()
        let base = f.flowOptions.dropLast(2) + ["-l", "2", "-p", "0.5"]   // without "-threads 1"
        let cases: [(String, String, String)] = [
            ("-threads", "9223372036854775807", "Error: -threads must be in 1...256, got 9223372036854775807"),
            ("-threads", "100000", "Error: -threads must be in 1...256, got 100000"),
            ("-threads", "-3", "Error: -threads must be in 1...256, got -3"),
            ("-threads", "0", "Error: -threads must be in 1...256, got 0"),
            ("-threads", "99999999999999999999", "Error: -threads must be in 1...256, got 99999999999999999999"),
            ("-threads", "1.5", "Error: -threads must be an integer in 1...256, got 1.5"),
            ("-threads", "two", "Error: -threads must be an integer in 1...256, got two"),
            ("-iPruning", "9223372036854775807", "Error: -iPruning must be in 1...10000, got 9223372036854775807"),
            ("-iPrunning", "-1", "Error: -iPruning must be in 1...10000, got -1"),
            ("-nEpochs", "-1", "Error: -nEpochs must be in 0...10000, got -1"),
            ("-nEpochs", "10001", "Error: -nEpochs must be in 0...10000, got 10001"),
            ("-batchsize", "0", "Error: -batchsize must be in 1...4096, got 0"),
            ("-batchsize", "-128", "Error: -batchsize must be in 1...4096, got -128"),
            ("-batchsize", "1000000000", "Error: -batchsize must be in 1...4096, got 1000000000"),
            ("-scoreSize", "-5", "Error: -scoreSize must be in 1...1000000, got -5"),
            ("-trainSize", "-1", "Error: -trainSize must be in 0...100000000 (0: all), got -1"),
            ("-testSize", "1e9", "Error: -testSize must be an integer in 0...100000000 (0: all), got 1e9"),
            ("-manualSeed", "-1", "Error: -manualSeed must be in 0...9007199254740991, got -1"),
            ("-manualSeed", "9007199254740992", "Error: -manualSeed must be in 0...9007199254740991, got 9007199254740992"),
            ("-l", "-1", "Error: -l must be in 0...100000 (a layer index, or 0 to read inp/tiny.conf), got -1"),
            ("-p", "-0.5", "Error: -p must be a fraction in [0, 1], got -0.5"),
            ("-p", "1.0000001", "Error: -p must be a fraction in [0, 1], got 1.0000001"),
            ("-p", "nan", "Error: -p must be a fraction in [0, 1], got nan"),
            ("-LR", "nan", "Error: -LR must be a finite learning rate in (0, 10], got nan"),
            ("-LR", "inf", "Error: -LR must be a finite learning rate in (0, 10], got inf"),
            ("-LR", "-inf", "Error: -LR must be a finite learning rate in (0, 10], got -inf"),
            ("-LR", "1e308", "Error: -LR must be a finite learning rate in (0, 10], got 1e308"),
            ("-LR", "0", "Error: -LR must be a finite learning rate in (0, 10], got 0"),
            ("-LR", "-0.01", "Error: -LR must be a finite learning rate in (0, 10], got -0.01"),
            ("-momentum", "nan", "Error: -momentum must be in [0, 1), got nan"),
            ("-momentum", "1", "Error: -momentum must be in [0, 1), got 1"),
            ("-momentum", "-0.1", "Error: -momentum must be in [0, 1), got -0.1"),
            ("-acctradeoff", "nan", "Error: -acctradeoff must be a finite number of error points in [0, 100], got nan"),
            ("-acctradeoff", "-1", "Error: -acctradeoff must be a finite number of error points in [0, 100], got -1"),
            ("-acctradeoff", "inf", "Error: -acctradeoff must be a finite number of error points in [0, 100], got inf"),
            ("-luaMemory", "-5", "Error: -luaMemory must be in 0...1048576 MB (0: no cap), got -5"),
            ("-luaTimeout", "nan", "Error: -luaTimeout must be a number of seconds in [0, 1000000] (0: no limit), got nan"),
            ("-luaTimeout", "-1", "Error: -luaTimeout must be a number of seconds in [0, 1000000] (0: no limit), got -1"),
        ]
        for (flag, value, message) in cases {
            try assertRefused(f, Array(base) + [flag, value], message)
        }
        XCTAssertEqual(f.files(in: "logs"), [], "no log written")
        // The run subcommand's numeric options.
        try f.write("print('ran')\n", to: "ok.lua")
        try assertRefused(f, ["run", "-threads", "-2", "ok.lua"], "Error: -threads must be in 1...256, got -2")
        try assertRefused(f, ["run", "-threads", "9223372036854775807", "ok.lua"],
                          "Error: -threads must be in 1...256, got 9223372036854775807")
        try assertRefused(f, ["run", "-luaMemory", "x", "ok.lua"],
                          "Error: -luaMemory must be an integer in 0...1048576 MB (0: no cap), got x")
        try assertRefused(f, ["run", "-luaTimeout", "inf", "ok.lua"],
                          "Error: -luaTimeout must be a number of seconds in [0, 1000000] (0: no limit), got inf")
        // The bench subcommand's.
        try assertRefused(f, ["bench", "--threads", "0"], "Error: --threads must be in 1...256, got 0")
        try assertRefused(f, ["bench", "--epoch-images", "0"], "Error: --epoch-images must be in 1...1000000, got 0")
        try assertRefused(f, ["bench", "--epoch-images", "-1"], "Error: --epoch-images must be in 1...1000000, got -1")
        try assertRefused(f, ["bench", "--threads", "1", "-2"], "Error: --threads must be in 1...256, got -2")
        try assertRefused(f, ["bench", "--torch"], "Error: --torch measures the larger nets: add --large or name them with --nets (conv4, conv48-2, resnet20, wrn16-4, densenet-bc-40)")
        try assertRefused(f, ["bench", "--nets", "conv4", "--torch", "--python", "no/such/python"],
                          "Error: --torch: no Python at 'no/such/python'; pass --python PATH, a Python that has torch (pip install torch)")
    }

    func testNumbersAtTheEdgesOfTheirRangesAreAccepted() throws {
        let f = try CLIFixture()
        // -p 0 and 1, -momentum 0, -LR 10 with -nEpochs 0, the largest seed: all accepted and run.
        let r = try f.run(f.flowOptions + ["-l", "4", "-p", "1", "-momentum", "0", "-LR", "10", "-reTrain", "-nEpochs", "0",
                                           "-manualSeed", "9007199254740991", "-acctradeoff", "0", "-iPruning", "1"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("Layer4: 0% retained"), r.stdout)
        let opts = f.read("logs/localMain.opts")
        XCTAssertTrue(opts.contains("manualSeed=9007199254740991"), opts)
        XCTAssertTrue(opts.contains("luaMemory=4096"), opts)
    }

    func testTrainingThatDivergesWritesNoModel() throws {
        let f = try CLIFixture()
        // The largest learning rate and momentum allowed: either the model stays finite, or the
        // run stops with a clear message and writes nothing; never a NaN model.
        let r = try f.run(f.flowOptions + ["-l", "2", "-p", "0.5", "-reTrain", "-nEpochs", "20", "-LR", "10", "-momentum", "0.999"])
        assertNoCrash(r)
        if r.status == 0 {
            let model = try ModelFile.load(f.path("out/tiny.safetensors"))
            for w in [try model.module(at: 2).weight, try model.module(at: 4).weight] {
                XCTAssertTrue(w?.value.scalars.allSatisfy(\.isFinite) ?? false)
            }
        } else {
            // Training stops at the first non-finite loss (Trainer), or the flow's check after
            // retraining finds non-finite weights.
            XCTAssertTrue(r.stderr.contains("training diverged"), r.stderr)
            XCTAssertEqual(f.files(in: "out"), [])
        }
        // The check itself, on a model made NaN on purpose.
        try f.write("""
        local flow = require 'lib.flow'
        local m = nn.Sequential():add(nn.Linear(2, 2))
        flow.checkFinite(m, {LR = 0.01, momentum = 0.9}, 'fine')
        m:get(1).weight[1][2] = 0 / 0
        flow.checkFinite(m, {LR = 10, momentum = 0.9}, 'layer 1, step 1, after retraining')
        """, to: "nan.lua")
        try f.write("""
        local flow = require 'lib.flow'
        local m = nn.Sequential():add(nn.Linear(2, 2))
        m:get(1).bias[2] = 1 / 0
        wb.saveModel(m, 'x.safetensors')
        """, to: "inf.lua")
        let i = try f.run(["run", "inf.lua"])
        XCTAssertEqual(i.status, 1, i.output)
        XCTAssertTrue(i.stderr.contains("cannot save x.safetensors: tensor '0.bias' holds inf at index 2"), i.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.path("x.safetensors")))
        let n = try f.run(["run", "nan.lua"])
        XCTAssertEqual(n.status, 1, n.output)
        XCTAssertTrue(n.stderr.hasPrefix("workbench: error: layer 1, step 1, after retraining: the model has NaN or infinite weights "
                                         + "(training diverged); try a smaller -LR (now 10) or -momentum (now 0.9); no model written"),
                      n.stderr)
    }

    func testTheMostThreadsRunAndEndInTime() throws {
        let f = try CLIFixture()
        // Negative values parse as numbers, and the flags after them still parse.
        try assertRefused(f, f.flowOptions + ["-l", "-1", "-p", "0.5", "-reTrain"],
                          "Error: -l must be in 0...100000 (a layer index, or 0 to read inp/tiny.conf), got -1")
        let start = Date()
        let r = try f.run(Array(f.flowOptions.dropLast(2)) + ["-threads", "256", "-l", "2", "-p", "0.5", "-reTrain"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("Layer2: 50% retained"), r.stdout)
        XCTAssertLessThan(Date().timeIntervalSince(start), 60)
    }

    func testFoldersThatCannotBeWrittenAreRefusedBeforeAnyWork() throws {
        let f = try CLIFixture()
        try f.write("a file, not a folder\n", to: "blocker")
        let start = Date()
        try assertRefused(f, f.flowOptions + ["-l", "2", "-p", "0.5", "-reTrain", "-nEpochs", "50", "-out", f.path("blocker/out")],
                          "workbench: error: cannot create the -out folder \(f.path("blocker/out")): Not a directory")
        try assertRefused(f, f.flowOptions + ["-l", "2", "-p", "0.5", "-reTrain", "-nEpochs", "50", "-logDir", f.path("blocker")],
                          "workbench: error: cannot create the -logDir folder \(f.path("blocker")): Not a directory")
        try assertRefused(f, f.flowOptions + ["-train", "-nEpochs", "50", "-inp", f.path("blocker/inp")],
                          "workbench: error: cannot create the -inp folder \(f.path("blocker/inp")): Not a directory")
        // 50 epochs would take many seconds: the refusals came before the data was loaded.
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        XCTAssertFalse(f.exists("logs/localMain.plotlog"))
    }

    func testTwoRunsIntoTheSameFoldersCannotMix() throws {
        let f = try CLIFixture()
        // The first run trains for long; the second starts while it runs and is refused.
        var first: CLIFixture.Result?
        let done = DispatchSemaphore(value: 0)
        Thread {
            first = try? f.run(f.flowOptions + ["-l", "2", "-p", "0.5", "-reTrain", "-nEpochs", "10000"], interruptAfter: 6)
            done.signal()
        }.start()
        let deadline = Date().addingTimeInterval(5)
        while !f.exists("logs/localMain.plotlog") && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(f.exists("logs/.localMain.lock"), "the first run holds the log lock")
        let second = try f.run(f.flowOptions + ["-l", "4", "-p", "0.25"])
        XCTAssertEqual(second.status, 1, second.output)
        let refusal = try XCTUnwrap(second.stderr.split(separator: "\n").first.map(String.init))
        XCTAssertTrue(refusal.hasPrefix("workbench: error: another workbench run (pid "), refusal)
        XCTAssertTrue(refusal.hasSuffix(") is writing \(f.path("logs"))/localMain.*; wait for it or use -jobID"), refusal)
        XCTAssertFalse(second.stdout.contains("test: avg."), "refused before any work")
        assertNoCrash(second)
        // Another -jobID into the same out folder: refused on the model file.
        let third = try f.run(f.flowOptions + ["-l", "4", "-p", "0.25", "-jobID", "other"])
        XCTAssertEqual(third.status, 1, third.output)
        XCTAssertTrue(third.stderr.contains(") is writing \(f.path("out"))/tiny.safetensors; wait for it or use another -out"),
                      third.stderr)
        XCTAssertFalse(f.exists("logs/.other.lock"), "the refused run released its log lock")
        done.wait()
        XCTAssertEqual(first?.status, 130, first?.output ?? "")
        // Locks are released on exit: the same run now succeeds, and its files are its own.
        XCTAssertFalse(f.exists("logs/.localMain.lock"))
        let again = try f.run(f.flowOptions + ["-l", "4", "-p", "0.25"])
        XCTAssertEqual(again.status, 0, again.output)
        let plot = f.read("logs/localMain.plotlog").split(separator: "\n")
        XCTAssertEqual(plot.count, 2)
        XCTAssertTrue(plot[1].hasPrefix("4,75,"), String(plot[1]))
        XCTAssertTrue(f.read("logs/localMain.opts").contains("l=4"))
        XCTAssertEqual(f.files(in: "out"), ["tiny.safetensors"], "no lock file left")
    }

    func testALockLeftByAKilledRunIsTakenOver() throws {
        let f = try CLIFixture()
        try FileManager.default.createDirectory(atPath: f.path("logs"), withIntermediateDirectories: true)
        try f.write("999999\n", to: "logs/.localMain.lock")   // no process holds its flock
        let r = try f.run(f.flowOptions + ["-l", "4", "-p", "0.25"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(f.files(in: "logs"), ["localMain.opts", "localMain.plotlog"])
    }

    func testLuaMemoryCapStopsAScriptThatGrowsWithoutBound() throws {
        let f = try CLIFixture()
        try f.write("local t, i = {}, 0\nwhile true do i = i + 1; t[i] = string.rep('x', 100) .. i end\n", to: "grow.lua")
        let start = Date()
        let r = try f.run(["run", "-luaMemory", "64", "grow.lua"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertEqual(r.stderr, "workbench: error: not enough memory (the script went over the Lua memory cap of 64 MB, -luaMemory; 0 = no cap)\n")
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
        // A script can catch it, as any Lua error, and go on once the memory is free again.
        try f.write("""
        local ok, err = pcall(function() local t = {} for i = 1, 1e9 do t[i] = i .. 'x' end end)
        collectgarbage()
        print(ok, err, #string.rep('y', 1000))
        """, to: "catch.lua")
        let c = try f.run(["run", "-luaMemory", "32", "catch.lua"])
        XCTAssertEqual(c.status, 0, c.output)
        XCTAssertEqual(c.stdout, "false\tnot enough memory\t1000\n")
    }

    func testLuaTimeoutStopsAnEndlessLoop() throws {
        let f = try CLIFixture()
        try f.write("local x = 0\nwhile true do x = x + 1 end\n", to: "loop.lua")
        let start = Date()
        let r = try f.run(["run", "-luaTimeout", "1", "loop.lua"])
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.stderr.hasPrefix("workbench: error: loop.lua:2: script exceeded the time limit of 1 s (-luaTimeout)\n"), r.stderr)
        XCTAssertGreaterThan(elapsed, 0.9)
        XCTAssertLessThan(elapsed, 8)
        // pcall cannot keep a script running past the limit.
        try f.write("while true do pcall(function() while true do end end) end\n", to: "evade.lua")
        let e = try f.run(["run", "-luaTimeout", "0.5", "evade.lua"])
        XCTAssertEqual(e.status, 1, e.output)
        XCTAssertTrue(e.stderr.contains("script exceeded the time limit of 0.5 s (-luaTimeout)"), e.stderr)
        // The flow's own flag: a -prunerFile that never returns.
        try f.write("while true do end\n", to: "hang.lua")
        let p = try f.run(f.flowOptions + ["-l", "2", "-p", "0.5", "-prunerFile", "hang.lua", "-luaTimeout", "1"])
        XCTAssertEqual(p.status, 1, p.output)
        XCTAssertTrue(p.stderr.contains("hang.lua:1: script exceeded the time limit of 1 s (-luaTimeout)"), p.stderr)
        XCTAssertEqual(f.files(in: "out"), [])
    }

    func testErrorWithoutAMessageReportsItsPlace() throws {
        let f = try CLIFixture()
        for (value, kind) in [("", "nil"), ("nil", "nil"), ("{}", "table"), ("true", "boolean")] {
            try f.write("local function fail()\n  error(\(value))\nend\nfail()\n", to: "fail.lua")
            let r = try f.run(["run", "fail.lua"])
            XCTAssertEqual(r.status, 1, r.output)
            XCTAssertTrue(r.stderr.hasPrefix("workbench: error: fail.lua:2: (error object is a \(kind) value)\nstack traceback:"),
                          "error(\(value)): \(r.stderr)")
            assertNoCrash(r)
        }
    }

    func testConfErrorsNameTheFileAndLineAndShowTheExactValue() throws {
        let f = try CLIFixture()
        let conf = f.path("inp/tiny.conf")
        try f.write("2,13\n0.5,0.5\n", to: "inp/tiny.conf")
        try assertRefused(f, f.flowOptions, "workbench: error: \(conf):1: layer 13 does not exist: the model has layers 1..4")
        try f.write("\n2,3\n\n0.5,0.5\n", to: "inp/tiny.conf")
        try assertRefused(f, f.flowOptions, "workbench: error: \(conf):2: layer 3 (nn.Tanh) has no weights to prune")
        try f.write("2,4\n0.5,1.0000001\n", to: "inp/tiny.conf")
        try assertRefused(f, f.flowOptions, "workbench: error: \(conf):2: the fraction for layer 4 must be in [0, 1], got 1.0000001")
        try f.write("2,4\n0.5,1e999\n", to: "inp/tiny.conf")
        try assertRefused(f, f.flowOptions, "workbench: error: \(conf):2: the fraction for layer 4 must be in [0, 1], got inf")
    }
}
