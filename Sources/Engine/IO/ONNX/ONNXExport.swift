import Foundation

/// A model as an ONNX file (opset 13, IR version 7), written by hand (`ONNXMessages`): one
/// node per module, the effective weights W ⊙ M as initializers (a masked, thinned or
/// decoded compressed model exports what the workbench computes), the graph input `input` of
/// shape [N, C, H, W] (N symbolic) and the output `output`.
///
/// Module → node (evaluation semantics):
///   nn.Linear → Gemm(x, W, b; transB = 1)             y = x Wᵀ + b
///   nn.SpatialConvolution → Conv(x, W, b; kernel_shape, strides, pads)
///   nn.SpatialMaxPooling → MaxPool(kernel_shape, strides, pads, ceil_mode)
///   nn.(Spatial)BatchNormalization → BatchNormalization(x, γ, β, running_mean, running_var; epsilon)
///     (γ = 1, β = 0 without affine)
///   nn.View, nn.Reshape → Reshape(x, [-1, sizes...]) with the sizes the module gives per example
///   nn.ReLU → Relu, nn.Tanh → Tanh, nn.Sigmoid → Sigmoid, nn.SoftMax → Softmax(axis = 1),
///   nn.LogSoftMax → LogSoftmax(axis = 1), nn.Dropout and nn.Identity → Identity (a version-1
///   nn.Dropout → Mul by 1 - p)
/// Nested nn.Sequential containers are flattened. Any other module is an error naming it.
public enum ONNXExport {
    public static let opsetVersion = 13
    public static let irVersion = 7

    /// The ONNX bytes of `model` for inputs of shape [N] + `inputShape` (e.g. [1, 28, 28]).
    public static func encode(_ model: Sequential, inputShape: [Int]) throws -> [UInt8] {
        // A chain only: the graph is one node per module, each reading the one before.
        for leaf in labelledLeaves(model, prefix: "", label: "") where leaf.module is Container || leaf.module.usesTables {
            throw EngineError("ONNX export writes a chain of modules (nn.Sequential, nested); layer \(leaf.label) is \(leaf.module.typeName), a table module (docs/containers.md)")
        }
        let shapes = try outputShapes(model, inputShape: inputShape)
        let leaves = labelledLeaves(model, prefix: "", label: "")
        var graph = ProtobufWriter()
        var initializers = [ProtobufWriter]()
        var current = "input"
        for (k, leaf) in leaves.enumerated() {
            let out = k == leaves.count - 1 ? "output" : "t\(k + 1)"
            let name = "layer\(leaf.label)"
            var inputs = [current]
            func initializer(_ suffix: String, _ t: Tensor, _ shape: [Int]? = nil) {
                let n = leaf.prefix + suffix
                initializers.append(ONNXMessages.floatTensor(n, t, shape: shape ?? t.shape))
                inputs.append(n)
            }
            let op: String
            var attributes = [ONNXMessages.Attribute]()
            switch leaf.module {
            case let l as Linear:
                op = "Gemm"
                initializer("weight", l.weightParameter.value)
                if let b = l.biasParameter { initializer("bias", b.value) }
                attributes = [.int("transB", 1)]
            case let c as SpatialConvolution:
                op = "Conv"
                initializer("weight", c.weightParameter.value)
                if let b = c.biasParameter { initializer("bias", b.value) }
                attributes = [.ints("kernel_shape", [c.kH, c.kW]), .ints("strides", [c.dH, c.dW]),
                              .ints("pads", [c.padH, c.padW, c.padH, c.padW])]
            case let p as SpatialMaxPooling:
                op = "MaxPool"
                attributes = [.ints("kernel_shape", [p.kH, p.kW]), .ints("strides", [p.dH, p.dW]),
                              .ints("pads", [p.padH, p.padW, p.padH, p.padW]), .int("ceil_mode", p.ceilMode ? 1 : 0)]
            case let bn as BatchNormalization:
                op = "BatchNormalization"
                initializer("weight", bn.weightParameter?.value ?? Tensor(shape: [bn.nOutput], repeating: 1))
                initializer("bias", bn.biasParameter?.value ?? Tensor(shape: [bn.nOutput]))
                initializer("running_mean", bn.runningMean)
                initializer("running_var", bn.runningVar)
                attributes = [.float("epsilon", Float(bn.eps))]
            case is View, is Reshape:
                op = "Reshape"
                let shapeName = leaf.prefix + "shape"
                initializers.append(ONNXMessages.int64Tensor(shapeName, [-1] + shapes[k].dropFirst()))
                inputs.append(shapeName)
            case is ReLU: op = "Relu"
            case is Tanh: op = "Tanh"
            case is Sigmoid: op = "Sigmoid"
            case is SoftMax, is LogSoftMax:
                guard shapes[k].count == 2 else {
                    throw EngineError("layer \(leaf.label) (\(leaf.module.description)): ONNX export takes a softmax over [N, classes], its input here is \(shapes[k].count)D")
                }
                op = leaf.module is SoftMax ? "Softmax" : "LogSoftmax"
                attributes = [.int("axis", 1)]
            case let d as Dropout where d.v1 && d.p > 0:
                // Version-1 dropout scales by 1 - p in evaluation.
                op = "Mul"
                initializer("scale", Tensor(shape: [1], repeating: Float(1 - d.p)))
            case is Dropout, is Identity: op = "Identity"
            default:
                throw EngineError("layer \(leaf.label) (\(leaf.module.description)): ONNX export does not support \(leaf.module.typeName) (it exports nn.Linear, nn.SpatialConvolution, nn.SpatialMaxPooling, batch norm, nn.View, nn.Reshape, nn.ReLU, nn.Tanh, nn.Sigmoid, nn.SoftMax, nn.LogSoftMax, nn.Dropout, nn.Identity)")
            }
            graph.message(1, ONNXMessages.node(op, name: name, inputs: inputs, outputs: [out], attributes: attributes))
            current = out
        }
        guard !leaves.isEmpty else { throw EngineError("ONNX export: the model has no modules") }
        graph.string(2, "workbench")
        for t in initializers { graph.message(5, t) }
        graph.message(11, ONNXMessages.valueInfo("input", shape: [.named("N")] + inputShape.map { .size($0) }))
        graph.message(12, ONNXMessages.valueInfo("output", shape: [.named("N")] + shapes[leaves.count - 1].dropFirst().map { .size($0) }))
        var opset = ProtobufWriter()
        opset.string(1, "")
        opset.int64(2, Int64(opsetVersion))
        var model = ProtobufWriter()
        model.int64(1, Int64(irVersion))
        model.string(2, "workbench")
        model.string(3, "1")
        model.message(7, graph)
        model.message(8, opset)
        return model.bytes
    }

