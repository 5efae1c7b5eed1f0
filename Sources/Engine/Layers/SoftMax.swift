import Foundation

/// Rows of a [n] or [B, n] input: (rows, columns), with a message naming the module.
private func softMaxRows(_ input: Tensor, _ who: String) throws -> (Int, Int) {
    try checkRank(input, [1, 2], who)
    let n = input.dim == 1 ? 1 : input.shape[0]
    let c = input.shape.last!
    guard c > 0 else { throw EngineError("\(who): input \(shapeString(input.shape)) has no classes") }
    return (n, c)
}

private func checkSameCount(_ input: Tensor, _ gradOutput: Tensor, _ who: String) throws {
    guard gradOutput.count == input.count else {
        throw EngineError("\(who): gradOutput has \(gradOutput.count) elements (\(shapeString(gradOutput.shape))), input \(input.count) (\(shapeString(input.shape)))")
    }
}

/// The maximum m of one row and log Σ_k e^{x_k - m} (the sum in double precision), so that
/// x_k - m is exact for the entries that matter and no large log-sum is rounded.
@inline(__always)
func rowShiftAndLogSum(_ x: UnsafePointer<Float>, _ n: Int) -> (max: Float, logSum: Float) {
    var m = -Float.infinity
    for k in 0..<n where x[k] > m { m = x[k] }
    if !m.isFinite { return (m, 0) }
    var s = 0.0
    for k in 0..<n { s += Double(Foundation.exp(x[k] - m)) }
    return (m, Float(Foundation.log(s)))
}

/// Softmax over the last dimension of [n] or [B, n] (Torch's nn.SoftMax):
/// y_k = e^{x_k - m} / Σ_j e^{x_j - m} (m = max_j x_j, for stability);
/// ∂L/∂x_k = y_k (g_k - Σ_j g_j y_j).
public final class SoftMax: Module {
    override public init() { super.init() }

    override public var typeName: String { "nn.SoftMax" }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        let (n, c) = try softMaxRows(input, typeName)
        output.resize(input.shape)
        let x = input.data, y = output.data
        Parallel.forChunks(n, costPerItem: 16 * c) { rows in
            for r in rows {
                let row = x + r * c, out = y + r * c
                let (m, logSum) = rowShiftAndLogSum(row, c)
                for k in 0..<c { out[k] = Foundation.exp(row[k] - m - logSum) }
            }
        }
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        let (n, c) = try softMaxRows(input, typeName)
        try checkSameCount(input, gradOutput, typeName)
        gradInput.resize(input.shape)
        let y = output.data, g = gradOutput.data, gi = gradInput.data
        Parallel.forChunks(n, costPerItem: 4 * c) { rows in
            for r in rows {
                let o = r * c
                var dot = 0.0
                for k in 0..<c { dot += Double(g[o + k]) * Double(y[o + k]) }
                let d = Float(dot)
                for k in 0..<c { gi[o + k] = y[o + k] * (g[o + k] - d) }
            }
        }
        return gradInput
    }
}

/// Log-softmax over the last dimension of [n] or [B, n] (Torch's nn.LogSoftMax):
/// y_k = x_k - log Σ_j e^{x_j} (computed as m + log Σ_j e^{x_j - m}, m = max_j x_j);
/// ∂L/∂x_k = g_k - e^{y_k} Σ_j g_j.
public final class LogSoftMax: Module {
    override public init() { super.init() }

    override public var typeName: String { "nn.LogSoftMax" }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        let (n, c) = try softMaxRows(input, typeName)
        output.resize(input.shape)
        let x = input.data, y = output.data
        Parallel.forChunks(n, costPerItem: 16 * c) { rows in
            for r in rows {
                let row = x + r * c, out = y + r * c
                let (m, logSum) = rowShiftAndLogSum(row, c)
                for k in 0..<c { out[k] = (row[k] - m) - logSum }
            }
        }
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        let (n, c) = try softMaxRows(input, typeName)
        try checkSameCount(input, gradOutput, typeName)
        gradInput.resize(input.shape)
        let y = output.data, g = gradOutput.data, gi = gradInput.data
        Parallel.forChunks(n, costPerItem: 16 * c) { rows in
            for r in rows {
                let o = r * c
                var sum = 0.0
                for k in 0..<c { sum += Double(g[o + k]) }
                let s = Float(sum)
                for k in 0..<c { gi[o + k] = g[o + k] - Foundation.exp(y[o + k]) * s }
            }
        }
        return gradInput
    }
}
