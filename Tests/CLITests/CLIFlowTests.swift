import Engine
import Foundation
import XCTest

/// The reference flow end to end through the built binary, on tiny data the tests write.
final class CLIFlowTests: XCTestCase {
    private func lines(_ s: String, containing needle: String) -> [String] {
        s.split(separator: "\n").map(String.init).filter { $0.contains(needle) }
    }

    /// The number after "Total Compression: ".
    private func totalCompression(_ s: String) -> Double? {
        guard let line = lines(s, containing: "Total Compression: ").last else { return nil }
        return Double(line.components(separatedBy: "Total Compression: ")[1].trimmingCharacters(in: .whitespaces))
    }

    func testOneShotPruningWithRetraining() throws {
        let f = try CLIFixture()
        let r = try f.run(f.flowOptions + ["-l", "2", "-p", "0.7", "-reTrain"])
        XCTAssertEqual(r.status, 0, r.output)
        // round(0.7 · 1024) = 717 pruned: 29.98% retained, 717 zeros of 1,184 weights
        XCTAssertEqual(lines(r.stdout, containing: "Layer2: ").first, "Layer2: 29.98% retained")
        XCTAssertEqual(lines(r.stdout, containing: "test: avg. loss").count, 3, "initial, after pruning, after retraining")
        XCTAssertEqual(totalCompression(r.stdout) ?? -1, 717.0 / Double(CLIFixture.totalWeights), accuracy: 1e-12)
        let pruned = try ModelFile.load(f.path("out/tiny.safetensors"))
        let w = try XCTUnwrap(pruned.module(at: 2).weight)
        XCTAssertEqual(w.value.zeroCount(), 717)
        XCTAssertEqual(w.prunedCount, 717, "the mask is saved with the model")
        XCTAssertEqual(try f.run(f.flowOptions + ["-l", "2", "-p", "0.75", "-jobID", "b"]).stdout
            .split(separator: "\n").filter { $0.contains("retained") }, ["Layer2: 25% retained"])
        XCTAssertEqual(f.read("logs/localMain.plotlog").split(separator: "\n").first, "LayerNo,Retained%,TestError")
        XCTAssertTrue(f.read("logs/localMain.opts").contains("reTrain=true"))
    }

    func testConfDrivenPruning() throws {
        let f = try CLIFixture()
        let r = try f.run(f.flowOptions)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(lines(r.stdout, containing: "retained"), ["Layer2: 50% retained", "Layer4: 75% retained"])
        XCTAssertEqual(totalCompression(r.stdout) ?? -1, Double(512 + 40) / Double(CLIFixture.totalWeights), accuracy: 1e-12)
        let log = f.read("logs/localMain.plotlog").split(separator: "\n")
        XCTAssertEqual(log.count, 3)
        XCTAssertTrue(log[1].hasPrefix("2,50,"), String(log[1]))
        XCTAssertTrue(log[2].hasPrefix("4,75,"), String(log[2]))
    }

