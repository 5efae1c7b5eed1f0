import Foundation
import XCTest
@testable import Engine

/// `ONNXExport` checked by the real `onnx` checker and run by `onnxruntime` (PyPI, in the
/// project's .venv): the same outputs as the workbench (within 1e-4) for dense, masked,
/// thinned and compressed models and for the shipped LeNet-5 on Fashion-MNIST test images
/// (the same test error); an unsupported module is an error naming it.
final class ONNXExportTests: XCTestCase {
    /// (The shipped LeNet-5 is checked on 16 test images here, a debug build being slow; the
    /// full 10,000 are compared by scripts/bench/structured-onnx.py, docs/structured.md.)
    ///
    /// Checks every (onnx, data) pair given on the command line: the checker passes, and
    /// onnxruntime's outputs on data's 'input' are data's 'output' within 1e-4; prints the
    /// largest difference and the number of differing argmaxes of each.
    static let checker = """
    import sys
    import numpy as np
    import onnx, onnxruntime as ort
    from safetensors.numpy import load_file
    args = sys.argv[1:]
    for model_path, data_path in zip(args[0::2], args[1::2]):
        model = onnx.load(model_path)
        onnx.checker.check_model(model, full_check=True)
        assert model.opset_import[0].version >= 13
        data = load_file(data_path)
        session = ort.InferenceSession(model_path, providers=['CPUExecutionProvider'])
        got = session.run(['output'], {'input': data['input']})[0]
        want = data['output']
        assert got.shape == want.shape, (model_path, got.shape, want.shape)
        diff = float(np.abs(got - want).max())
        assert diff <= 1e-4, (model_path, diff)
        print(model_path.split('/')[-1], diff, int((got.argmax(1) != want.argmax(1)).sum()))
    print('OK')
    """

    private func python() throws -> String {
        let python = try TensorBoardPython.interpreter()
        try TensorBoardPython.run(python, ["-c", "import onnx, onnxruntime, safetensors.numpy"],
                                  failure: "the venv has no onnx or onnxruntime: run scripts/setup/install.sh")
        return python
    }

    private func folder() throws -> String {
        let f = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: f) }
        return f
    }

    /// Exports `model` to `<name>.onnx` and writes its input and the workbench's output to `<name>.data`.
    private func export(_ model: Sequential, _ x: Tensor, name: String, in folder: String) throws -> [String] {
        model.evaluate()
        let y = try model.forward(x).clone()
        let onnx = folder + "/\(name).onnx", data = folder + "/\(name).data"
        try ONNXExport.write(model, inputShape: Array(x.shape.dropFirst()), to: onnx)
        try AtomicFile.write(try SafetensorsFile.encode([("input", x), ("output", y)], metadata: [:]), to: data)
        return [onnx, data]
    }

    private func runChecker(_ arguments: [String], in folder: String) throws -> String {
        let script = folder + "/check.py"
        try Self.checker.write(toFile: script, atomically: true, encoding: .utf8)
        return try TensorBoardPython.run(try python(), [script] + arguments)
    }

    func testOnnxRuntimeComputesWhatTheWorkbenchComputes() throws {
        let folder = try folder()
        GlobalRandom.seed(8)
        var rng = RandomGenerator(seed: 4)
        let net = Sequential([
            SpatialConvolution(1, 4, 3, 3, 1, 1, 1, 1), try SpatialBatchNormalization(4), ReLU(), SpatialMaxPooling(2, 2),
            SpatialConvolution(4, 6, 3, 3), Tanh(), SpatialMaxPooling(2, 2, 2, 2, 1, 1).ceil(),
            try View(6 * 2 * 2), try Dropout(0.3), Linear(24, 10), try BatchNormalization(10), Sigmoid(),
            Linear(10, 5, bias: false), Sequential([try Dropout(0.2, v1: true), Identity()]), LogSoftMax(),
        ])
        for bn in net.modules.compactMap({ $0 as? BatchNormalization }) {
            bn.runningMean.fillUniform(-0.3, 0.3, &rng)
            bn.runningVar.fillUniform(0.5, 2, &rng)
        }
        let x = Tensor(shape: [6, 1, 10, 10])
        x.fillUniform(-1, 1, &rng)
        var args = try export(net, x, name: "dense", in: folder)
        // Masked: a third of conv 2's weights.
        let mask = Tensor(shape: [6, 4, 3, 3], repeating: 1)
        for i in stride(from: 0, to: mask.count, by: 3) { mask[i] = 0 }
        try net.modules[4].weight!.setMask(mask)
        args += try export(net, x, name: "masked", in: folder)
        // Thinned: 3 of conv 2's filters removed, then 4 of the Linear's neurons.
        let thin = try UnitRemoval.remove(model: try UnitRemoval.remove(model: net, layer: 5, units: [0, 2, 5]),
                                          layer: 10, units: [1, 3, 4, 8])
        args += try export(thin, x, name: "thinned", in: folder)
        // Compressed: the thinned model through the compressed format and back.
        let wbz = folder + "/thin.wbz"
        try ModelFile.save(thin, to: wbz, format: .compressed(sharing: [:]))
        args += try export(try ModelFile.load(wbz), x, name: "compressed", in: folder)
        let out = try runChecker(args, in: folder)
        XCTAssertTrue(out.hasSuffix("OK\n"), out)
    }

    func testTheShippedLeNet5HasTheSameTestErrorInOnnxRuntime() throws {
        let folder = try folder()
        let model = try ModelFile.load(TensorBoardPython.repositoryRoot + "/inp/lenet5.safetensors")
        let test = try Datasets.load("fashion-mnist", trainLimit: 1, testLimit: 16,
                                     dataRoot: TensorBoardPython.repositoryRoot + "/data").test
        let x = Tensor(), t = Tensor()
        test.fillBatch(0..<test.count, inputs: x, targets: t)
        let out = try runChecker(try export(model, x, name: "lenet5", in: folder), in: folder)
        // Same argmax on every image: the same test error.
        XCTAssertTrue(out.hasPrefix("lenet5.onnx ") && out.contains(" 0\nOK"), out)
    }

    func testAnUnsupportedModuleIsAnErrorNamingIt() throws {
        final class Odd: Module {
            override var typeName: String { "nn.Odd" }
            override func updateOutput(_ input: Tensor) throws -> Tensor { output = input; return output }
        }
        let model = Sequential([try View(4), Linear(4, 3), Odd()])
        assertMessage(errorMessage { try ONNXExport.encode(model, inputShape: [4]) },
                      contains: ["layer 3 (nn.Odd)", "ONNX export does not support nn.Odd"])
        assertMessage(errorMessage { try ONNXExport.encode(model, inputShape: [5]) },
                      contains: ["does not take inputs of shape N×5"])
        let residual = Sequential([Linear(4, 4), Sequential([ConcatTable([Linear(4, 4), Identity()]), CAddTable()])])
        assertMessage(errorMessage { try ONNXExport.encode(residual, inputShape: [4]) },
                      contains: ["layer 2.1 is nn.ConcatTable, a table module"])
    }

    func testTheVarintsAndFieldsOfTheWireFormat() {
        XCTAssertEqual(ProtobufWriter.varint(300), [0xAC, 0x02])
        var m = ProtobufWriter()
        m.int64(1, -1)
        m.string(2, "ab")
        m.packedInt64(3, [1, 300])
        m.float(4, 1)
        XCTAssertEqual(m.bytes, [0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x01, 0x12, 0x02, 0x61, 0x62,
                                 0x1A, 0x03, 0x01, 0xAC, 0x02, 0x25, 0x00, 0x00, 0x80, 0x3F])
    }
}
