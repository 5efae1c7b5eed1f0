import Foundation

/// Torch's nn.CrossEntropyCriterion: LogSoftMax followed by ClassNLL, in one stable pass.
///   loss = (1/n) Σ_b [ log Σ_k e^{x[b,k]} - x[b, t_b] ]   (sum when sizeAverage is false)
///   ∂loss/∂x[b,k] = (softmax(x[b])_k - 1[k = t_b]) / n
public final class CrossEntropyCriterion: Criterion {
    override public var typeName: String { "nn.CrossEntropyCriterion" }

    override public func updateOutput(_ input: Tensor, _ target: Tensor) throws -> Float {
        let (n, c) = try classificationShape(input, target, typeName)
        let x = input.data
        var total = 0.0
        for b in 0..<n {
            let row = x + b * c
            total += Double(logSumExp(row, c) - row[Int(target[b])])
        }
        output = Float(sizeAverage ? total / Double(n) : total)
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ target: Tensor) throws -> Tensor {
        let (n, c) = try classificationShape(input, target, typeName)
        gradInput.resize(input.shape)
        let x = input.data, g = gradInput.data
        let norm: Float = sizeAverage ? 1 / Float(n) : 1
        for b in 0..<n {
            let row = x + b * c, out = g + b * c
            let lse = logSumExp(row, c)
            for k in 0..<c { out[k] = Foundation.exp(row[k] - lse) * norm }
            out[Int(target[b])] -= norm
        }
        return gradInput
    }
}

/// log Σ_k e^{x_k} = m + log Σ_k e^{x_k - m} (see `rowShiftAndLogSum`).
@inline(__always)
func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let (m, logSum) = rowShiftAndLogSum(x, n)
    return m + logSum
}
