import Foundation

/// The layer whose weights `emp` scores, seen as a set of *items* (an output unit of a
/// Linear, an output channel of a convolution): zeroing one weight changes only its item's
/// part of the layer's output.
enum EmpiricalTarget {
    case linear(Linear)
    case convolution(SpatialConvolution)

    var module: Module {
        switch self {
        case .linear(let m): return m
        case .convolution(let m): return m
        }
    }

    /// Items (output units or channels).
    var items: Int {
        switch self {
        case .linear(let m): return m.outputSize
        case .convolution(let m): return m.nOutputPlane
        }
    }

    /// Weights per item (a row of W).
    var weightsPerItem: Int {
        switch self {
        case .linear(let m): return m.inputSize
        case .convolution(let m): return m.nInputPlane * m.kH * m.kW
        }
    }
}

/// How one module downstream of the scored layer transforms a batch of perturbations
/// δ of its input into the perturbations of its output (exactly, in delta form).
enum DeltaStepKind {
    /// δy = tanh(a + δ) - tanh(a), by `DeltaMath.tanhDelta` with tables t = tanh(a), s = sech²(a).
    case tanh
    /// δy = σ(a + δ) - σ(a) = ½ [tanh((a + δ)/2) - tanh(a/2)], tables T = tanh(a/2), S = sech²(a/2).
    case sigmoid
    /// δy = max(a + δ, 0) - max(a, 0), table a.
    case relu
    /// δy = c δ (dropout at evaluation).
    case scale(Float)
    /// View, Reshape, Identity: the same numbers (flat per-example indices are kept).
    case reshape
    /// δy_w = max over the window of (x_i - y_w + δ_i): tables x (input) and y (output).
    case maxPool(SpatialMaxPooling)
    /// δy = W δx restricted to the columns of W the perturbation touches (a GEMM).
    case linear(Linear)
    /// δy = W * δx over the perturbed input planes only (unfold + GEMM).
    case convolution(SpatialConvolution)
}

/// One downstream step and the per-example shapes of its input and output.
struct DeltaStep {
    let kind: DeltaStepKind
    let leaf: Int
    var inputShape: [Int] = []
    var outputShape: [Int] = []
    var inputCount: Int { inputShape.reduce(1, *) }
    var outputCount: Int { outputShape.reduce(1, *) }

    static func make(_ m: Module, leaf: Int, layerName: String) throws -> DeltaStep {
        let kind: DeltaStepKind
        switch m {
        case is Tanh: kind = .tanh
        case is Sigmoid: kind = .sigmoid
        case is ReLU: kind = .relu
        case let d as Dropout: kind = .scale(Float(d.v1 ? 1 - d.p : 1))
        case is View, is Reshape, is Identity: kind = .reshape
        case let p as SpatialMaxPooling: kind = .maxPool(p)
        case let l as Linear: kind = .linear(l)
        case let c as SpatialConvolution: kind = .convolution(c)
        default:
            throw EngineError("emp cannot follow a weight's perturbation through \(layerName) (\(m.typeName)): supported downstream are nn.Linear, nn.SpatialConvolution, nn.Tanh, nn.Sigmoid, nn.ReLU, nn.Dropout, nn.SpatialMaxPooling, nn.View, nn.Reshape, nn.Identity; use the pruner emp-naive for this model")
        }
        return DeltaStep(kind: kind, leaf: leaf)
    }

    /// The planes [c0, c1) of a [C, H, W] activation that contain the flat range `r`.
    static func planes(_ r: Range<Int>, shape: [Int]) -> (Int, Int) {
        let hw = shape[shape.count - 2] * shape[shape.count - 1]
        return (r.lowerBound / hw, (r.upperBound + hw - 1) / hw)
    }

    /// The flat per-example range of this step's output that a perturbation of `r` can change.
    func outputRange(_ r: Range<Int>) -> Range<Int> {
        switch kind {
        case .tanh, .sigmoid, .relu, .scale, .reshape:
            return r
        case .maxPool:
            let (c0, c1) = DeltaStep.planes(r, shape: inputShape)
            let op = outputShape[outputShape.count - 2] * outputShape[outputShape.count - 1]
            return (c0 * op)..<(c1 * op)
        case .linear, .convolution:
            return 0..<outputCount
        }
    }

