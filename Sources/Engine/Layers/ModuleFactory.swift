/// Builds modules from their `ModuleSpec` (the architecture stored in model files).
/// Every module type registers here under its Torch name.
public enum ModuleFactory {
    public static func make(_ spec: ModuleSpec) throws -> Module {
        let a = spec.args.map { Int($0) }
        func need(_ n: Int) throws {
            guard a.count >= n else { throw EngineError("\(spec.type) needs \(n) arguments, the model file gives \(a.count)") }
        }
        switch spec.type {
        case "nn.Sequential":
            return Sequential(try (spec.modules ?? []).map(make))
        case "nn.Linear":
            try need(2)
            return Linear(a[0], a[1], bias: (spec.options?["bias"] ?? 1) != 0)
        case "nn.Tanh":
            return Tanh()
        default:
            throw EngineError("unknown module type '\(spec.type)' in the model's architecture")
        }
    }
}
