import Foundation

/// Torch's nn.CrossEntropyCriterion: LogSoftMax followed by ClassNLL, in one stable pass.
///   loss = (1/n) Σ_b [ log Σ_k e^{x[b,k]} - x[b, t_b] ]   (sum when sizeAverage is false)
///   ∂loss/∂x[b,k] = (softmax(x[b])_k - 1[k = t_b]) / n
///
/// Rows are independent: their log-sum-exps run split across the engine's threads, and the
/// loss sums the rows' terms in row order afterwards (the same bits for any thread count).
/// The backward pass of the input the forward pass just saw (the same values, bit for bit)
/// takes its rows' log-sum-exps from there instead of computing them again.
public final class CrossEntropyCriterion: Criterion {
    override public var typeName: String { "nn.CrossEntropyCriterion" }

    /// log Σ_k e^{x[b,k]} of each row b of the last forward pass's input, and a copy of that
    /// input (what the backward pass compares its own input with).
    private var rowLogSums: [Float] = []
    private var forwardInput: [Float] = []

    /// Work of one row of c classes for the thread split: c exponentials and a logarithm.
    private static func rowCost(_ c: Int) -> Int { 40 * c + 40 }

    override public func updateOutput(_ input: Tensor, _ target: Tensor) throws -> Float {
        let (n, c) = try classificationShape(input, target, typeName)
        let x = input.data
        forwardInput = Array(UnsafeBufferPointer(start: x, count: n * c))
        rowLogSums = [Float](repeating: 0, count: n)
        var terms = [Float](repeating: 0, count: n)
        rowLogSums.withUnsafeMutableBufferPointer { lse in
            terms.withUnsafeMutableBufferPointer { term in
                Parallel.forChunks(n, costPerItem: Self.rowCost(c)) { rows in
                    for b in rows {
                        let row = x + b * c
                        lse[b] = logSumExp(row, c)
                        term[b] = lse[b] - row[Int(target[b])]
                    }
                }
            }
        }
        var total = 0.0
        for b in 0..<n { total += Double(terms[b]) }
        output = Float(sizeAverage ? total / Double(n) : total)
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ target: Tensor) throws -> Tensor {
        let (n, c) = try classificationShape(input, target, typeName)
        gradInput.resize(input.shape)
        let x = input.data, g = gradInput.data
        let norm: Float = sizeAverage ? 1 / Float(n) : 1
        let known = rowLogSums.count == n && forwardInput.count == n * c
            && (n * c == 0 || forwardInput.withUnsafeBytes { memcmp($0.baseAddress!, x, n * c * MemoryLayout<Float>.size) == 0 })
        rowLogSums.withUnsafeBufferPointer { saved in
            Parallel.forChunks(n, costPerItem: Self.rowCost(c)) { rows in
                for b in rows {
                    let row = x + b * c, out = g + b * c
                    let lse = known ? saved[b] : logSumExp(row, c)
                    for k in 0..<c { out[k] = Foundation.exp(row[k] - lse) * norm }
                    out[Int(target[b])] -= norm
                }
            }
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
