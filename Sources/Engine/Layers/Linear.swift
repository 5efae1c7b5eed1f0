import Foundation
import Kernels

/// y = x Wᵀ + b, W of shape [outputSize, inputSize] (Torch's nn.Linear).
/// Input [inputSize] or [batch, inputSize]. In evaluation, a pruned weight runs as sparse rows
/// when `SparseChoice` prefers them (equal to the dense product up to float rounding); in
/// training too with `sparseTraining` (Linear+SparseTraining.swift).
public final class Linear: Module {
    public let inputSize: Int
    public let outputSize: Int
    public let weightParameter: Parameter
    public let biasParameter: Parameter?
    private let sparse = SparseWeightCache()
    /// The transposed input blocks of the sparse product, one per thread.
    var sparseScratch = Tensor()
    /// Training with sparse kernels (opt-in, off by default): when the weight has a mask
    /// (and no scores) and `SparseChoice.prefersSparseTraining`, forward and backward run on
    /// the mask's active entries, and the weight gradient is computed there only (0 is added
    /// under the mask, where the dense path gives ∂L/∂W_eff). What the optimisers do is the
    /// same (they zero the masked entries and their state), but whatever reads the gradient
    /// under the mask (gradient-based regrowth, a pruner's scores) must leave this off.
    public var sparseTraining = false
    /// The weight of the last forward pass in training on the sparse path, for its backward
    /// (nil: the dense path), and its transpose once the input gradient needed it.
    var trainingRows: SparseRows?
    var trainingRowsTransposed: SparseRows?
    /// The sparse training path's transposed batch Xᵀ (from the forward pass, for the weight
    /// gradient) and output gradient Gᵀ (from the input gradient, for the weight gradient), each
    /// with the buffer and sample count it was made from.
    var inputTransposed = TransposedBatch()
    var gradOutputTransposed = TransposedBatch()

    public init(_ inputSize: Int, _ outputSize: Int, bias: Bool = true) {
        self.inputSize = inputSize
        self.outputSize = outputSize
        weightParameter = Parameter(name: "weight", shape: [outputSize, inputSize])
        biasParameter = bias ? Parameter(name: "bias", shape: [outputSize]) : nil
        super.init()
        reset(&GlobalRandom.generator)
    }

    override public var typeName: String { "nn.Linear" }
    override public var parameters: [Parameter] { [weightParameter] + (biasParameter.map { [$0] } ?? []) }
    override public var weight: Parameter? { weightParameter }
    override public var bias: Parameter? { biasParameter }

    /// U(-1/√inputSize, 1/√inputSize) for weight and bias, as Torch.
    override public func reset(_ rng: inout RandomGenerator) {
        let stdv = 1 / Float(inputSize).squareRoot()
        weightParameter.value.fillUniform(-stdv, stdv, &rng)
        biasParameter?.value.fillUniform(-stdv, stdv, &rng)
    }

    private func batchSize(_ input: Tensor) throws -> Int {
        try checkRank(input, [1, 2], "nn.Linear(\(inputSize) -> \(outputSize))")
        let n = input.dim == 1 ? 1 : input.shape[0]
        guard input.shape.last == inputSize else {
            throw EngineError("nn.Linear(\(inputSize) -> \(outputSize)): input has \(input.shape.last ?? 0) features (shape \(shapeString(input.shape))), expected \(inputSize)")
        }
        return n
    }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        let n = try batchSize(input)
        output.resize(input.dim == 1 ? [outputSize] : [n, outputSize])
        let y = output.data
        let bias = biasParameter?.value.data
        trainingRows = nil
        trainingRowsTransposed = nil
        weightParameter.stepEntries = nil
        inputTransposed.forget()
        gradOutputTransposed.forget()
        let maskVerified = weightParameter.takeMaskVerification()
        if isTraining, sparseTraining,
           let rows = sparse.trainingRows(weightParameter, rows: outputSize, columns: inputSize, maskVerified: maskVerified) {
            trainingRows = rows
            multiplySparseTransposing(rows, input.data, &inputTransposed, samples: n, into: y, bias: bias)
            return output
        }
        if !isTraining, let rows = sparse.rows(weightParameter, .linear, rows: outputSize, columns: inputSize, batch: n) {
            multiplySparse(rows, input.data, samples: n, into: y, bias: bias)
            return output
        }
        BLAS.parallelGemm(transB: true, m: n, n: outputSize, k: inputSize,
                  a: input.data, b: weightParameter.value.data, c: y, rowsStartAt: bias)
        return output
    }

    private func checkGradOutput(_ gradOutput: Tensor, _ n: Int) throws {
        guard gradOutput.count == n * outputSize else {
            throw EngineError("\(description): gradOutput has \(gradOutput.count) elements (\(shapeString(gradOutput.shape))), expected \(n * outputSize)")
        }
    }

    /// ∂L/∂x = ∂L/∂y · W
    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        let n = try batchSize(input)
        try checkGradOutput(gradOutput, n)
        gradInput.resize(input.shape)
        if let rows = trainingRows {
            sparseInputGradient(rows, gradOutput.data, samples: n, into: gradInput.data)
            return gradInput
        }
        BLAS.parallelGemm(m: n, n: inputSize, k: outputSize, a: gradOutput.data, b: weightParameter.value.data, c: gradInput.data)
        return gradInput
    }

    /// ∂L/∂W += scale · (∂L/∂y)ᵀ x ; ∂L/∂b += scale · Σ_batch ∂L/∂y
    override public func accGradParameters(_ input: Tensor, _ gradOutput: Tensor, scale: Float) throws {
        let n = try batchSize(input)
        try checkGradOutput(gradOutput, n)
        if let rows = trainingRows {
            sparseWeightGradient(rows, input.data, gradOutput.data, samples: n, scale: scale)
        } else {
            BLAS.parallelGemm(transA: true, m: outputSize, n: inputSize, k: n, alpha: scale,
                      a: gradOutput.data, b: input.data, beta: 1, c: weightParameter.grad.data)
        }
        if let gb = biasParameter?.grad.data {
            let g = gradOutput.data
            for r in 0..<n {
                let row = g + r * outputSize
                for j in 0..<outputSize { gb[j] += scale * row[j] }
            }
        }
    }

    override public func clearState() {
        super.clearState()
        sparseScratch = Tensor()
        inputTransposed = TransposedBatch()
        gradOutputTransposed = TransposedBatch()
        trainingRows = nil
        trainingRowsTransposed = nil
        weightParameter.stepEntries = nil
    }

    override public var spec: ModuleSpec {
        ModuleSpec(type: typeName, args: [Double(inputSize), Double(outputSize)],
                   options: biasParameter == nil ? ["bias": 0] : nil)
    }

    override public var description: String {
        "nn.Linear(\(inputSize) -> \(outputSize)\(biasParameter == nil ? ") without bias" : ")")"
    }
}
