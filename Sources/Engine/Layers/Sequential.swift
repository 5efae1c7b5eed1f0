/// A chain of modules, indexed from 1 at user-facing surfaces like Torch's nn.Sequential.
/// Here `modules` is a Swift array (0-based); `module(at:)` takes Torch's 1-based index.
public final class Sequential: Module {
    public private(set) var modules: [Module]

    public init(_ modules: [Module] = []) {
        self.modules = modules
        super.init()
    }

    override public var typeName: String { "nn.Sequential" }

    @discardableResult
    public func add(_ m: Module) -> Sequential {
        modules.append(m)
        return self
    }

    /// Inserts at Torch index `index` (1-based; `count + 1` appends).
    public func insert(_ m: Module, at index: Int) throws {
        guard index >= 1 && index <= modules.count + 1 else {
            throw EngineError("insert: index \(index) out of range 1..\(modules.count + 1)")
        }
        modules.insert(m, at: index - 1)
    }

    /// Removes the module at Torch index `index` (1-based; default the last).
    @discardableResult
    public func remove(at index: Int? = nil) throws -> Module {
        let i = index ?? modules.count
        guard i >= 1 && i <= modules.count else {
            throw EngineError("remove: index \(i) out of range 1..\(modules.count)")
        }
        return modules.remove(at: i - 1)
    }

    /// The module at Torch index `index` (1-based).
    public func module(at index: Int) throws -> Module {
        guard index >= 1 && index <= modules.count else {
            throw EngineError("layer \(index) does not exist: the model has layers 1..\(modules.count)")
        }
        return modules[index - 1]
    }

    public var count: Int { modules.count }

    override public var allParameters: [Parameter] { modules.flatMap(\.allParameters) }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        var x = input
        for (i, m) in modules.enumerated() {
            do { x = try m.forward(x) } catch let e as EngineError {
                var message = "layer \(i + 1) (\(m.description)): \(e.message)"
                // A module defined outside the Engine declares no output size: say where the
                // input that did not fit came from.
                if i > 0, let origin = modules[i - 1].spec.definedIn {
                    message += " (its input, of size \(shapeString(x.shape)), is the output of layer \(i), \(modules[i - 1].description), a module defined in \(origin))"
                }
                throw EngineError(message)
            }
        }
        output = x
        return x
    }

    /// Index (0-based) of the lowest module whose parameters are trained; modules below it
    /// are frozen or parameter-free, so the backward pass stops there.
    public var lowestTrainedIndex: Int {
        modules.firstIndex { !$0.isFrozen && !$0.allParameters.isEmpty } ?? modules.count
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        try backwardChain(input, gradOutput, scale: 1, parameters: false, stopAt: 0)
    }

    override public func accGradParameters(_ input: Tensor, _ gradOutput: Tensor, scale: Float) throws {
        _ = try backwardChain(input, gradOutput, scale: scale, parameters: true, stopAt: 0, inputGradient: false)
    }

    override public func backward(_ input: Tensor, _ gradOutput: Tensor, scale: Float = 1) throws -> Tensor {
        try backwardChain(input, gradOutput, scale: scale, parameters: true, stopAt: 0)
    }

    /// The training step's backward: stops at the lowest trained module and does not compute
    /// that module's input gradient (nothing below needs it).
    override public func backwardParametersOnly(_ input: Tensor, _ gradOutput: Tensor, scale: Float = 1) throws {
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
        return g
    }

    /// Training mode for the container and its modules; a pinned container
    /// (`isEvaluationPinned`) puts itself and everything inside it into evaluation mode instead.
    override public func training() {
        guard !isEvaluationPinned else { return evaluate() }
        super.training()
        for m in modules { m.training() }
    }

    override public func evaluate() {
        super.evaluate()
        for m in modules { m.evaluate() }
    }

    override public func clearState() {
        super.clearState()
        for m in modules { m.clearState() }
    }

    override public func reset(_ rng: inout RandomGenerator) { for m in modules { m.reset(&rng) } }

    override public var spec: ModuleSpec { ModuleSpec(type: typeName, modules: modules.map(\.spec)) }

    override public var description: String { "nn.Sequential" }

    /// Torch's multi-line listing:
    /// ```
    /// nn.Sequential {
    ///   [input -> (1) -> (2) -> output]
    ///   (1): nn.SpatialConvolution(1 -> 6, 5x5, 1,1, 2,2)
    ///   ...
    /// }
    /// ```
    public var listing: String {
        let chain = (["input"] + modules.indices.map { "(\($0 + 1))" } + ["output"]).joined(separator: " -> ")
        var s = "nn.Sequential {\n  [\(chain)]\n"
        for (i, m) in modules.enumerated() {
            let inner: String
            if let seq = m as? Sequential {
                inner = seq.listing.replacingOccurrences(of: "\n", with: "\n  ")
            } else {
                inner = m.description
            }
            s += "  (\(i + 1)): \(inner)\n"
        }
        return s + "}"
    }
}

/// The modules that own parameters directly (containers flattened), in order.
public func leafModules(_ m: Module) -> [Module] {
    if let s = m as? Sequential { return s.modules.flatMap(leafModules) }
    return [m]
}

/// `m` and every module inside it, containers included, depth first (each once).
public func allModules(_ m: Module) -> [Module] {
    if let s = m as? Sequential { return [m] + s.modules.flatMap(allModules) }
    return [m]
}
