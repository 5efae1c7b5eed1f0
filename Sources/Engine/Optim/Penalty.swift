/// A penalty on a list of parameters, added to the training objective by the `Trainer`:
///
///   L1: R(θ) = λ · Σ|θᵢ|,    ∂R/∂θᵢ = λ · sign(θᵢ)  (the subgradient, 0 where θᵢ = 0)
///   L2: R(θ) = λ/2 · Σθᵢ²,   ∂R/∂θᵢ = λ · θᵢ
///   group lasso (groups of `groupSize` consecutive elements, e.g. a convolution's kernel
///   patches of kh·kw weights): R(θ) = λ · Σ_groups √(Σ_{i∈g} θᵢ² + ε),
///   ∂R/∂θᵢ = λ · θᵢ / √(Σ_{j∈g(i)} θⱼ² + ε), ε = 1e-12 (IntelAI/dynamic-reparameterization's
///   --conv-group-lasso term; ε keeps an all-zero group's gradient 0)
///
/// summed over every element of every parameter listed, with λ = `strength`. The trainer
/// minimises (criterion's mean loss over the batch) + Σ R: it adds R's gradient to the
/// parameters' `grad` after backward and R's value to the loss it reports. λ is not divided by
/// the batch size.
///
/// L2 with strength λ and an optimiser's `weightDecay` λ give the same update (SGD and Adam
/// here both add weightDecay·θ to the gradient first), but weight decay lives in the optimiser:
/// it is per optimiser group, invisible to the `afterBackward` hook and absent from the
/// reported loss. A penalty is part of the loss: it names its own parameters (independent of
/// the optimiser's groups), is in the gradient the hook sees and in the loss the trainer reports.
///
/// θ is the effective tensor the layers read (`Parameter.value` = W ⊙ M): where a weight is
/// masked it is 0, so it adds nothing to R nor to the gradient.
public final class Penalty {
    public enum Kind: String {
        case l1, l2, groupLasso
    }

    /// ε under the group lasso's square root.
    public static let groupLassoEpsilon = 1.0e-12

    public let kind: Kind
    /// λ ≥ 0, finite; change it with `setStrength` (0 turns the penalty off).
    public private(set) var strength: Float
    /// The parameters R sums over.
    public let parameters: [Parameter]
    /// The group lasso's group size (1 for L1 and L2): each parameter's elements in runs of it.
    public let groupSize: Int

    public init(_ kind: Kind, strength: Double, parameters: [Parameter], groupSize: Int = 1) throws {
        guard !parameters.isEmpty else { throw EngineError("an \(kind.rawValue) penalty needs at least one parameter") }
        guard groupSize >= 1, kind == .groupLasso || groupSize == 1 else {
            throw EngineError("a group size (\(groupSize)) is the group lasso's: it must be >= 1, and 1 for l1 and l2")
        }
        for p in parameters where p.value.count % groupSize != 0 {
            throw EngineError("a group lasso in groups of \(groupSize): a parameter of \(p.value.count) elements is not a whole number of groups")
        }
        self.kind = kind
        self.strength = try Penalty.checked(strength, kind)
        self.parameters = parameters
        self.groupSize = groupSize
    }

    /// An L1 or L2 penalty on the parameters of `group` (as the group lists them now).
    public convenience init(_ kind: Kind, strength: Double, group: ParameterGroup) throws {
        try self.init(kind, strength: strength, parameters: group.parameters)
    }

    public func setStrength(_ x: Double) throws { strength = try Penalty.checked(x, kind) }

    private static func checked(_ x: Double, _ kind: Kind) throws -> Float {
        guard x.isFinite && x >= 0 && Float(x).isFinite else {
            throw EngineError("the strength of an \(kind.rawValue) penalty must be a finite number >= 0, got \(x)")
        }
        return Float(x)
    }

    /// R(θ) at the parameters' current values, summed in double precision element by element
    /// in order (the same bits for any thread count).
    public func value() -> Double {
        guard strength != 0 else { return 0 }
        var sum = 0.0
        for p in parameters {
            let x = p.value.data
            switch kind {
            case .l1: for i in 0..<p.value.count { sum += Double(abs(x[i])) }
            case .l2: for i in 0..<p.value.count { sum += Double(x[i]) * Double(x[i]) }
            case .groupLasso:
                for start in stride(from: 0, to: p.value.count, by: groupSize) {
                    var squares = 0.0
                    for i in start..<(start + groupSize) { squares += Double(x[i]) * Double(x[i]) }
                    sum += (squares + Penalty.groupLassoEpsilon).squareRoot()
                }
            }
        }
        return kind == .l2 ? Double(strength) / 2 * sum : Double(strength) * sum
    }

    /// grad += ∂R/∂θ for every listed parameter. Elementwise, so the
    /// chunks of the parallel loop give the same bits for any split.
    public func addGradient() {
        guard strength != 0 else { return }
        let lambda = strength, l1 = kind == .l1
        if kind == .groupLasso { addGroupLassoGradient(); return }
        for p in parameters {
            let x = p.value.data, g = p.grad.data
            Parallel.forChunks(p.value.count, costPerItem: 2) { r in
                if l1 {
                    for i in r { g[i] += x[i] > 0 ? lambda : x[i] < 0 ? -lambda : 0 }
                } else {
                    for i in r { g[i] += lambda * x[i] }
                }
            }
        }
    }

    /// The group lasso's gradient, group by group (each group's norm in double precision, in
    /// order: the same bits for any split of the groups).
    private func addGroupLassoGradient() {
        let lambda = Double(strength), size = groupSize
        for p in parameters {
            let x = p.value.data, g = p.grad.data
            Parallel.forChunks(p.value.count / size, costPerItem: 3 * size) { r in
                for group in r {
                    let start = group * size
                    var squares = 0.0
                    for i in start..<(start + size) { squares += Double(x[i]) * Double(x[i]) }
                    let scale = lambda / (squares + Penalty.groupLassoEpsilon).squareRoot()
                    for i in start..<(start + size) { g[i] += Float(scale * Double(x[i])) }
                }
            }
        }
    }

    /// Σ R over `penalties` and their gradients added: what the trainer does after backward.
    /// Returns 0 (and does nothing) when there are none.
    static func apply(_ penalties: [Penalty]) -> Double {
        var total = 0.0
        for p in penalties {
            total += p.value()
            p.addGradient()
        }
        return total
    }
}