    /// Writes the ONNX file (all or nothing).
    public static func write(_ model: Sequential, inputShape: [Int], to path: String) throws {
        try AtomicFile.write(try encode(model, inputShape: inputShape), to: path)
    }

    /// The leaves of `m` with their state_dict prefixes ("3.") and 1-based labels ("4", "2.1").
    private static func labelledLeaves(_ m: Module, prefix: String, label: String) -> [(module: Module, prefix: String, label: String)] {
        guard let s = m as? Sequential else { return [(m, prefix, label)] }
        return s.modules.enumerated().flatMap { i, c in
            labelledLeaves(c, prefix: "\(prefix)\(i).", label: label.isEmpty ? "\(i + 1)" : "\(label).\(i + 1)")
        }
    }

    /// Each leaf's output shape for a batch of 2 zero inputs (evaluation mode; the model's mode
    /// is put back): checks the input shape and that every module keeps the batch first.
    private static func outputShapes(_ model: Sequential, inputShape: [Int]) throws -> [[Int]] {
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw EngineError("ONNX export: the input shape must be positive sizes, got \(inputShape)")
        }
        let wasTraining = model.isTraining
        defer { if wasTraining { model.training() } }
        model.evaluate()
        do { _ = try model.forward(Tensor(shape: [2] + inputShape)) } catch let e as EngineError {
            throw EngineError("ONNX export: the model does not take inputs of shape N×\(inputShape.map(String.init).joined(separator: "×")): \(e.message)")
        }
        let leaves = labelledLeaves(model, prefix: "", label: "")
        return try leaves.map { leaf in
            let s = leaf.module.output.shape
            guard s.first == 2 else {
                throw EngineError("layer \(leaf.label) (\(leaf.module.description)): ONNX export needs every module to keep the batch as the first dimension, its output is \(shapeString(s)) for a batch of 2")
            }
            return s
        }
    }
}
