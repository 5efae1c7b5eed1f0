/// The sum of a table of tensors of one size (Torch's nn.CAddTable): y = Σᵢ xᵢ;
/// ∂L/∂xᵢ = ∂L/∂y for every i (each entry of the input gradient *is* gradOutput, no copy).
/// Torch's `ip` (in place: y written into x₁) is accepted and kept in the spec; the output is
/// always this module's own buffer here, so the module before keeps its output for its backward.
public final class CAddTable: TableModule {
    public let inplace: Bool

    public init(inplace: Bool = false) {
        self.inplace = inplace
        super.init()
    }

    override public var typeName: String { "nn.CAddTable" }

    override public func updateOutput(_ input: Activation) throws -> Activation {
        let x = try sameShapeTensors(input)
        output.resize(x[0].shape)
        output.copy(from: x[0])
        for t in x.dropFirst() { output.add(t) }
        return .tensor(output)
    }

    override public func updateGradInput(_ input: Activation, _ gradOutput: Activation) throws -> Activation {
        let x = try sameShapeTensors(input)
        let g = try gradientTensor(gradOutput, x[0].shape)
        tableGradInput = .table(x.map { _ in .tensor(g) })
        return tableGradInput
    }

    override public var spec: ModuleSpec {
        ModuleSpec(type: typeName, options: inplace ? ["inplace": 1] : nil)
    }
}
