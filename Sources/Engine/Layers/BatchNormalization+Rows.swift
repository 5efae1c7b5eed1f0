import Foundation

/// The [B, n] paths of batch normalisation (one value per feature and example): row by row
/// over chunks of features, so that the inner loops run along contiguous memory and vectorise.
/// Per feature the sums run over b = 0..<B in order and in double precision (the spatial case
/// adds the same values, plane by plane in vector lanes: `BatchNormPlane`).
extension BatchNormalization {
    /// y = (x - μ)·s·γ + β over a [B, n] input, with μ, s the batch's statistics in training
    /// (saved for backward, and folded into the running averages with momentum m) or the
    /// running ones at evaluation.
    func updateOutputRows(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch n: Int, width: Int,
                          _ w: UnsafeMutablePointer<Float>?, _ bias: UnsafeMutablePointer<Float>?,
                          training: Bool, eps: Double, momentum m: Double) {
        let rm = runningMean.data, rv = runningVar.data
        savedMean.withUnsafeMutableBufferPointer { savedMeans in
            savedInvStd.withUnsafeMutableBufferPointer { savedInvStds in
                let sm = savedMeans.baseAddress, si = savedInvStds.baseAddress
                Parallel.forChunks(width, costPerItem: 6 * n) { r in
                    let count = r.count, lo = r.lowerBound
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * count) { scratch in
                        let mean = scratch.baseAddress!, invStd = mean + count, gamma = invStd + count, beta = gamma + count
                        if training, let sm, let si {
                            withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * count) { sums in
                                let sum = sums.baseAddress!, squares = sum + count
                                sum.initialize(repeating: 0, count: 2 * count)
                                for b in 0..<n {
                                    let p = x + b * width + lo
                                    for j in 0..<count { sum[j] += Double(p[j]) }
                                }
                                for j in 0..<count { mean[j] = Float(sum[j] / Double(n)) }
                                for b in 0..<n {
                                    let p = x + b * width + lo
                                    for j in 0..<count { let d = Double(p[j] - mean[j]); squares[j] += d * d }
                                }
                                for j in 0..<count {
                                    let c = lo + j
                                    invStd[j] = squares[j] == 0 && eps == 0 ? 0 : Float(1 / (squares[j] / Double(n) + eps).squareRoot())
                                    sm[c] = mean[j]
                                    si[c] = invStd[j]
                                    rm[c] = Float(m * Double(mean[j]) + (1 - m) * Double(rm[c]))
                                    rv[c] = Float(m * squares[j] / Double(n - 1) + (1 - m) * Double(rv[c]))
                                }
                            }
                        } else {
                            for j in 0..<count {
                                mean[j] = rm[lo + j]
                                invStd[j] = Float(1 / (Double(rv[lo + j]) + eps).squareRoot())
                            }
                        }
                        for j in 0..<count {
                            gamma[j] = w?[lo + j] ?? 1
                            beta[j] = bias?[lo + j] ?? 0
                        }
                        for b in 0..<n {
                            let p = x + b * width + lo, q = y + b * width + lo
                            for j in 0..<count { q[j] = (p[j] - mean[j]) * invStd[j] * gamma[j] + beta[j] }
                        }
                    }
                }
            }
        }
    }

    /// The backward pass of a [B, n] input with g = ∂L/∂y, one pass for the sums Σg and
    /// Σ(x - μ)g of each feature and one for the outputs:
    /// - with `gradInput`: ∂L/∂x = γ s (g - Σg/N - (x - μ) s² Σ(x - μ)g / N) in training,
    ///   γ s g at evaluation;
    /// - with `gradWeight` and `gradBias`: ∂L/∂γ += scale · s Σ(x - μ)g, ∂L/∂β += scale · Σg.
    func backwardRows(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, batch n: Int, width: Int,
                      means: [Float], invStds: [Float], gamma w: UnsafePointer<Float>?, training: Bool,
                      gradInput gi: UnsafeMutablePointer<Float>?,
                      gradWeight gw: UnsafeMutablePointer<Float>?, gradBias gb: UnsafeMutablePointer<Float>?, scale: Float) {
        let needsSums = (gi != nil && training) || gw != nil
        let count = Double(n)
        means.withUnsafeBufferPointer { meansBuffer in invStds.withUnsafeBufferPointer { invStdsBuffer in
            let means = meansBuffer.baseAddress!, invStds = invStdsBuffer.baseAddress!
            Parallel.forChunks(width, costPerItem: 6 * n) { r in
                let width_ = r.count, lo = r.lowerBound
                withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * width_) { sums in
                    let sum = sums.baseAddress!, dot = sum + width_
                    let mu = means + lo
                    if needsSums {
                        sum.initialize(repeating: 0, count: 2 * width_)
                        for b in 0..<n {
                            let px = x + b * width + lo, pg = g + b * width + lo
                            for j in 0..<width_ {
                                sum[j] += Double(pg[j])
                                dot[j] += Double(px[j] - mu[j]) * Double(pg[j])
                            }
                        }
                    }
                    if let gw, let gb {
                        for j in 0..<width_ {
                            let c = lo + j
                            gw[c] += scale * Float(dot[j] * Double(invStds[c]))
                            gb[c] += scale * Float(sum[j])
                        }
                    }
                    guard let gi else { return }
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * width_) { scratch in
                        let gradMean = scratch.baseAddress!, k = gradMean + width_, inv = k + width_, gamma = inv + width_
                        for j in 0..<width_ {
                            let c = lo + j
                            inv[j] = invStds[c]
                            gamma[j] = w?[c] ?? 1
                            if training {
                                gradMean[j] = Float(sum[j] / count)
                                k[j] = Float(dot[j] * Double(inv[j]) * Double(inv[j]) / count)
                            }
                        }
                        for b in 0..<n {
                            let o = b * width + lo
                            let po = gi + o, pg = g + o, px = x + o
                            if training {
                                for j in 0..<width_ { po[j] = (pg[j] - gradMean[j] - (px[j] - mu[j]) * k[j]) * inv[j] * gamma[j] }
                            } else {
                                for j in 0..<width_ { po[j] = pg[j] * inv[j] * gamma[j] }
                            }
                        }
                    }
                }
            }
        } }
    }
}
