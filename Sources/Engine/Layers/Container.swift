/// A module made of modules (Torch's nn.Container): `Sequential`, `ConcatTable`,
/// `ParallelTable`. Holds `modules` (a Swift array, 0-based; `module(at:)` takes Torch's
/// 1-based index), their parameters, modes and state. Model files name a child's tensors by
/// its 0-based position, nested as PyTorch's `nn.Sequential`s nest ("3.0.1.weight").
open class Container: Module {
    public internal(set) var modules: [Module]

    public init(_ modules: [Module] = []) {
        self.modules = modules
        super.init()
    }

    /// Appends `m` (Torch's `add`).
    @discardableResult
    public func add(_ m: Module) -> Self {
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

    override open var allParameters: [Parameter] { modules.flatMap(\.allParameters) }

    /// Training mode for the container and its modules; a pinned container
    /// (`isEvaluationPinned`) puts itself and everything inside it into evaluation mode instead.
    override open func training() {
        guard !isEvaluationPinned else { return evaluate() }
        super.training()
        for m in modules { m.training() }
    }

    override open func evaluate() {
        super.evaluate()
        for m in modules { m.evaluate() }
    }

    override open func clearState() {
        super.clearState()
        for m in modules { m.clearState() }
    }

    override open func reset(_ rng: inout RandomGenerator) { for m in modules { m.reset(&rng) } }

    override open var spec: ModuleSpec { ModuleSpec(type: typeName, modules: modules.map(\.spec)) }

    override open var description: String { typeName }

    /// Runs `body` on child `i` (0-based), its errors prefixed with "module i+1 (...)".
    func child<T>(_ i: Int, _ what: String = "", _ body: (Module) throws -> T) throws -> T {
        let m = modules[i]
        do { return try body(m) } catch let e as EngineError {
            throw EngineError("\(typeName) module \(i + 1) (\(m.description))\(what): \(e.message)")
        }
    }

    /// Torch's listing of a table container (nn.ConcatTable, nn.ParallelTable):
    /// ```
    /// nn.ConcatTable {
    ///   input
    ///     |`-> (1): nn.Identity
    ///      `-> (2): nn.Linear(4 -> 4)
    ///      ... -> output
    /// }
    /// ```
    var branchListing: String {
        var s = "\(typeName) {\n  input"
        for (i, m) in modules.enumerated() {
            let last = i == modules.count - 1
            let inner = m.listing.replacingOccurrences(of: "\n", with: last ? "\n         " : "\n    |    ")
            s += "\n  " + (last ? "   `-> " : "  |`-> ") + "(\(i + 1)): " + inner
        }
        return s + "\n     ... -> output\n}"
    }
}

/// The modules that own parameters directly (containers flattened), in order.
public func leafModules(_ m: Module) -> [Module] {
    if let s = m as? Container { return s.modules.flatMap(leafModules) }
    return [m]
}

/// `m` and every module inside it, containers included, depth first (each once).
public func allModules(_ m: Module) -> [Module] {
    if let s = m as? Container { return [m] + s.modules.flatMap(allModules) }
    return [m]
}
