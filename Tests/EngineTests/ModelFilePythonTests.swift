import Foundation
import XCTest
@testable import Engine

/// docs/model-files.md's Python, run with the safetensors PyPI package (the project's .venv):
/// the one-liner that rebuilds PyTorch's float weight_mask from a standard file, and the reader
/// that rebuilds the dense state dict from a compressed file, compared bit for bit.
final class ModelFilePythonTests: XCTestCase {
    /// The first ```python block after `marker` in docs/model-files.md.
    private func pythonBlock(after marker: String) throws -> String {
        let doc = try String(contentsOfFile: TensorBoardPython.repositoryRoot + "/docs/model-files.md", encoding: .utf8)
        let start = try XCTUnwrap(doc.range(of: marker), "docs/model-files.md: no '\(marker)'")
        let open = try XCTUnwrap(doc.range(of: "```python\n", range: start.upperBound..<doc.endIndex))
        let close = try XCTUnwrap(doc.range(of: "```", range: open.upperBound..<doc.endIndex))
        return String(doc[open.upperBound..<close.lowerBound])
    }

    private func python() throws -> String {
        let python = try TensorBoardPython.interpreter()
        try TensorBoardPython.run(python, ["-c", "import safetensors.numpy, numpy"],
                                  failure: "the venv has no safetensors or numpy: run scripts/setup/install.sh")
        return python
    }

    func testTheDocumentedReaderAndMaskOneLinerRebuildTheStateDict() throws {
        let python = try python()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pyreader-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var rng = RandomGenerator(seed: 11)
        let m = Sequential([SpatialConvolution(1, 4, 3, 3), Tanh(), try View(144), Linear(144, 30), Tanh(), Linear(30, 5)])
        m.reset(&rng)
        for (i, keep) in [(0, 0.6), (3, 0.05), (5, 1.0)] {
            let w = m.modules[i].weight!
            let mask = Tensor(shape: w.value.shape)
            for k in 0..<mask.count { mask.data[k] = Double(rng.next() % 1000) < keep * 1000 ? 1 : 0 }
            if i == 3 { for k in 0..<(30 * 144) where k / 144 >= 20 { mask.data[k] = 0 } }  // empty rows
            if i == 5 { mask.data[7] = 0 }  // one entry pruned: smaller dense
            try w.setMask(mask)
        }
        m.modules[3].weight!.value.data[(0..<(30 * 144)).first { m.modules[3].weight!.mask!.data[$0] == 1 }!] = 0  // a kept zero
        let standard = folder + "/m.safetensors", lossless = folder + "/m.wbz", shared = folder + "/s.wbz", sharedStandard = folder + "/s.safetensors"
        try ModelFile.save(m, to: standard)
        try ModelFile.save(m, to: lossless, format: .compressed(sharing: [:]))
        try ModelFile.save(m, to: shared, format: .compressed(sharing: ModelFile.sharingPlan(m, convolution: 3, linear: 4)))
        try ModelFile.save(try ModelFile.load(shared), to: sharedStandard)
        let script = """
        import sys, json
        import numpy as np
        from safetensors import safe_open
        from safetensors.numpy import load_file
        \(try pythonBlock(after: "### Reading it in Python"))

        def standard(path):
            sd = load_file(path)
            with safe_open(path, 'np') as f:
                meta = f.metadata()
        \(try pythonBlock(after: "comes back with one line").split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            sd.update(masks)
            return sd

        for std, comp in [(sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])]:
            want, got = standard(std), load_compressed(comp)
            assert sorted(got) == sorted(want), (sorted(got), sorted(want))
            for k in want:
                assert got[k].dtype == np.float32 and got[k].shape == want[k].shape, k
                assert (got[k].view(np.uint32) == want[k].view(np.uint32)).all(), k
        print('OK', len(want))
        """
        let scriptPath = folder + "/check.py"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let out = try TensorBoardPython.run(python, [scriptPath, standard, lossless, sharedStandard, shared])
        XCTAssertTrue(out.hasPrefix("OK 9"), out)
        // The lossless file used both a sparse layout and the compact masks of a dense layer.
        let meta = try ModelFile.metadata(lossless)
        XCTAssertNotNil(meta[CompactMasks.metadataKey], "layer 6 (one entry pruned) is stored dense with a compact mask")
        XCTAssertTrue(meta[CompressedModelFile.layoutKey]!.contains("\"3.weight\""))
    }
}
