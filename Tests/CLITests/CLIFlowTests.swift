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
        XCTAssertEqual(lines(r.stdout, containing: "Layer2: ").first, "Layer2: 30% retained")
        XCTAssertEqual(lines(r.stdout, containing: "test: avg. loss").count, 3, "initial, after pruning, after retraining")
        // round(0.7 · 1024) = 717 zeros of 1,184 weights
        XCTAssertEqual(totalCompression(r.stdout) ?? -1, 717.0 / Double(CLIFixture.totalWeights), accuracy: 1e-12)
        let pruned = try ModelFile.load(f.path("out/tiny.safetensors"))
        let w = try XCTUnwrap(pruned.module(at: 2).weight)
        XCTAssertEqual(w.value.zeroCount(), 717)
        XCTAssertEqual(w.prunedCount, 717, "the mask is saved with the model")
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
        let r = try f.run(f.flowOptions + ["-l", "2", "-p", "0.8", "-iPrunning", "4", "-jobID", "iter"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(lines(r.stdout, containing: "retained"),
                       ["Layer2: 80% retained", "Layer2: 60% retained", "Layer2: 40% retained", "Layer2: 20% retained"])
        XCTAssertEqual(f.read("logs/iter.plotlog").split(separator: "\n").count, 5)
        XCTAssertEqual(totalCompression(r.stdout) ?? -1, Double(819) / Double(CLIFixture.totalWeights), accuracy: 1e-12)
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
        // Pruning all of the output layer makes every prediction the same: the error jumps.
        let r = try f.run(f.flowOptions + ["-l", "4", "-p", "1", "-iPruning", "2", "-acctradeoff", "0.5"])
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

    func testRunPassesArgumentsToTheScript() throws {
        let f = try CLIFixture()
        try f.write("print('args', arg[0] ~= nil, arg[1], arg[2], select('#', ...))\n", to: "s.lua")
        let r = try f.run(["run", "s.lua", "a", "-b"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(r.stdout, "args\ttrue\ta\t-b\t2\n")
    }
}
