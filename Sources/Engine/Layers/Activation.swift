/// What flows between modules: a tensor, or a Torch table of activations (nested to any
/// depth), as Torch's modules take and give either. Tensor modules see `.tensor` only; the
/// table modules (`ConcatTable`, `ParallelTable`, `CAddTable`, `CMulTable`, `JoinTable`,
/// `SelectTable`, `Identity`) read and build `.table`s. Positions in a table are 0-based here
/// and 1-based in Lua and in error messages.
public indirect enum Activation {
    case tensor(Tensor)
    case table([Activation])

    /// The tensor, or an error naming `who` when this is a table.
    public func tensor(for who: String) throws -> Tensor {
        switch self {
        case .tensor(let t): return t
        case .table(let entries): throw EngineError("\(who): expected a tensor, got a table of \(entries.count) entries")
        }
    }

    /// The entries of a table, or an error naming `who` when this is a tensor.
    public func entries(for who: String) throws -> [Activation] {
        switch self {
        case .table(let entries): return entries
        case .tensor(let t): throw EngineError("\(who): expected a table, got a tensor of size \(shapeString(t.shape))")
        }
    }

    /// The tensors of a table whose entries are all tensors (at least one), or an error naming `who`.
    public func tensors(for who: String) throws -> [Tensor] {
        let entries = try entries(for: who)
        guard !entries.isEmpty else { throw EngineError("\(who): expected a table of tensors, got an empty table") }
        return try entries.enumerated().map { i, e in
            guard case .tensor(let t) = e else { throw EngineError("\(who): entry \(i + 1) of the input is a table, expected a tensor") }
            return t
        }
    }

    /// Every tensor in depth-first order.
    public var flattened: [Tensor] {
        switch self {
        case .tensor(let t): return [t]
        case .table(let entries): return entries.flatMap(\.flattened)
        }
    }

    /// The shape as Torch users read it: `4x8` for a tensor, `{4x8, {4x8, 2}}` for tables.
    public var shapeDescription: String {
        switch self {
        case .tensor(let t): return shapeString(t.shape)
        case .table(let entries): return "{" + entries.map(\.shapeDescription).joined(separator: ", ") + "}"
        }
    }

    /// True when `other` has the same structure and the same tensor shapes.
    public func hasSameShape(as other: Activation) -> Bool {
        switch (self, other) {
        case let (.tensor(a), .tensor(b)): return a.shape == b.shape
        case let (.table(a), .table(b)): return a.count == b.count && zip(a, b).allSatisfy { $0.hasSameShape(as: $1) }
        default: return false
        }
    }

    /// A copy with fresh tensors (same structure, same values).
    public func clone() -> Activation {
        switch self {
        case .tensor(let t): return .tensor(t.clone())
        case .table(let entries): return .table(entries.map { $0.clone() })
        }
    }

    /// Zeros of the same structure and shapes.
    public func zerosLike() -> Activation {
        switch self {
        case .tensor(let t): return .tensor(Tensor(shape: t.shape))
        case .table(let entries): return .table(entries.map { $0.zerosLike() })
        }
    }

    /// self += other, tensor by tensor (same structure and shapes, else an error naming `who`).
    public func add(_ other: Activation, who: String) throws {
        guard hasSameShape(as: other) else {
            throw EngineError("\(who): cannot add gradients of sizes \(shapeDescription) and \(other.shapeDescription)")
        }
        for (a, b) in zip(flattened, other.flattened) { a.add(b) }
    }
}
