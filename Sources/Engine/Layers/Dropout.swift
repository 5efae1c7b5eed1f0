import Foundation

/// Dropout (Torch's nn.Dropout(p, v1, inplace)), "inverted" by default (Torch's version 2):
///
/// - training: y = x ⊙ r / (1 - p), r[i] ~ Bernoulli(1 - p); ∂L/∂x = ∂L/∂y ⊙ r / (1 - p);
/// - evaluation: y = x, ∂L/∂x = ∂L/∂y.
///
/// With `v1 == true` (Torch's first version) training uses y = x ⊙ r and evaluation
/// y = (1 - p) x, ∂L/∂x = (1 - p) ∂L/∂y (Torch divides there, which is not the derivative; the
/// workbench uses the correct one).
///
/// Reproducible noise: each Dropout owns a `RandomGenerator` seeded from `GlobalRandom` when
/// it is built, so seeding `GlobalRandom` before building a model fixes every mask drawn.
/// `seed(_:)` restarts the module's own stream; `reuseNoise = true` keeps the current mask
/// (`noise`) for every later training forward of the same size, which is what finite-difference
/// gradient checks need. `inplace` is accepted and recorded, but the output is always a
/// separate buffer.
public final class Dropout: Module {
    /// Probability of dropping a unit, 0 ≤ p < 1.
    public private(set) var p: Double
    /// Torch's version-1 scaling (at evaluation instead of training).
    public let v1: Bool
    /// Torch's `inplace` flag: recorded for model files, otherwise ignored.
    public let inplace: Bool
    /// The mask of the last training forward: 0 or 1/(1-p) (v2), 0 or 1 (v1).
    public private(set) var noise = Tensor()
    /// Keep `noise` for the following training forwards instead of drawing a new one.
    public var reuseNoise = false
    private var generator: RandomGenerator

    public init(_ p: Double = 0.5, v1: Bool = false, inplace: Bool = false) throws {
        try Dropout.validate(p)
        self.p = p
        self.v1 = v1
        self.inplace = inplace
        generator = RandomGenerator(seed: GlobalRandom.generator.next())
        super.init()
    }


    private static func validate(_ p: Double) throws {
        guard p >= 0 && p < 1 else {
            throw EngineError("nn.Dropout: illegal percentage \(p), must be 0 <= p < 1")
        }
    }

    override public var typeName: String { "nn.Dropout" }

    /// Torch's `setp`.
    public func setP(_ p: Double) throws {
        try Dropout.validate(p)
        self.p = p
    }

    /// Restarts this module's noise stream from `seed`.
    public func seed(_ seed: UInt64) { generator = RandomGenerator(seed: seed) }

    /// Draws r ~ Bernoulli(1 - p), scaled by 1/(1-p) in version 2.
    private func drawNoise(_ shape: [Int]) {
        noise.resize(shape)
        let keep = Float(1 - p)
        let kept: Float = v1 ? 1 : 1 / keep
        let r = noise.data
        for i in 0..<noise.count { r[i] = generator.nextUniform() < keep ? kept : 0 }
    }

    /// The constant y = c·x of evaluation mode: c = 1 - p in version 1, else 1.
    var evaluationScale: Float { Float(v1 ? 1 - p : 1) }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        output.resize(input.shape)
        output.copy(from: input)
        guard p > 0 else { return output }
        if isTraining {
            if !(reuseNoise && noise.count == input.count) { drawNoise(input.shape) }
            output.cmul(noise)
        } else if v1 {
            output.scale(by: Float(1 - p))
        }
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        guard gradOutput.count == input.count else {
            throw EngineError("\(description): gradOutput has \(gradOutput.count) elements (\(shapeString(gradOutput.shape))), input \(input.count) (\(shapeString(input.shape)))")
        }
        gradInput.resize(input.shape)
        gradInput.copy(from: gradOutput)
        guard p > 0 else { return gradInput }
        if isTraining {
            guard noise.count == input.count else {
                throw EngineError("\(description): backward in training mode needs a forward of the same input first")
            }
            gradInput.cmul(noise)
        } else if v1 {
            gradInput.scale(by: Float(1 - p))
        }
        return gradInput
    }

    override public func clearState() {
        super.clearState()
        noise = Tensor()
    }

    override public var spec: ModuleSpec {
        var options: [String: Double] = [:]
        if v1 { options["v1"] = 1 }
        if inplace { options["inplace"] = 1 }
        return ModuleSpec(type: typeName, args: [p], options: options.isEmpty ? nil : options)
    }

    /// `nn.Dropout(0.500000)`: Torch's `__tostring__` (`%f`).
    override public var description: String { String(format: "nn.Dropout(%f)", p) }
}
