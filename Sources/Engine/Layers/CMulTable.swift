/// The elementwise product of a table of tensors of one size (Torch's nn.CMulTable):
/// y = ∏ᵢ xᵢ; ∂L/∂xᵢ = ∂L/∂y ⊙ ∏_{j≠i} xⱼ (the product over the others, so a zero entry
/// gives no division by zero).
public final class CMulTable: TableModule {
    override public init() { super.init() }

    override public var typeName: String { "nn.CMulTable" }

    override public func updateOutput(_ input: Activation) throws -> Activation {
        let x = try sameShapeTensors(input)
        output.resize(x[0].shape)
        output.copy(from: x[0])
        for t in x.dropFirst() { output.cmul(t) }
        return .tensor(output)
    }

    override public func updateGradInput(_ input: Activation, _ gradOutput: Activation) throws -> Activation {
        let x = try sameShapeTensors(input)
        let g = try gradientTensor(gradOutput, x[0].shape)
        let grads = gradientBuffers(x.map(\.shape))
        for (i, gi) in grads.enumerated() {
            gi.copy(from: g)
            for (j, t) in x.enumerated() where j != i { gi.cmul(t) }
        }
        return tableGradInput
    }
}
