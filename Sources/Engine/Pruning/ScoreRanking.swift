/// What a criterion that estimates or measures a signed loss change ΔL ranks (the option
/// `rank`, for `emp`, `emp-naive`, `taylor12`, `l1` and `l2`); the lowest values are pruned:
///
/// - `signed`: ΔL itself. A weight whose lone removal lowers the loss (ΔL < 0) goes first;
///   at high sparsity those weights, removed together, hurt (docs/pruners.md, "Measured").
/// - `abs`: |ΔL|. The weights whose lone removal changes the loss least go first.
/// - `square`: ΔL² (Molchanov et al. 2017, 2019). Within one layer, and across layers without
///   normalisation, the same order as `abs` (x ↦ x² is increasing on |x|); with `mean` or `l2`
///   normalisation in global mode it weighs a layer's large changes more.
public enum ScoreRanking: String, CaseIterable {
    case signed, abs, square

    /// Replaces each signed change x in `t` by the ranked value: x, |x| or x².
    public func apply(to t: Tensor) {
        let p = t.data
        switch self {
        case .signed: return
        case .abs: for i in 0..<t.count { p[i] = Swift.abs(p[i]) }
        case .square: for i in 0..<t.count { p[i] = p[i] * p[i] }
        }
    }
}
