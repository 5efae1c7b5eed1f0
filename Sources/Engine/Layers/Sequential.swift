/// A chain of modules, indexed from 1 at user-facing surfaces like Torch's nn.Sequential.
/// Here `modules` is a Swift array (0-based); `module(at:)` takes Torch's 1-based index.
public final class Sequential: Container {
    override public init(_ modules: [Module] = []) { super.init(modules) }

    override public var typeName: String { "nn.Sequential" }

    /// The last output when it came through the table path (nil after the tensor path).
    private var tableOutput: Activation?
    private var tableGradInput: Activation?

    /// True when a module inside takes or gives tables: then the chain runs on activations.
    override public var usesTables: Bool { modules.contains { $0.usesTables } }
    override public var activationOutput: Activation { tableOutput ?? .tensor(output) }
    override public var activationGradInput: Activation { tableGradInput ?? .tensor(gradInput) }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        if usesTables { return try tensorResult(try updateOutput(.tensor(input)), "output") }
        tableOutput = nil
        var x = input
        var i = 0
        while i < modules.count {
            let m = modules[i]
            do {
                // In evaluation a convolution, the activation after it and a max pooling after
                // that run as one pass (SpatialConvolution+Activation.swift: the same outputs,
                // bit for bit).
                if let conv = m as? SpatialConvolution, i + 1 < modules.count, let f = modules[i + 1] as? ElementwiseModule,
                   conv.fuses(f) {
                    let pooling = i + 2 < modules.count ? modules[i + 2] as? SpatialMaxPooling : nil
                    let (y, pooled) = try conv.forward(x, then: f, pooling: pooling)
                    x = y
                    i += pooled ? 3 : 2
                    continue
                }
                x = try m.forward(x)
            } catch let e as EngineError {
                var message = "layer \(i + 1) (\(m.description)): \(e.message)"
                // A module defined outside the Engine declares no output size: say where the
                // input that did not fit came from.
                if i > 0, let origin = modules[i - 1].spec.definedIn {
                    message += " (its input, of size \(shapeString(x.shape)), is the output of layer \(i), \(modules[i - 1].description), a module defined in \(origin))"
                }
                throw EngineError(message)
            }
            i += 1
        }
        output = x
        return x
    }

    /// Index (0-based) of the lowest module whose parameters are trained; modules below it
    /// are frozen or parameter-free, so the backward pass stops there. A container counts as
    /// trained when a leaf inside it is (the leaves are what accumulate gradients).
    public var lowestTrainedIndex: Int {
        modules.firstIndex { m in
            m is Container ? leafModules(m).contains { !$0.isFrozen && !$0.parameters.isEmpty }
                           : !m.isFrozen && !m.allParameters.isEmpty
        } ?? modules.count
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        if usesTables { return try tensorResult(try updateGradInput(.tensor(input), .tensor(gradOutput)), "input gradient") }
        return try backwardChain(input, gradOutput, scale: 1, parameters: false, stopAt: 0)
    }

    override public func accGradParameters(_ input: Tensor, _ gradOutput: Tensor, scale: Float) throws {
        if usesTables { return try accGradParameters(.tensor(input), .tensor(gradOutput), scale: scale) }
        _ = try backwardChain(input, gradOutput, scale: scale, parameters: true, stopAt: 0, inputGradient: false)
    }

    override public func backward(_ input: Tensor, _ gradOutput: Tensor, scale: Float = 1) throws -> Tensor {
        if usesTables { return try tensorResult(try backward(.tensor(input), .tensor(gradOutput), scale: scale), "input gradient") }
        return try backwardChain(input, gradOutput, scale: scale, parameters: true, stopAt: 0)
    }

    /// The training step's backward: stops at the lowest trained module and does not compute
    /// that module's input gradient (nothing below needs it).
    override public func backwardParametersOnly(_ input: Tensor, _ gradOutput: Tensor, scale: Float = 1) throws {
        if usesTables { return try backwardParametersOnly(.tensor(input), .tensor(gradOutput), scale: scale) }
        let stop = lowestTrainedIndex
        guard stop < modules.count else { return }
        _ = try backwardChain(input, gradOutput, scale: scale, parameters: true, stopAt: stop, inputGradient: false)
    }

    /// Runs the modules' backward from the last down to `stopAt` (0-based). With
    /// `inputGradient == false`, module `stopAt` only accumulates its parameter gradients.
    private func backwardChain(
        _ input: Tensor, _ gradOutput: Tensor, scale: Float, parameters: Bool, stopAt: Int,
        inputGradient: Bool = true
    ) throws -> Tensor {
        var g = gradOutput
        var i = modules.count - 1
        while i >= stopAt {
            let m = modules[i]
            let x = i == 0 ? input : modules[i - 1].output
            do {
                if i == stopAt && !inputGradient {
                    if parameters { try m.backwardParametersOnly(x, g, scale: scale) }
                    return g
                }
                if parameters {
                    g = try m.backward(x, g, scale: scale)
                } else {
                    g = try m.updateGradInput(x, g)
                }
            } catch let e as EngineError {
                throw EngineError("layer \(i + 1) (\(m.description)) backward: \(e.message)")
            }
            i -= 1
        }
        gradInput = g
        tableGradInput = nil
        return g
    }

    // MARK: the table path: the same chain on activations (a module inside takes or gives tables)

    /// The tensor of a table-path result, or an error saying the chain ends in a table.
    private func tensorResult(_ a: Activation, _ what: String) throws -> Tensor {
        guard case .tensor(let t) = a else {
            throw EngineError("nn.Sequential: its \(what) is a table (\(a.shapeDescription)), not a tensor; call forward with tables (Lua: m:forward(x) returns the table)")
        }
        return t
    }

    override public func updateOutput(_ input: Activation) throws -> Activation {
        if !usesTables, case .tensor(let x) = input { return .tensor(try updateOutput(x)) }
        var x = input
        for (i, m) in modules.enumerated() {
            do { x = try m.forward(x) } catch let e as EngineError {
                throw EngineError("layer \(i + 1) (\(m.description)): \(e.message)")
            }
        }
        tableOutput = x
        if case .tensor(let t) = x { output = t }
        return x
    }

    override public func updateGradInput(_ input: Activation, _ gradOutput: Activation) throws -> Activation {
        try tableChain(input, gradOutput, scale: 1, parameters: false, stopAt: 0)
    }

    override public func accGradParameters(_ input: Activation, _ gradOutput: Activation, scale: Float) throws {
        _ = try tableChain(input, gradOutput, scale: scale, parameters: true, stopAt: 0, inputGradient: false)
    }

    override public func backward(_ input: Activation, _ gradOutput: Activation, scale: Float = 1) throws -> Activation {
        if !usesTables, case .tensor(let x) = input, case .tensor(let g) = gradOutput {
            return .tensor(try backward(x, g, scale: scale))
        }
        return try tableChain(input, gradOutput, scale: scale, parameters: true, stopAt: 0)
    }

    override public func backwardParametersOnly(_ input: Activation, _ gradOutput: Activation, scale: Float = 1) throws {
        if !usesTables, case .tensor(let x) = input, case .tensor(let g) = gradOutput {
            return try backwardParametersOnly(x, g, scale: scale)
        }
        let stop = lowestTrainedIndex
        guard stop < modules.count else { return }
        _ = try tableChain(input, gradOutput, scale: scale, parameters: true, stopAt: stop, inputGradient: false)
    }

    /// `backwardChain` on activations: module i's input is module i-1's `activationOutput`.
    private func tableChain(
        _ input: Activation, _ gradOutput: Activation, scale: Float, parameters: Bool, stopAt: Int,
        inputGradient: Bool = true
    ) throws -> Activation {
        var g = gradOutput
        var i = modules.count - 1
        while i >= stopAt {
            let m = modules[i]
            let x = i == 0 ? input : modules[i - 1].activationOutput
            do {
                if i == stopAt && !inputGradient {
                    if parameters { try m.backwardParametersOnly(x, g, scale: scale) }
                    return g
                }
                g = parameters ? try m.backward(x, g, scale: scale) : try m.updateGradInput(x, g)
            } catch let e as EngineError {
                throw EngineError("layer \(i + 1) (\(m.description)) backward: \(e.message)")
            }
            i -= 1
        }
        tableGradInput = g
        if case .tensor(let t) = g { gradInput = t }
        return g
    }

    override public func clearState() {
        super.clearState()
        tableOutput = nil
        tableGradInput = nil
    }

    /// Torch's multi-line listing:
    /// ```
    /// nn.Sequential {
    ///   [input -> (1) -> (2) -> output]
    ///   (1): nn.SpatialConvolution(1 -> 6, 5x5, 1,1, 2,2)
    ///   ...
    /// }
    /// ```
    override public var listing: String {
        let chain = (["input"] + modules.indices.map { "(\($0 + 1))" } + ["output"]).joined(separator: " -> ")
        var s = "nn.Sequential {\n  [\(chain)]\n"
        for (i, m) in modules.enumerated() {
            let inner = m.listing.replacingOccurrences(of: "\n", with: "\n  ")
            s += "  (\(i + 1)): \(inner)\n"
        }
        return s + "}"
    }
}