    /// Scratch floats per perturbation row beyond the input and output buffers.
    func scratchPerRow(_ r: Range<Int>) -> (extended: Int, columns: Int, planeMajor: Int) {
        switch kind {
        case .maxPool:
            let (c0, c1) = DeltaStep.planes(r, shape: inputShape)
            let hw = inputShape[inputShape.count - 2] * inputShape[inputShape.count - 1]
            return ((c1 - c0) * hw, 0, 0)
        case .convolution(let c):
            let (c0, c1) = DeltaStep.planes(r, shape: inputShape)
            let hw = inputShape[inputShape.count - 2] * inputShape[inputShape.count - 1]
            let p = outputShape[outputShape.count - 2] * outputShape[outputShape.count - 1]
            return ((c1 - c0) * hw, (c1 - c0) * c.kH * c.kW * p, c.nOutputPlane * p)
        default:
            return (0, 0, 0)
        }
    }
}

/// Activations of the unperturbed forward pass over a block of scoring examples, in the
/// forms the delta steps read (one row per example).
final class EmpiricalBaseTables {
    /// Input of the scored layer [n, features].
    var targetInput = Tensor()
    /// Per step: first and second table (see `DeltaStepKind`), empty when unused.
    var first: [Tensor]
    var second: [Tensor]
    /// softmax of the logits [n, classes] and the 0-based targets.
    var probabilities = Tensor()
    var targets: [Int] = []
    var count = 0

    init(steps: Int) {
        first = (0..<steps).map { _ in Tensor() }
        second = (0..<steps).map { _ in Tensor() }
    }

    /// Runs the model over `data[range]` in batches and fills the tables.
    func fill(chain: LayerChain, head: SoftmaxCrossEntropyHead, targetLeaf: Int, steps: inout [DeltaStep],
              data: Dataset, range: Range<Int>, batchSize: Int) throws {
        count = range.count
        targets = []
        let inputs = Tensor(), labels = Tensor()
        var start = range.lowerBound
        while start < range.upperBound {
            let batch = start..<Swift.min(start + batchSize, range.upperBound)
            data.fillBatch(batch, inputs: inputs, targets: labels)
            _ = try chain.model.forward(inputs)
            let b = batch.count, row0 = batch.lowerBound - range.lowerBound
            let x = chain.input(ofLeaf: targetLeaf, modelInput: inputs)
            copyRows(x, into: targetInput, row0: row0, batch: b)
            for s in steps.indices {
                let input = chain.input(ofLeaf: steps[s].leaf, modelInput: inputs)
                let output = chain.leaves[steps[s].leaf].output
                if steps[s].inputShape.isEmpty {
                    steps[s].inputShape = Array(input.shape.dropFirst())
                    steps[s].outputShape = Array(output.shape.dropFirst())
                }
                try fillStep(steps[s], s, input: input, output: output, row0: row0, batch: b)
            }
            let z = head.logits(chain, modelInput: inputs)
            let classes = z.count / b
            if probabilities.count != count * classes { probabilities.resize([count, classes]) }
            for e in 0..<b {
                SoftmaxCrossEntropyHead.probabilities(z.data + e * classes, classes: classes,
                                                      into: probabilities.data + (row0 + e) * classes)
                targets.append(Int(labels[e]))
            }
            start = batch.upperBound
        }
    }

    private func copyRows(_ src: Tensor, into dst: Tensor, row0: Int, batch b: Int) {
        let f = src.count / b
        let shape = [count] + Array(src.shape.dropFirst())
        if dst.shape != shape { dst.resize(shape) }
        (dst.data + row0 * f).update(from: src.data, count: b * f)
    }

    private func fillStep(_ step: DeltaStep, _ s: Int, input: Tensor, output: Tensor, row0: Int, batch b: Int) throws {
        let f = step.inputCount
        func tables(_ both: Bool) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>?) {
            if first[s].count != count * f { first[s].resize([count, f]) }
            if both && second[s].count != count * f { second[s].resize([count, f]) }
            return (first[s].data + row0 * f, both ? second[s].data + row0 * f : nil)
        }
        let a = input.data, n = b * f
        switch step.kind {
        case .tanh:
            let (t, sl) = tables(true)
            let y = output.data
            for i in 0..<n {
                t[i] = y[i]
                let c = Foundation.cosh(Double(a[i]))
                sl![i] = Float(1 / (c * c))
            }
        case .sigmoid:
            let (t, sl) = tables(true)
            for i in 0..<n {
                let half = Double(a[i]) / 2
                t[i] = Float(Foundation.tanh(half))
                let c = Foundation.cosh(half)
                sl![i] = Float(1 / (c * c))
            }
        case .relu:
            let (t, _) = tables(false)
            t.update(from: a, count: n)
        case .maxPool:
            let (t, _) = tables(false)
            t.update(from: a, count: n)
            copyRows(output, into: second[s], row0: row0, batch: b)
        case .scale, .reshape, .linear, .convolution:
            break
        }
    }
}
