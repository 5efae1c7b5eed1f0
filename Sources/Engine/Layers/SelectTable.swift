/// Selects one entry of its input table (Torch's nn.SelectTable(index)): y = x_index, the
/// entry itself (a tensor or a table), index 1-based and negative from the end (-1 the last).
/// ∂L/∂x is zeros shaped as the input, with ∂L/∂y at `index`.
public final class SelectTable: TableModule {
    public let index: Int
    private var tableOutput: Activation = .table([])

    public init(_ index: Int) throws {
        guard index != 0 else { throw EngineError("nn.SelectTable: index must be a nonzero integer (1-based, or negative from the end), got 0") }
        self.index = index
        super.init()
    }

    override public var typeName: String { "nn.SelectTable" }
    override public var activationOutput: Activation { tableOutput }

    /// The 0-based position in a table of `count` entries.
    private func position(_ count: Int) throws -> Int {
        let i = index < 0 ? count + index : index - 1
        guard i >= 0 && i < count else {
            throw EngineError("\(description): index \(index) does not exist in a table of \(count) entries")
        }
        return i
    }

    override public func updateOutput(_ input: Activation) throws -> Activation {
        let x = try input.entries(for: description)
        tableOutput = x[try position(x.count)]
        if case .tensor(let t) = tableOutput { output = t }
        return tableOutput
    }

    override public func updateGradInput(_ input: Activation, _ gradOutput: Activation) throws -> Activation {
        let x = try input.entries(for: description)
        let i = try position(x.count)
        guard gradOutput.hasSameShape(as: x[i]) else {
            throw EngineError("\(description): gradOutput has size \(gradOutput.shapeDescription), the selected entry \(x[i].shapeDescription)")
        }
        var grads = x.map { $0.zerosLike() }
        grads[i] = gradOutput
        tableGradInput = .table(grads)
        return tableGradInput
    }

    override public func clearState() {
        super.clearState()
        tableOutput = .table([])
    }

    override public var spec: ModuleSpec { ModuleSpec(type: typeName, args: [Double(index)]) }

    override public var description: String { "\(typeName)(\(index))" }
}
