/// The passes over the scoring set behind the data-driven structured criteria. Each runs the
/// model in evaluation mode and leaves its mode, frozen flags and gradients as they were
/// (`ModelStateGuard`); no parameter changes.
///
/// The unit's output a is what the consumer reads (`UnitPlan`), seen per batch as
/// [b, units, P]: P = H·W positions of a plane, or s features per unit after a flatten.
enum UnitScoringPasses {
    /// (1/(N·P)) Σ |a[e, j, p]| per unit, and with `gradients` the Taylor sum
    /// (1/N) Σ_e Σ_p a[e, j, p] · ∂ℓ_e/∂a[e, j, p] (signed), the backward pass running only
    /// from the output down to the consumer's input.
    static func activationStatistics(_ c: UnitContext, gradients: Bool, for name: String) throws
        -> (meanAbsolute: [Double], taylor: [Double]) {
        let model = c.model, plan = c.plan, units = plan.units, criterion = c.settings.criterion
        var absolute = [Double](repeating: 0, count: units), taylor = [Double](repeating: 0, count: units)
        var positions = 1
        let n = try forEachScoringBatch(c, for: name) { x, t, b, scale in
            let out = try model.forward(x)
            let a = model.modules[plan.consumer - 1].output
            positions = a.count / (b * units)
            let p = a.data
            for e in 0..<b {
                for j in 0..<units {
                    let start = (e * units + j) * positions
                    var s = 0.0
                    for q in start..<(start + positions) { s += Double(abs(p[q])) }
                    absolute[j] += s
                }
            }
            guard gradients else { return }
            _ = try criterion.forward(out, t)
            var g = try criterion.backward(out, t)
            for i in stride(from: model.modules.count - 1, through: plan.consumer, by: -1) {
                g = try model.modules[i].updateGradInput(model.modules[i - 1].output, g)
            }
            let d = g.data
            for e in 0..<b {
                for j in 0..<units {
                    let start = (e * units + j) * positions
                    var s = 0.0
                    for q in start..<(start + positions) { s += Double(p[q]) * Double(d[q]) }
                    taylor[j] += s * scale
                }
            }
        }
        let norm = 1 / (n * Double(positions))
        return (absolute.map { $0 * norm }, taylor)
    }

    /// ΔL_j = L(unit j's output zeroed) − L for every unit, L the mean loss over the scoring
    /// set; each batch runs the full model once, then the layers from the consumer on once
    /// per unit.
    static func lossChanges(_ c: UnitContext, for name: String) throws -> [Double] {
        let model = c.model, plan = c.plan, units = plan.units, criterion = c.settings.criterion
        var change = [Double](repeating: 0, count: units)
        _ = try forEachScoringBatch(c, for: name) { x, t, b, weight in
            let base = Double(try criterion.forward(try model.forward(x), t))
            let a = model.modules[plan.consumer - 1].output.clone()
            let z = a.clone()
            let positions = a.count / (b * units)
            let src = a.data, dst = z.data
            for j in 0..<units {
                for e in 0..<b {
                    let start = (e * units + j) * positions
                    for q in start..<(start + positions) { dst[q] = 0 }
                }
                var y = z
                for i in plan.consumer..<model.modules.count { y = try model.modules[i].forward(y) }
                change[j] += (Double(try criterion.forward(y, t)) - base) * weight
                for e in 0..<b {
                    let start = (e * units + j) * positions
                    for q in start..<(start + positions) { dst[q] = src[q] }
                }
            }
        }
        return change
    }

    /// Runs `body(inputs, targets, b, w)` on each batch of the scoring set (b images, w = their
    /// weight in the mean loss: b/N for a size-averaged criterion, 1/N otherwise) with the model
    /// in evaluation mode, and puts back what the pass disturbs. Returns N (as a Double).
    private static func forEachScoringBatch(_ c: UnitContext, for name: String,
                                            _ body: (Tensor, Tensor, Int, Double) throws -> Void) throws -> Double {
        let data = try c.requireScoringSet(for: name)
        let state = ModelStateGuard(c.model)
        defer { state.restore() }
        c.model.evaluate()
        let n = Double(data.count), sizeAverage = c.settings.criterion.sizeAverage
        try forEachBatch(data, batchSize: c.settings.batchSize) { x, t, range in
            try body(x, t, range.count, (sizeAverage ? Double(range.count) : 1) / n)
        }
        return n
    }
}