    func testIterativePruningTakesLinearSteps() throws {
        let f = try CLIFixture()
        // Steps of 0.75/4 of 1,024 weights: 192, 384, 576, 768 pruned.
        let r = try f.run(f.flowOptions + ["-l", "2", "-p", "0.75", "-iPrunning", "4", "-jobID", "iter"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(lines(r.stdout, containing: "retained"),
                       ["Layer2: 81.25% retained", "Layer2: 62.5% retained", "Layer2: 43.75% retained", "Layer2: 25% retained"])
        XCTAssertEqual(f.read("logs/iter.plotlog").split(separator: "\n").count, 5)
        XCTAssertEqual(totalCompression(r.stdout) ?? -1, Double(768) / Double(CLIFixture.totalWeights), accuracy: 1e-12)
    }

    func testReloadPrunesTheOriginalModelAtEachLevel() throws {
        let f = try CLIFixture()
        let r = try f.run(f.flowOptions + ["-l", "4", "-p", "1", "-iPruning", "4", "-reLoad"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(lines(r.stdout, containing: "retained"),
                       ["Layer4: 75% retained", "Layer4: 50% retained", "Layer4: 25% retained", "Layer4: 0% retained"])
        // Each level starts from the original (unpruned) model, so the model left at the end is the original.
        XCTAssertEqual(totalCompression(r.stdout) ?? -1, 0, accuracy: 1e-12)
        let log = f.read("logs/localMain.plotlog").split(separator: "\n").dropFirst()
        XCTAssertEqual(log.map { $0.split(separator: ",")[1] }, ["75", "50", "25", "0"])
    }

    func testAccuracyTradeoffStopsALayer() throws {
        let f = try CLIFixture()
        // Pruning all of the output layer makes every prediction the same: the error jumps to
        // about 75% (4 classes), far beyond the trained error + 30 points; half of it does not.
        XCTAssertLessThan(f.trainedError, 20)
        let r = try f.run(f.flowOptions + ["-l", "4", "-p", "1", "-iPruning", "2", "-acctradeoff", "30"])
        XCTAssertEqual(r.status, 0, r.output)
        let log = f.read("logs/localMain.plotlog").split(separator: "\n").map(String.init)
        XCTAssertEqual(log.last, "4,stop", log.joined(separator: "\n"))
        XCTAssertEqual(lines(r.stdout, containing: "retained").count, 2)
        // The stopped step was undone: only the first step's 50% stays pruned.
        XCTAssertEqual(totalCompression(r.stdout) ?? -1, 80.0 / Double(CLIFixture.totalWeights), accuracy: 1e-12)
    }

    func testTestFlagReportsThePrunedModel() throws {
        let f = try CLIFixture()
        XCTAssertEqual(try f.run(f.flowOptions + ["-l", "2", "-p", "0.5"]).status, 0)
        let r = try f.run(f.flowOptions + ["-test"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(totalCompression(r.stdout) ?? -1, 512.0 / Double(CLIFixture.totalWeights), accuracy: 1e-12)
        XCTAssertEqual(lines(r.stdout, containing: "Error: ").count, 1)
    }

    func testEveryBuiltInPrunerFromTheCommandLine() throws {
        let f = try CLIFixture()
        for pruner in ["mag", "taylor1", "taylor2", "taylor12", "l1", "l2", "emp", "random"] {
            let r = try f.run(f.flowOptions + ["-l", "2", "-p", "0.75", "-pruner", pruner, "-scoreSize", "64", "-jobID", pruner])
            XCTAssertEqual(r.status, 0, "\(pruner): \(r.output)")
            XCTAssertEqual(lines(r.stdout, containing: "retained"), ["Layer2: 25% retained"], pruner)
        }
        let r = try f.run(f.flowOptions + ["-l", "4", "-p", "0.5", "-pruner", "taylor2", "-prunerOptions", "hessian=fisher"])
        XCTAssertEqual(r.status, 0, r.output)
        let bad = try f.run(f.flowOptions + ["-l", "4", "-p", "0.5", "-pruner", "taylor2", "-prunerOptions", "hessian=exact"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("hessian"), bad.stderr)
    }

    func testPrunerWrittenInLua() throws {
        let f = try CLIFixture()
        // Prunes the weights with the LARGEST magnitude: the opposite of mag, easy to check.
        try f.write("""
        wb.registerPruner('antimag', function(ctx)
          assert(ctx.layer == 2 and ctx.weight:numel() == 1024)
          return torch.abs(ctx.weight):mul(-1)
        end)
        """, to: "antimag.lua")
        let r = try f.run(f.flowOptions + ["-l", "2", "-p", "0.5", "-pruner", "antimag", "-prunerFile", f.path("antimag.lua")])
        XCTAssertEqual(r.status, 0, r.output)
        let original = try ModelFile.load(f.path("inp/tiny.safetensors"))
        let pruned = try ModelFile.load(f.path("out/tiny.safetensors"))
        let w0 = try XCTUnwrap(original.module(at: 2).weight).value, w1 = try XCTUnwrap(pruned.module(at: 2).weight).value
        let magnitudes = w0.scalars.map(abs).sorted()
        let median = (magnitudes[511] + magnitudes[512]) / 2
        for i in 0..<w0.count {
            XCTAssertEqual(w1[i] == 0, abs(w0[i]) > median, "weight \(i)")
        }
    }

    func testExampleScriptsRun() throws {
        let f = try CLIFixture()
        let examples = CLIFixture.repositoryRoot + "/scripts/examples/"
        let fc = try f.run(["run", examples + "prune-fc-iteratively.lua", f.path("inp/tiny.safetensors"), f.path("data"), "0"])
        XCTAssertEqual(fc.status, 0, fc.output)
        XCTAssertEqual(lines(fc.stdout, containing: "after retraining").count, 5, fc.stdout)
        let custom = try f.run(["run", examples + "custom-criterion.lua", f.path("inp/tiny.safetensors"), f.path("data"), "2", "0.5"])
        XCTAssertEqual(custom.status, 0, custom.output)
        XCTAssertEqual(lines(custom.stdout, containing: "layer 2 at 50%").count, 2, custom.stdout)
        let cli = try f.run(f.flowOptions + ["-l", "2", "-p", "0.5", "-pruner", "activation-weighted",
                                             "-prunerFile", examples + "custom-criterion.lua"])
        XCTAssertEqual(cli.status, 0, cli.output)
    }

    func testRunPassesArgumentsToTheScript() throws {
        let f = try CLIFixture()
        try f.write("print('args', arg[0] ~= nil, arg[1], arg[2], select('#', ...))\n", to: "s.lua")
        let r = try f.run(["run", "s.lua", "a", "-b"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(r.stdout, "args\ttrue\ta\t-b\t2\n")
    }
}
