/// Pruners by name: the built-in ones, plus criteria added at run time (e.g. a Lua function
/// registered by a script). Each Lua state or command-line run owns its own registry.
public final class PrunerRegistry {
    private var pruners: [String: Pruner] = [:]
    private var order: [String] = []

    /// The built-in criteria, in the order they are listed to users.
    public static let builtInNames = ["mag", "taylor1", "taylor2", "taylor12", "l1", "l2", "emp", "emp-naive", "random"]

    public static func builtIn(_ name: String) -> Pruner? {
        switch name {
        case "mag": return MagnitudePruner()
        case "taylor1": return Taylor1Pruner()
        case "taylor2": return Taylor2Pruner()
        case "taylor12": return Taylor12Pruner()
        case "l1": return LearnedScalePruner(.l1)
        case "l2": return LearnedScalePruner(.l2)
        case "emp": return EmpiricalPruner()
        case "emp-naive": return EmpiricalNaivePruner()
        case "random": return RandomPruner()
        default: return nil
        }
    }

    /// A registry holding the built-in pruners (or none).
    public init(builtIns: Bool = true) {
        if builtIns {
            for n in PrunerRegistry.builtInNames { try! register(PrunerRegistry.builtIn(n)!) }
        }
    }

    /// Names in registration order.
    public var names: [String] { order }

    /// Adds a pruner under its name. Names are non-empty, without spaces or commas; an
    /// existing name is replaced only with `replacing`.
    public func register(_ pruner: Pruner, replacing: Bool = false) throws {
        let name = pruner.name
        guard Self.isValidName(name) else {
            throw EngineError("a pruner name must be non-empty, without spaces or commas: '\(name)'")
        }
        if pruners[name] != nil {
            guard replacing else { throw EngineError("a pruner named '\(name)' is already registered") }
        } else {
            order.append(name)
        }
        pruners[name] = pruner
    }

    /// A criterion's name (weight or unit): non-empty, without spaces, tabs, newlines or commas.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains(where: { $0 == " " || $0 == "," || $0 == "\t" || $0 == "\n" })
    }

    /// Registers a criterion given as a closure (see `ClosurePruner`).
    public func register(name: String, globalNormalization: ScoreNormalization = .mean, replacing: Bool = false,
                         _ body: @escaping (PruningContext) throws -> Tensor) throws {
        try register(ClosurePruner(name: name, globalNormalization: globalNormalization, body), replacing: replacing)
    }

    public func pruner(named name: String) throws -> Pruner {
        guard let p = pruners[name] else {
            throw EngineError("unknown pruner '\(name)'; the known ones are \(order.joined(separator: ", "))")
        }
        return p
    }

    public func contains(_ name: String) -> Bool { pruners[name] != nil }
}
