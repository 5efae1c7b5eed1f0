/// The architecture of one module: its Torch type name, constructor arguments in Torch's
/// order, named options, and children for containers. Stored in model files so that the file
/// alone rebuilds the model (see `ModuleFactory`).
public struct ModuleSpec: Codable, Equatable {
    public var type: String
    public var args: [Double]
    public var options: [String: Double]?
    public var modules: [ModuleSpec]?
    /// Where a module type defined outside the Engine comes from ("Lua" for a `torch.class`),
    /// nil for the Engine's own; `ModuleFactory` builds such a type through the
    /// `ModuleTypeRegistry` it is given. Absent from the JSON when nil.
    public var definedIn: String?

    public init(type: String, args: [Double] = [], options: [String: Double]? = nil, modules: [ModuleSpec]? = nil,
                definedIn: String? = nil) {
        self.type = type
        self.args = args
        self.options = options
        self.modules = modules
        self.definedIn = definedIn
    }
}

/// Base class of every layer, with Torch7 nn semantics:
/// `forward` = `updateOutput`; `backward` = `updateGradInput` + `accGradParameters`.
/// Gradients of parameters accumulate (`zeroGradParameters` clears them), as in Torch.
///
/// Subclasses own their `output` and `gradInput` buffers and reuse them across calls, so
/// the returned tensors are overwritten by the next call (as in Torch).
open class Module {
    public internal(set) var output = Tensor()
    public internal(set) var gradInput = Tensor()
    /// Training mode (dropout active, batch norm uses batch statistics).
    public internal(set) var isTraining = true
    /// Multiplies the optimiser's learning rate for this module's parameters.
    public var learningRateScale: Float = 1
    /// A frozen module's parameters are not updated, and no gradient is computed for them:
    /// freezing sets their gradients to 0 once, and training leaves them so (it zeroes only
    /// the gradients of modules still trained, `zeroTrainedGradients`).
    public var isFrozen = false {
        didSet { if isFrozen && !oldValue { zeroGradParameters() } }
    }
    /// Pinned to evaluation mode: `training()`, on this module or any container around it,
    /// leaves it (and, for a container, everything inside it) in evaluation mode (batch norm
    /// normalises with its running statistics and does not update them; dropout passes its
    /// input through), while `evaluate()` still applies. Pinning puts the module into
    /// evaluation mode at once; unpinning changes no mode, the next `training()` does.
    /// For frozen layers that must not drift while the rest trains (FreezeOut-like studies).
    /// A slot for the scripting layer, which the Engine never reads: the Lua bridge keeps there
    /// the fields a script set on this module, so that they live as long as the module does
    /// (not only as long as the Lua object that showed it to the script).
    public var scriptFields: AnyObject?

    public var isEvaluationPinned = false {
        didSet { if isEvaluationPinned { evaluate() } }
    }

    public init() {}

    /// Torch type name, e.g. "nn.Linear".
    open var typeName: String { "nn.Module" }

    /// Learnable parameters in Torch's order (weight, then bias).
    open var parameters: [Parameter] { [] }

    /// The weight parameter, if the module has one (what pruning acts on).
    open var weight: Parameter? { nil }
    open var bias: Parameter? { nil }

    /// State that is saved in model files but not learned by gradient, in PyTorch's
    /// state_dict order, e.g. batch norm's `[("running_mean", μ), ("running_var", σ²)]`.
    /// Model files copy into these tensors in place when loading, so keep them allocated.
    open var buffers: [(name: String, value: Tensor)] { [] }

