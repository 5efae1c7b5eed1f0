import Foundation
import Kernels

/// y = x Wᵀ + b, W of shape [outputSize, inputSize] (Torch's nn.Linear).
/// Input [inputSize] or [batch, inputSize]. In evaluation, a pruned weight runs as sparse rows
/// when `SparseChoice` prefers them (equal to the dense product up to float rounding).
public final class Linear: Module {
    public let inputSize: Int
    public let outputSize: Int
    public let weightParameter: Parameter
    public let biasParameter: Parameter?
    private let sparse = SparseWeightCache()
    /// The transposed input blocks of the sparse product, one per thread.
    private var sparseScratch = Tensor()

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
        if !isTraining, let rows = sparse.rows(weightParameter, .linear, rows: outputSize, columns: inputSize, batch: n) {
            if let bias { for r in 0..<n { (y + r * outputSize).update(from: bias, count: outputSize) } }
            let x = input.data, accumulate = biasParameter != nil, columns = inputSize, block = SparseRows.block
            let blocks = (n + block - 1) / block
            let chunks = Parallel.chunkCount(blocks, costPerItem: 2 * block * rows.nonzeros)
            let perChunk = block * (columns + 1)
            if n >= 4 { _ = sparseScratch.resize([chunks * perChunk]) }
            let scratchBase = sparseScratch.data
            Parallel.forChunksIndexed(blocks, costPerItem: 2 * block * rows.nonzeros) { c, r in
                let scratch = scratchBase + (n >= 4 ? c * perChunk : 0)
                rows.multiplyTransposed(x: x, ldx: columns, samples: (r.lowerBound * block)..<Swift.min(r.upperBound * block, n),
                                        c: y, ldc: self.outputSize, accumulate: accumulate, scratch: scratch)
            }
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
        BLAS.parallelGemm(m: n, n: inputSize, k: outputSize, a: gradOutput.data, b: weightParameter.value.data, c: gradInput.data)
        return gradInput
    }

    /// ∂L/∂W += scale · (∂L/∂y)ᵀ x ; ∂L/∂b += scale · Σ_batch ∂L/∂y
    override public func accGradParameters(_ input: Tensor, _ gradOutput: Tensor, scale: Float) throws {
        let n = try batchSize(input)
        try checkGradOutput(gradOutput, n)
        BLAS.parallelGemm(transA: true, m: outputSize, n: inputSize, k: n, alpha: scale,
                  a: gradOutput.data, b: input.data, beta: 1, c: weightParameter.grad.data)
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
    }

    override public var spec: ModuleSpec {
        ModuleSpec(type: typeName, args: [Double(inputSize), Double(outputSize)],
                   options: biasParameter == nil ? ["bias": 0] : nil)
    }

    override public var description: String {
        "nn.Linear(\(inputSize) -> \(outputSize)\(biasParameter == nil ? ") without bias" : ")")"
    }
}
