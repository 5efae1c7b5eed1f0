import XCTest
@testable import Engine

/// `-structure unit` on the default flow: steps remove whole neurons (physically), the
/// fraction counts units, the saved file and `-test` show the new shapes; errors are clear.
final class CLIStructuredTests: XCTestCase {
    func testUnitStepsThinTheLayerAndTheSavedModel() throws {
        let f = try CLIFixture()
        let r = try f.run(f.flowOptions + ["-structure", "unit", "-l", "2", "-p", "0.5", "-iPruning", "2", "-reTrain",
                                           "-pruner", "taylor", "-scoreSize", "64"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("Layer2: 75% retained"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Layer2: 50% retained"), r.stdout)
        XCTAssertTrue(r.stdout.contains("nn.Linear(64 -> 8)") && r.stdout.contains("nn.Linear(8 -> 10)"), r.stdout)
        let file = try ModelFile.standardTensors(f.path("out/tiny.safetensors"))
        XCTAssertEqual(file.entry("1.weight")?.shape, [8, 64])
        XCTAssertEqual(file.entry("3.weight")?.shape, [10, 8])
        // Total Compression: half of layer 2's weights and half of layer 4's are gone.
        let total = Double(CLIFixture.totalWeights)
        let left = Double(8 * 64 + 10 * 8)
        XCTAssertTrue(r.stdout.contains("Total Compression: " + String(format: "%.14g", 1 - left / total)), r.stdout)
        let t = try f.run(f.flowOptions + ["-test"])
        XCTAssertEqual(t.status, 0, t.output)
        XCTAssertTrue(t.stdout.contains(" 8x64 ") && t.stdout.contains(" 10x8 "), t.stdout)
    }

    func testAccTradeoffUndoesAUnitStepAndReLoadStartsAgain() throws {
        let f = try CLIFixture()
        // Removing 15 of 16 hidden neurons raises the error by more than 0 points: undone.
        let r = try f.run(f.flowOptions + ["-structure", "unit", "-l", "2", "-p", "0.94", "-acctradeoff", "0"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("Layer2: 6.25% retained") && r.stdout.contains("step undone"), r.stdout)
        XCTAssertEqual(try ModelFile.standardTensors(f.path("out/tiny.safetensors")).entry("1.weight")?.shape, [16, 64])
        XCTAssertTrue(r.stdout.contains("Total Compression: 0\n"), r.stdout)
        // -reLoad: each step starts from the loaded model, so step 2 removes half, not a quarter more.
        let s = try f.run(f.flowOptions + ["-structure", "unit", "-l", "2", "-p", "0.5", "-iPruning", "2", "-reLoad", "-jobID", "re"])
        XCTAssertEqual(s.status, 0, s.output)
        XCTAssertTrue(s.stdout.contains("Layer2: 75% retained") && s.stdout.contains("Layer2: 50% retained"), s.stdout)
        XCTAssertEqual(try ModelFile.standardTensors(f.path("out/tiny.safetensors")).entry("1.weight")?.shape, [16, 64],
                       "-reLoad: the model written is the one loaded again after the last step")
        // A .conf file (layers and fractions): layer 2 only.
        try f.write("2\n0.25\n", to: "inp/tiny.conf")
        let c = try f.run(f.flowOptions + ["-structure", "unit", "-jobID", "conf"])
        XCTAssertEqual(c.status, 0, c.output)
        XCTAssertEqual(try ModelFile.standardTensors(f.path("out/tiny.safetensors")).entry("1.weight")?.shape, [12, 64])
    }

    func testEachCriterionRunsAndMagIsTheL1Norm() throws {
        let f = try CLIFixture()
        var removed = [String: String]()
        for c in ["mag", "l1", "l2", "activation", "loss"] {
            let r = try f.run(f.flowOptions + ["-structure", "unit", "-l", "2", "-p", "0.25", "-pruner", c, "-scoreSize", "32",
                                               "-jobID", c])
            XCTAssertEqual(r.status, 0, "\(c): \(r.output)")
            XCTAssertTrue(r.stdout.contains("Layer2: 75% retained"), r.stdout)
            let m = try ModelFile.load(f.path("out/tiny.safetensors"))
            removed[c] = m.modules[1].weight!.value.scalars.prefix(64).map { String($0) }.joined(separator: ",")
        }
        XCTAssertEqual(removed["mag"], removed["l1"])
    }

    func testErrorsNameTheProblem() throws {
        let f = try CLIFixture()
        let last = try f.run(f.flowOptions + ["-structure", "unit", "-l", "4", "-p", "0.5"])
        XCTAssertNotEqual(last.status, 0)
        XCTAssertTrue(last.stderr.contains("its outputs are the model's outputs"), last.stderr)
        let all = try f.run(f.flowOptions + ["-structure", "unit", "-l", "2", "-p", "1"])
        XCTAssertNotEqual(all.status, 0)
        XCTAssertTrue(all.stderr.contains("would remove all of them"), all.stderr)
        let unknown = try f.run(f.flowOptions + ["-structure", "unit", "-l", "2", "-p", "0.5", "-pruner", "taylor2"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("unknown structured criterion 'taylor2'"), unknown.stderr)
        let bad = try f.run(f.flowOptions + ["-structure", "rows"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("-structure must be weight or unit"), bad.stderr)
        let global = try f.run(f.flowOptions + ["-structure", "unit", "-global", "-l", "4", "-p", "0.5"])
        XCTAssertNotEqual(global.status, 0)
        XCTAssertTrue(global.stderr.contains("-global ranks weights across layers"), global.stderr)
    }
}
