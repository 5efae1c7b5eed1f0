import ArgumentParser
import Engine
import Foundation

/// `workbench export MODEL.safetensors MODEL.onnx [--input-shape C,H,W]`: the model as an
/// ONNX file (opset 13) for other runtimes (`ONNXExport`).
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model as an ONNX file (opset 13) for ONNX Runtime and other runtimes.",
        discussion: """
        Examples:
          workbench export inp/lenet5.safetensors out/lenet5.onnx
          workbench export out/lenet5-thin.safetensors out/lenet5-thin.onnx --input-shape 1,28,28

        Reads any model file the workbench reads (dense, masked, thinned by structured pruning, \
        compressed) and writes its effective weights: the ONNX model computes what the workbench \
        computes in evaluation mode. The graph's input is 'input' of shape N×C×H×W (N free), its \
        output 'output'. A module ONNX export does not support is an error naming it.
        """
    )

    @Argument(help: "The model file (standard or compressed).")
    var input: String
    @Argument(help: "The ONNX file to write (e.g. out/lenet5.onnx).")
    var output: String
    @Option(name: .customLong("input-shape"), help: "The shape of one input image, C,H,W (default 1,28,28: MNIST and Fashion-MNIST).")
    var inputShape = "1,28,28"

    static func parseShape(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        let sizes = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.count <= 4, sizes.count == parts.count, sizes.allSatisfy({ (1...65536).contains($0) }) else {
            throw ValidationError("--input-shape: '\(text)' is not sizes C,H,W (each 1...65536)")
        }
        return sizes
    }

    func validate() throws { _ = try Self.parseShape(inputShape) }

    func run() throws {
        try runReportingErrors {
            let model = try ModelFile.load(input)
            let t0 = DispatchTime.now().uptimeNanoseconds
            try ONNXExport.write(model, inputShape: try Self.parseShape(inputShape), to: output)
            let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
            let bytes = try FileBytes.read(output).count
            print("\(output): ONNX opset \(ONNXExport.opsetVersion), \(bytes) bytes, written in " + String(format: "%.1f", ms) + " ms")
        }
    }
}