    open func updateOutput(_ input: Tensor) throws -> Tensor { fatalError("\(typeName) must override updateOutput") }
    open func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        fatalError("\(typeName) must override updateGradInput")
    }
    /// Accumulates scale · ∂loss/∂θ into each parameter's `grad`.
    open func accGradParameters(_ input: Tensor, _ gradOutput: Tensor, scale: Float) throws {}

    /// Computes the output from the effective weights W ⊙ M (`Parameter.prepareForward`:
    /// scores choose the masks in training, masks are applied).
    @discardableResult
    public func forward(_ input: Tensor) throws -> Tensor {
        for p in parameters { try p.prepareForward(training: isTraining) }
        return try updateOutput(input)
    }

    /// Gradient with respect to the input, and accumulation of the parameter gradients
    /// ∂L/∂W_eff (and the scores' straight-through gradients).
    @discardableResult
    open func backward(_ input: Tensor, _ gradOutput: Tensor, scale: Float = 1) throws -> Tensor {
        let g = try updateGradInput(input, gradOutput)
        if !isFrozen {
            try accGradParameters(input, gradOutput, scale: scale)
            parametersReceivedGradients()
        }
        return g
    }

    /// Like `backward` but without computing the input gradient (for the lowest trained layer).
    open func backwardParametersOnly(_ input: Tensor, _ gradOutput: Tensor, scale: Float = 1) throws {
        if isFrozen { return }
        try accGradParameters(input, gradOutput, scale: scale)
        parametersReceivedGradients()
    }

    // MARK: tables (Activation.swift): what Torch's table modules and their containers run

    /// True when the module takes or gives tables, so a container around it runs its modules
    /// through the `Activation` methods below; false for a tensor module (the plain path).
    open var usesTables: Bool { false }

    /// The last output as an activation (`.tensor(output)` for a tensor module).
    open var activationOutput: Activation { .tensor(output) }
    /// The last input gradient as an activation (`.tensor(gradInput)` for a tensor module).
    open var activationGradInput: Activation { .tensor(gradInput) }

    /// `updateOutput` on an activation: a tensor module takes a tensor only.
    open func updateOutput(_ input: Activation) throws -> Activation {
        .tensor(try updateOutput(try input.tensor(for: description)))
    }
    open func updateGradInput(_ input: Activation, _ gradOutput: Activation) throws -> Activation {
        .tensor(try updateGradInput(try input.tensor(for: description), try gradOutput.tensor(for: "\(description) gradOutput")))
    }
    open func accGradParameters(_ input: Activation, _ gradOutput: Activation, scale: Float) throws {
        try accGradParameters(try input.tensor(for: description), try gradOutput.tensor(for: "\(description) gradOutput"), scale: scale)
    }

    /// `forward` on an activation; a tensor through a tensor module takes the plain path.
    @discardableResult
    public func forward(_ input: Activation) throws -> Activation {
        if !usesTables, case .tensor(let x) = input { return .tensor(try forward(x)) }
        for p in parameters { try p.prepareForward(training: isTraining) }
        return try updateOutput(input)
    }

    /// `backward` on activations; tensors through a tensor module take the plain path.
    @discardableResult
    open func backward(_ input: Activation, _ gradOutput: Activation, scale: Float = 1) throws -> Activation {
        if !usesTables, case .tensor(let x) = input, case .tensor(let g) = gradOutput {
            return .tensor(try backward(x, g, scale: scale))
        }
        let g = try updateGradInput(input, gradOutput)
        if !isFrozen {
            try accGradParameters(input, gradOutput, scale: scale)
            parametersReceivedGradients()
        }
        return g
    }

    /// `backwardParametersOnly` on activations.
    open func backwardParametersOnly(_ input: Activation, _ gradOutput: Activation, scale: Float = 1) throws {
        if !usesTables, case .tensor(let x) = input, case .tensor(let g) = gradOutput {
            return try backwardParametersOnly(x, g, scale: scale)
        }
        if isFrozen { return }
        try accGradParameters(input, gradOutput, scale: scale)
        parametersReceivedGradients()
    }

    /// After `accGradParameters`: the scores of a parameter take their gradient from it.
    public func parametersReceivedGradients() {
        for p in parameters where p.scores != nil { p.propagateGradientToScores() }
    }

    public func zeroGradParameters() {
        for p in allParameters {
            p.grad.zero()
            p.scores?.grad.zero()
        }
    }

    /// Zeroes the gradients of every module here that is not frozen (what a training step's
    /// backward accumulates into); a frozen module's gradients stay as freezing left them, 0,
    /// with no work per step.
    public func zeroTrainedGradients() {
        for m in leafModules(self) where !m.isFrozen { m.zeroGradParameters() }
    }

    /// Parameters of this module and, for containers, of every descendant.
    open var allParameters: [Parameter] { parameters }

    /// Training mode, unless the module is pinned to evaluation (`isEvaluationPinned`).
    open func training() { isTraining = !isEvaluationPinned }
    open func evaluate() { isTraining = false }

    /// Frees the per-batch buffers (`output`, `gradInput`, ...).
    open func clearState() {
        output = Tensor()
        gradInput = Tensor()
    }

    /// Torch's default initialisation (uniform ±1/√fan_in for weighted layers).
    open func reset(_ rng: inout RandomGenerator) {}

    /// The module's architecture for model files.
    open var spec: ModuleSpec { ModuleSpec(type: typeName) }

    /// One line, as Torch prints the module (e.g. `nn.Linear(2400 -> 120)`).
    open var description: String { typeName }

    /// What `tostring` prints: the one line, or a container's multi-line listing.
    open var listing: String { description }
}

extension Module: CustomStringConvertible {}

/// Validates that `input` has one of the allowed ranks, with a message naming the module.
@inline(__always)
func checkRank(_ input: Tensor, _ ranks: Set<Int>, _ who: String) throws {
    guard ranks.contains(input.dim) else {
        throw EngineError("\(who): expected a \(ranks.sorted().map(String.init).joined(separator: " or "))D input, got \(input.dim)D (\(shapeString(input.shape)))")
    }
}
