/// Taylor-expansion estimates of the loss increase when a weight w is set to 0: with
/// L(w + Δ) ≈ L + g Δ + ½ h Δ² and Δ = -w,
///
///   ΔL ≈ -g w + ½ h w²,
///
/// g = ∂L/∂w and h = ∂²L/∂w² (the diagonal of the Hessian) of the mean loss L over the
/// scoring set. Their scores are in loss units, so global mode compares them raw.

/// `taylor1`: |g · w| (first order; Molchanov et al. 2017). Option accumulate=batch
/// (`ScoreAccumulation`): (1/B) Σ_b (g_b · w)², g_b the gradient of each scoring batch's mean
/// loss (Molchanov et al. 2019). Cost: one forward and backward pass over the scoring set.
public struct Taylor1Pruner: Pruner {
    public init() {}
    public var name: String { "taylor1" }
    public var globalNormalization: ScoreNormalization { .none }

    public func scores(_ context: PruningContext) throws -> Tensor {
        _ = try context.requireScoringSet(for: name)
        if try context.options.accumulatesBatches(for: name) { return try context.batchSquaredChanges(withCurvature: false) }
        let s = try context.gradient()
        s.cmul(context.weight.value)
        s.absInPlace()
        return s
    }
}

/// `taylor2`: ½ h w² (Optimal Brain Damage saliency), h from `DiagonalHessian` (Gauss-Newton,
/// or the empirical Fisher with the option hessian=fisher). Cost: one forward pass and one
/// backward pass of the diagonal (about a training pass) over the scoring set.
public struct Taylor2Pruner: Pruner {
    public init() {}
    public var name: String { "taylor2" }
    public var globalNormalization: ScoreNormalization { .none }

    public func scores(_ context: PruningContext) throws -> Tensor {
        _ = try context.requireScoringSet(for: name)
        let h = try context.hessianDiagonal()
        let w = context.weight.value.data, p = h.data
        for i in 0..<h.count { p[i] = 0.5 * p[i] * w[i] * w[i] }
        return h
    }
}

/// `taylor12`: both terms, ΔL ≈ -g w + ½ h w², ranked by option `rank` (`ScoreRanking`):
/// |ΔL| (abs, the default), ΔL (signed) or ΔL² (square). Option accumulate=batch: (1/B) Σ_b
/// (−g_b w + ½ h w²)², g_b of each scoring batch, h of the set (`ScoreAccumulation`).
/// Cost: taylor1 + taylor2.
public struct Taylor12Pruner: Pruner {
    public init() {}
    public var name: String { "taylor12" }
    public var globalNormalization: ScoreNormalization { .none }

    public func scores(_ context: PruningContext) throws -> Tensor {
        _ = try context.requireScoringSet(for: name)
        if try context.options.accumulatesBatches(for: name) { return try context.batchSquaredChanges(withCurvature: true) }
        let g = try context.gradient()
        let h = try context.hessianDiagonal()
        let w = context.weight.value.data, gp = g.data, hp = h.data
        for i in 0..<g.count { gp[i] = -gp[i] * w[i] + 0.5 * hp[i] * w[i] * w[i] }
        (context.options.ranking ?? .abs).apply(to: g)
        return g
    }
}
