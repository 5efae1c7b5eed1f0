import Foundation
import XCTest
@testable import Engine

/// `workbench export` end to end: the ONNX file of the fixture's model passes the `onnx`
/// checker and onnxruntime gives the workbench's outputs; bad shapes and files are clear errors.
final class CLIExportTests: XCTestCase {
    /// The project's venv interpreter (scripts/setup/install.sh makes it with onnx and onnxruntime).
    private func python() throws -> String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let venv = url.path + "/.venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: venv) else {
            XCTFail("\(venv) is missing: run scripts/setup/install.sh (it makes .venv with onnx and onnxruntime)")
            throw XCTSkip("no .venv")
        }
        return venv
    }

    func testTheExportedFileRunsInOnnxRuntimeWithTheWorkbenchsOutputs() throws {
        let f = try CLIFixture()
        let r = try f.run(["export", f.path("inp/tiny.safetensors"), f.path("tiny.onnx"), "--input-shape", "1,8,8"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("ONNX opset 13"), r.stdout)
        let model = try ModelFile.load(f.path("inp/tiny.safetensors"))
        model.evaluate()
        var rng = RandomGenerator(seed: 3)
        let x = Tensor(shape: [5, 1, 8, 8])
        x.fillUniform(0, 1, &rng)
        let y = try model.forward(x)
        let flat = { (t: Tensor) in t.scalars.map { String($0) }.joined(separator: ",") }
        let script = """
        import sys, numpy as np, onnx, onnxruntime as ort
        onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)
        x = np.array([\(flat(x))], np.float32).reshape(5, 1, 8, 8)
        want = np.array([\(flat(y))], np.float32).reshape(5, 10)
        got = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider']).run(None, {'input': x})[0]
        print('max difference', float(np.abs(got - want).max()))
        """
        try script.write(toFile: f.path("check.py"), atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try python())
        p.arguments = [f.path("check.py"), f.path("tiny.onnx")]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)
        let diff = Double(text.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 1
        XCTAssertLessThanOrEqual(diff, 1e-4, text)
    }

    func testBadShapesAndFilesAreClearErrors() throws {
        let f = try CLIFixture()
        let shape = try f.run(["export", f.path("inp/tiny.safetensors"), f.path("a.onnx"), "--input-shape", "1,x"])
        XCTAssertNotEqual(shape.status, 0)
        XCTAssertTrue(shape.stderr.contains("--input-shape: '1,x' is not sizes"), shape.stderr)
        let wrong = try f.run(["export", f.path("inp/tiny.safetensors"), f.path("a.onnx"), "--input-shape", "1,9,9"])
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.stderr.contains("does not take inputs of shape N×1×9×9"), wrong.stderr)
        let missing = try f.run(["export", f.path("inp/none.safetensors"), f.path("a.onnx")])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.path("a.onnx")))
    }
}
