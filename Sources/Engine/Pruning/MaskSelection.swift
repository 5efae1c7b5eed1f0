import Foundation

/// Turns scores into masks.
///
/// **One layer.** For n weights and a target fraction p ∈ [0, 1], the new mask prunes
/// k = round(p · n) weights (halves round away from zero). Weights the current mask already
/// prunes count toward k and stay pruned whatever their score (a mask never revives a weight;
/// if they are more than k, the mask keeps exactly them). The other k - m are the lowest
/// scores among the weights still in place, ties broken by index (the lower index is pruned
/// first), so the result does not depend on the sort algorithm.
///
/// **Global.** One ranking across several layers to a total fraction: k = round(p · Σ n_l)
/// over all of them, the already pruned counting toward k, the rest chosen by lowest
/// normalised score (`ScoreNormalization`), ties by (layer order, index). With per-layer caps
/// c_l, layer l ends with at most max(m_l, round(c_l · n_l)) pruned weights (m_l already pruned):
/// a capped layer's remaining candidates are passed over, so when the caps leave fewer than
/// k weights to take the result prunes fewer than k.
public enum MaskSelection {
    /// round(p · n) after checking p.
    public static func pruneCount(fraction p: Double, of n: Int) throws -> Int {
        guard p.isFinite, p >= 0, p <= 1 else {
            throw EngineError("the fraction to prune must be between 0 and 1, got \(p)")
        }
        return Swift.min(n, Int((p * Double(n)).rounded(.toNearestOrAwayFromZero)))
    }

    /// The new 0/1 mask (shaped like `scores`) of a layer whose current mask is `current`.
    public static func mask(scores: Tensor, current: Tensor?, fraction: Double) throws -> Tensor {
        let n = scores.count
        let k = try pruneCount(fraction: fraction, of: n)
        return try masks(scores: [scores], current: [current], pruneCount: k, normalization: .none)[0]
    }

    /// New masks for several layers pruned to one total fraction.
    /// `caps`: at most this fraction of each layer pruned (nil: no caps).
    public static func globalMasks(scores: [Tensor], current: [Tensor?], fraction: Double,
                                   normalization: ScoreNormalization, caps: [Double]? = nil) throws -> [Tensor] {
        let k = try pruneCount(fraction: fraction, of: scores.reduce(0) { $0 + $1.count })
        var limits: [Int]?
        if let caps {
            guard caps.count == scores.count else {
                throw EngineError("global pruning: \(caps.count) caps for \(scores.count) layers")
            }
            limits = try zip(caps, scores).map { try pruneCount(fraction: $0, of: $1.count) }
        }
        return try masks(scores: scores, current: current, pruneCount: k, normalization: normalization, caps: limits)
    }

    /// Prunes `k` weights in all: the masked ones, then the lowest normalised scores.
    /// `caps[l]`: the most weights layer l may end with pruned (its already pruned ones stay).
    static func masks(scores: [Tensor], current: [Tensor?], pruneCount k: Int,
                      normalization: ScoreNormalization, caps: [Int]? = nil) throws -> [Tensor] {
        precondition(scores.count == current.count)
        var candidates = [(score: Double, layer: Int32, index: Int32)]()
        var result = [Tensor]()
        var alreadyPruned = 0
        var prunedIn = [Int](repeating: 0, count: scores.count)
        for (l, s) in scores.enumerated() {
            if let c = current[l], c.count != s.count {
                throw EngineError("\(s.count) scores for a mask of \(c.count) weights")
            }
            let m = Tensor(shape: s.shape, repeating: 1)
            let mask = current[l]?.data, sp = s.data
            var kept = [Int]()
            kept.reserveCapacity(s.count)
            for i in 0..<s.count {
                if let mask, mask[i] == 0 {
                    m[i] = 0
                    alreadyPruned += 1
                    prunedIn[l] += 1
                } else {
                    guard !sp[i].isNaN else {
                        throw EngineError("the pruner returned NaN as the score of weight \(i + 1)\(scores.count > 1 ? " of the \(l + 1)th layer" : "")")
                    }
                    kept.append(i)
                }
            }
            let scale = normaliser(kept.map { Double(sp[$0]) }, normalization)
            for i in kept { candidates.append((Double(sp[i]) * scale, Int32(l), Int32(i))) }
            result.append(m)
        }
        let more = k - alreadyPruned
        guard more > 0 else { return result }
        candidates.sort { a, b in
            if a.score != b.score { return a.score < b.score }
            if a.layer != b.layer { return a.layer < b.layer }
            return a.index < b.index
        }
        guard let caps else {
            for c in candidates.prefix(more) { result[Int(c.layer)][Int(c.index)] = 0 }
            return result
        }
        var taken = 0
        for c in candidates where taken < more {
            let l = Int(c.layer)
            guard prunedIn[l] < caps[l] else { continue }
            result[l][Int(c.index)] = 0
            prunedIn[l] += 1
            taken += 1
        }
        return result
    }

    /// The factor a layer's scores are multiplied by (1 when the statistic is 0).
    static func normaliser(_ s: [Double], _ how: ScoreNormalization) -> Double {
        guard !s.isEmpty else { return 1 }
        let stat: Double
        switch how {
        case .none: return 1
        case .mean: stat = s.reduce(0) { $0 + Swift.abs($1) } / Double(s.count)
        case .l2: stat = s.reduce(0) { $0 + $1 * $1 }.squareRoot()
        }
        return stat > 0 && stat.isFinite ? 1 / stat : 1
    }
}
