/// Module types defined outside the Engine (a class a Lua script defines with `torch.class`).
/// The Engine knows them only through this protocol: whoever defines them (the Bridge) fills
/// a `ModuleTypeRegistry` and passes it to `ModuleFactory` and `ModelFile.load`.
public protocol ExternalModuleType: AnyObject {
    /// Checks `spec` (its arguments and options) and gives the tensors a module built from it
    /// holds, as `ModelFile` names them without the layer prefix ("weight", "bias"), in
    /// state_dict order; `isParameter` tells a learnable tensor from a buffer.
    func tensors(of spec: ModuleSpec) throws -> [(name: String, shape: [Int], isParameter: Bool)]
    /// Builds the module `spec` describes.
    func build(_ spec: ModuleSpec) throws -> Module
}

/// The external module types one caller knows, by Torch type name ("nn.MyLayer").
public final class ModuleTypeRegistry {
    private var types: [String: ExternalModuleType] = [:]
    /// What to tell a user whose model file names an unregistered type, by the spec's
    /// `definedIn` ("Lua" → "run the script that defines it (torch.class) before loading").
    public var advice: [String: String] = [:]

    public init() {}

    /// Registers (or replaces) the type `name`.
    public func register(_ name: String, _ type: ExternalModuleType) { types[name] = type }

    public func type(named name: String) -> ExternalModuleType? { types[name] }

    public var names: [String] { types.keys.sorted() }

    /// The error for a spec whose type is defined outside the Engine but not registered here:
    /// "<who> uses nn.MyLayer, a module defined in Lua: <advice>".
    func missingType(_ spec: ModuleSpec, who: String) -> EngineError? {
        guard let origin = spec.definedIn, types[spec.type] == nil else { return nil }
        let what = advice[origin] ?? "define it before building or loading the model"
        return EngineError("\(who) uses \(String(spec.type.prefix(80))), a module defined in \(String(origin.prefix(40))): \(what)")
    }

    /// The first spec in `spec`'s tree (depth first) naming an unregistered external type.
    func firstMissingType(in spec: ModuleSpec, who: String) -> EngineError? {
        if let e = missingType(spec, who: who) { return e }
        for child in spec.modules ?? [] {
            if let e = firstMissingType(in: child, who: who) { return e }
        }
        return nil
    }
}

extension Module {
    /// Records the tensor an `updateOutput` computed outside the Engine produced (a Lua
    /// module's `self.output`), as the Engine's own modules do in their `output` buffer.
    public func setOutput(_ t: Tensor) { output = t }

    /// Records the tensor an `updateGradInput` computed outside the Engine produced.
    public func setGradInput(_ t: Tensor) { gradInput = t }
}
