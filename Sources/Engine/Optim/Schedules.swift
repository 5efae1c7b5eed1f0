import Foundation

/// A learning-rate schedule: the rate at time t (a step or an epoch count, from 0) as a
/// function of the base rate η₀ (PyTorch's `lr_scheduler` formulas):
///
/// - `constant`:                    η(t) = η₀
/// - `step(every: s, gamma: γ)`:    η(t) = η₀ · γ^⌊t / s⌋
/// - `multiStep(milestones: M, γ)`: η(t) = η₀ · γ^|{m ∈ M : m ≤ t}|
/// - `exponential(gamma: γ)`:       η(t) = η₀ · γ^t
/// - `cosine(total: T, floor: η_min)`: η(t) = η_min + (η₀ − η_min) · ½ (1 + cos(π · min(t, T) / T))
/// - `warmup(steps: w, then: S)`:   η(t) = η₀ · (t + 1) / w for t < w, then S at time t − w
/// - `custom(f)`:                   η(t) = f(step, epoch), any function (a Lua function, say)
public indirect enum Schedule {
    case constant
    case step(every: Int, gamma: Double)
    case multiStep(milestones: [Int], gamma: Double)
    case exponential(gamma: Double)
    case cosine(total: Int, floor: Double)
    case warmup(steps: Int, then: Schedule)
    case custom((_ step: Int, _ epoch: Int) throws -> Double)

    /// The rate at time `t`; `step` and `epoch` are what a custom schedule is given.
    public func rate(base: Double, at t: Int, step: Int, epoch: Int) throws -> Double {
        switch self {
        case .constant: return base
        case let .step(every, gamma): return base * Foundation.pow(gamma, Double(t / every))
        case let .multiStep(milestones, gamma): return base * Foundation.pow(gamma, Double(milestones.filter { $0 <= t }.count))
        case .exponential(let gamma): return base * Foundation.pow(gamma, Double(t))
        case let .cosine(total, floor):
            return floor + (base - floor) * 0.5 * (1 + Foundation.cos(Double.pi * Double(Swift.min(t, total)) / Double(total)))
        case let .warmup(steps, then):
            return t < steps ? base * Double(t + 1) / Double(steps) : try then.rate(base: base, at: t - steps, step: step, epoch: epoch)
        case .custom(let f): return try f(step, epoch)
        }
    }

    /// Checks the schedule's own numbers (periods ≥ 1, finite factors).
    public func validate() throws {
        switch self {
        case .constant, .custom: return
        case let .step(every, gamma):
            guard every >= 1 else { throw EngineError("step schedule: the period must be at least 1, got \(every)") }
            try Self.check(gamma, "step schedule: gamma")
        case let .multiStep(_, gamma): try Self.check(gamma, "multi-step schedule: gamma")
        case .exponential(let gamma): try Self.check(gamma, "exponential schedule: gamma")
        case let .cosine(total, floor):
            guard total >= 1 else { throw EngineError("cosine schedule: the length must be at least 1, got \(total)") }
            try Self.check(floor, "cosine schedule: the floor")
        case let .warmup(steps, then):
            guard steps >= 1 else { throw EngineError("warm-up: the number of steps must be at least 1, got \(steps)") }
            try then.validate()
        }
    }

    private static func check(_ x: Double, _ what: String) throws {
        guard x.isFinite && x >= 0 else { throw EngineError("\(what) must be a finite number >= 0, got \(x)") }
    }
}

/// Sets a parameter group's learning rate from a schedule, per optimiser step or per epoch:
/// before step s of epoch e (both counted from 0), the group's rate becomes
/// `schedule.rate(base:at:)` with t = s (`per: .step`) or t = e (`per: .epoch`).
public final class LearningRateScheduler {
    public enum Unit { case step, epoch }
    public let group: ParameterGroup
    public let base: Double
    public let schedule: Schedule
    public let unit: Unit

    /// `base` defaults to the group's rate now.
    public init(_ group: ParameterGroup, schedule: Schedule, per unit: Unit = .step, base: Double? = nil) throws {
        try schedule.validate()
        self.group = group
        self.schedule = schedule
        self.unit = unit
        self.base = base ?? Double(group.learningRate)
    }

    /// Assigns the rate for step `step` of epoch `epoch`; a rate that is negative or not finite
    /// is an error (the group keeps its previous rate).
    public func apply(step: Int, epoch: Int) throws {
        let r = try schedule.rate(base: base, at: unit == .step ? step : epoch, step: step, epoch: epoch)
        guard r.isFinite && r >= 0 else {
            throw EngineError("the learning-rate schedule gave \(r) at step \(step + 1), epoch \(epoch + 1): a rate must be a finite number >= 0")
        }
        group.learningRate = Float(r)
    }
}
