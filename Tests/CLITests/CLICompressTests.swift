import XCTest
@testable import Engine

/// `workbench compress` end to end: the compressed file is smaller, loads bit-exact, and
/// `-test` on it (found as out/<model>.wbz) prints the same table and error as on the dense file;
/// weight sharing prints its errors; bad flags and files are clear errors that write nothing.
final class CLICompressTests: XCTestCase {
    private func lines(_ text: String, containing s: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.contains(s) }
    }

    func testCompressedFilesAreReadByTestAsTheDenseOne() throws {
        let f = try CLIFixture()
        XCTAssertEqual(try f.run(f.flowOptions + ["-l", "2", "-p", "0.9"]).status, 0)
        let dense = f.path("out/tiny.safetensors")
        let r = try f.run(["compress", dense, f.path("c/tiny.wbz")])
        XCTAssertNotEqual(r.status, 0, "the folder c/ does not exist")
        XCTAssertTrue(r.stderr.contains("does not exist"), r.stderr)
        try FileManager.default.createDirectory(atPath: f.path("c"), withIntermediateDirectories: true)
        let ok = try f.run(["compress", dense, f.path("c/tiny.wbz")])
        XCTAssertEqual(ok.status, 0, ok.output)
        XCTAssertTrue(ok.stdout.contains("relative+float32") || ok.stdout.contains("csr+float32"), ok.stdout)
        let size = { (p: String) in (try FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? -1 }
        XCTAssertLessThan(try size(f.path("c/tiny.wbz")), try size(dense) / 2)
        let a = try ModelFile.load(dense), b = try ModelFile.load(f.path("c/tiny.wbz"))
        for (x, y) in zip(a.allParameters, b.allParameters) {
            XCTAssertEqual(x.value.scalars.map(\.bitPattern), y.value.scalars.map(\.bitPattern))
            XCTAssertEqual(x.mask?.scalars, y.mask?.scalars)
        }
        let onDense = try f.run(f.flowOptions + ["-test"])
        let onCompressed = try f.run(f.flowOptions.map { $0 == f.path("out") ? f.path("c") : $0 } + ["-test"])
        XCTAssertEqual(onCompressed.status, 0, onCompressed.output)
        XCTAssertEqual(lines(onCompressed.stdout, containing: "Error: "), lines(onDense.stdout, containing: "Error: "))
        XCTAssertEqual(lines(onCompressed.stdout, containing: "Total Compression"), lines(onDense.stdout, containing: "Total Compression"))
        // the two linear layers, in -test's file summary and again in its sparsity table
        XCTAssertEqual(lines(onDense.stdout, containing: "nn.Linear").count, 4, onDense.stdout)
        XCTAssertEqual(lines(onCompressed.stdout, containing: "nn.Linear").count, 4, onCompressed.stdout)
        // Weight sharing with fine-tuning on the fixture's data.
        let shared = try f.run(["compress", dense, f.path("c/shared.wbz"), "--share-bits", "3", "--data", f.path("data"), "--threads", "1"])
        XCTAssertEqual(shared.status, 0, shared.output)
        XCTAssertTrue(shared.stdout.contains("after k-means weight sharing") && shared.stdout.contains("centroid fine-tuning epoch 1"), shared.stdout)
        XCTAssertTrue(shared.stdout.contains("+shared3"), shared.stdout)
        // Bad flags and a file that is not a model.
        for args in [["--share-bits", "0"], ["--share-bits", "conv=8,dense=5"], ["--fine-tune-epochs", "-1"], ["--lr", "0"]] {
            let bad = try f.run(["compress", dense, f.path("c/bad.wbz")] + args)
            XCTAssertNotEqual(bad.status, 0, args.joined(separator: " "))
            XCTAssertFalse(f.exists("c/bad.wbz"))
        }
        try f.write("not a model", to: "c/junk.wbz")
        let junk = try f.run(["compress", f.path("c/junk.wbz"), f.path("c/out.wbz")])
        XCTAssertNotEqual(junk.status, 0)
        XCTAssertTrue(junk.stderr.contains(f.path("c/junk.wbz")), junk.stderr)
        XCTAssertFalse(f.exists("c/out.wbz"))
    }
}
