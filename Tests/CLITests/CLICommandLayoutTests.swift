import Foundation
import XCTest

/// The command line's layout: the root command `workbench`, whose default subcommand is the
/// reference flow; the options the flow and `run` share (declared once, as option groups);
/// the tool's help; and the Ctrl-C exit path on both commands that run Lua.
final class CLICommandLayoutTests: XCTestCase {
    private func firstLine(_ s: String) -> String { s.split(separator: "\n").first.map(String.init) ?? "" }

    /// A shared option refuses a bad value with the same message and exit status on the flow
    /// and on `run`, and a good value reaches the engine on both.
    func testSharedOptionsBehaveTheSameOnTheFlowAndOnRun() throws {
        let f = try CLIFixture()
        try f.write("print('threads', wb.threads())\n", to: "threads.lua")
        let flow = f.flowOptions.dropLast(2) + ["-l", "2", "-p", "0.5"]   // without "-threads 1"
        let cases: [(String, String, String)] = [
            ("-threads", "-3", "Error: -threads must be in 1...256, got -3"),
            ("-threads", "0", "Error: -threads must be in 1...256, got 0"),
            ("-threads", "257", "Error: -threads must be in 1...256, got 257"),
            ("-threads", "two", "Error: -threads must be an integer in 1...256, got two"),
            ("-luaMemory", "-5", "Error: -luaMemory must be in 0...1048576 MB (0: no cap), got -5"),
            ("-luaMemory", "x", "Error: -luaMemory must be an integer in 0...1048576 MB (0: no cap), got x"),
            ("-luaTimeout", "nan", "Error: -luaTimeout must be a number of seconds in [0, 1000000] (0: no limit), got nan"),
            ("-luaTimeout", "-1", "Error: -luaTimeout must be a number of seconds in [0, 1000000] (0: no limit), got -1"),
        ]
        for (flag, value, message) in cases {
            let a = try f.run(Array(flow) + [flag, value])
            let b = try f.run(["run", flag, value, "threads.lua"])
            XCTAssertEqual(a.status, 64, "flow \(flag) \(value): \(a.output)")
            XCTAssertEqual(b.status, 64, "run \(flag) \(value): \(b.output)")
            XCTAssertEqual(firstLine(a.stderr), message, "flow \(flag) \(value)")
            XCTAssertEqual(firstLine(b.stderr), message, "run \(flag) \(value)")
            XCTAssertEqual(a.stdout, "", "flow \(flag) \(value): no work")
            XCTAssertEqual(b.stdout, "", "run \(flag) \(value): no work")
        }
        XCTAssertEqual(f.files(in: "out"), [], "no model written")
        // A good value: the engine runs with it on both.
        let r = try f.run(["run", "-threads", "3", "threads.lua"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(r.stdout, "threads\t3\n")
        let p = try f.run(Array(flow) + ["-threads", "3", "-luaMemory", "512", "-luaTimeout", "600"])
        XCTAssertEqual(p.status, 0, p.output)
        let opts = f.read("logs/localMain.opts")
        for line in ["threads=3", "luaMemory=512", "luaTimeout=600"] {
            XCTAssertTrue(opts.split(separator: "\n").contains(Substring(line)), "\(line) in\n\(opts)")
        }
    }

    /// Ctrl-C stops the flow and a `run` script in training with exit status 130 and the one
    /// line "workbench: interrupted (Ctrl-C)", and no model is written.
    func testCtrlCGivesStatus130AndItsMessageOnTheFlowAndOnRun() throws {
        let f = try CLIFixture()
        let flow = try f.run(f.flowOptions + ["-l", "2", "-p", "0.5", "-reTrain", "-nEpochs", "10000"], interruptAfter: 1.5)
        XCTAssertEqual(flow.status, 130, flow.output)
        XCTAssertEqual(flow.stderr.split(separator: "\n").last.map(String.init), "workbench: interrupted (Ctrl-C)", flow.stderr)
        XCTAssertFalse(flow.stderr.contains("workbench: error:"), flow.stderr)
        XCTAssertEqual(f.files(in: "out"), [], "no model written")
        // The interrupt reaches `run` through wb.train, inside a function the script calls.
        try f.write("""
        local train = wb.loadData('\(f.path("data"))')
        local model = wb.loadModel('\(f.path("inp/tiny.safetensors"))')
        local function trainLong() wb.train(model, train, {epochs = 100000, progress = false}) end
        print('training')
        io.stdout:flush()
        trainLong()
        wb.saveModel(model, '\(f.path("out/never.safetensors"))')
        """, to: "long.lua")
        let run = try f.run(["run", "-threads", "1", "long.lua"], interruptAfter: 1.5)
        XCTAssertEqual(run.status, 130, run.output)
        XCTAssertEqual(run.stdout, "training\n")
        XCTAssertEqual(run.stderr, "workbench: interrupted (Ctrl-C)\n")
        XCTAssertEqual(f.files(in: "out"), [], "no model written")
    }

    /// The tool's help is the same however it is asked for, lists the flow's flags with its
    /// examples and the subcommands, and the flow also runs under its own name.
    func testHelpIsTheSameEverywhereAndTheFlowHasAName() throws {
        let f = try CLIFixture()
        let help = try f.run(["--help"])
        XCTAssertEqual(help.status, 0)
        for args in [["-h"], ["help"], ["prune", "--help"], ["prune", "-h"], ["help", "prune"]] {
            let r = try f.run(args)
            XCTAssertEqual(r.status, 0, "\(args)")
            XCTAssertEqual(r.stdout, help.stdout, "\(args)")
        }
        XCTAssertTrue(help.stdout.hasPrefix("OVERVIEW: Prune, retrain, measure and compare neural networks"), help.stdout)
        XCTAssertTrue(help.stdout.contains("USAGE: workbench <options> <subcommand>\n"), help.stdout)
        XCTAssertTrue(help.stdout.contains("  -luaTimeout <S>"), help.stdout)
        XCTAssertTrue(help.stdout.hasSuffix("  See 'workbench help <subcommand>' for detailed help.\n"), help.stdout)
        for sub in ["run", "bench", "fuzz"] {
            XCTAssertTrue(help.stdout.contains("\n  \(sub)  "), "help lists \(sub)")
        }
        XCTAssertFalse(help.stdout.contains("prune (default)"), "the flow is the tool itself, not listed")
        let named = try f.run(["prune"] + f.flowOptions + ["-l", "4", "-p", "0.5"])
        XCTAssertEqual(named.status, 0, named.output)
        XCTAssertTrue(named.stdout.contains("Layer4: 50% retained"), named.stdout)
    }
}
