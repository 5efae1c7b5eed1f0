/// Applies each of its modules to the same input and gives the table of their outputs
/// (Torch's nn.ConcatTable): y = {f₁(x), …, fₙ(x)}. Backward sums the branches' input
/// gradients: ∂L/∂x = Σᵢ ∂L/∂yᵢ · ∂fᵢ/∂x (the input may itself be a table; the sum is then
/// entry by entry).
public final class ConcatTable: Container {
    private var tableOutput: Activation = .table([])
    private var tableGradInput: Activation = .table([])

    override public var typeName: String { "nn.ConcatTable" }
    override public var usesTables: Bool { true }
    override public var activationOutput: Activation { tableOutput }
    override public var activationGradInput: Activation { tableGradInput }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        throw EngineError("\(typeName) outputs a table; put it in a container whose next module takes a table (nn.CAddTable, nn.JoinTable, ...)")
    }

    override public func updateOutput(_ input: Activation) throws -> Activation {
        guard !modules.isEmpty else { throw EngineError("\(typeName) has no modules") }
        tableOutput = .table(try modules.indices.map { i in try child(i) { try $0.forward(input) } })
        return tableOutput
    }

    /// The branches' gradients ∂L/∂yᵢ, one per module.
    private func branchGradients(_ gradOutput: Activation) throws -> [Activation] {
        let g = try gradOutput.entries(for: "\(typeName) gradOutput")
        guard g.count == modules.count else {
            throw EngineError("\(typeName): gradOutput has \(g.count) entries, the container has \(modules.count) modules")
        }
        return g
    }

    /// Σᵢ of the branches' input gradients, into a buffer of this module's own (the last
    /// call's when the sizes are the same).
    private func sum(_ grads: [Activation]) throws -> Activation {
        let total: Activation
        if tableGradInput.hasSameShape(as: grads[0]) {
            total = tableGradInput
            for (t, g) in zip(total.flattened, grads[0].flattened) { t.copy(from: g) }
        } else {
            total = grads[0].clone()
        }
        for g in grads.dropFirst() { try total.add(g, who: typeName) }
        tableGradInput = total
        return total
    }

    override public func updateGradInput(_ input: Activation, _ gradOutput: Activation) throws -> Activation {
        let g = try branchGradients(gradOutput)
        return try sum(try modules.indices.map { i in try child(i, " backward") { try $0.updateGradInput(input, g[i]) } })
    }

    override public func accGradParameters(_ input: Activation, _ gradOutput: Activation, scale: Float) throws {
        let g = try branchGradients(gradOutput)
        for i in modules.indices { try child(i, " backward") { try $0.accGradParameters(input, g[i], scale: scale) } }
    }

    override public func backward(_ input: Activation, _ gradOutput: Activation, scale: Float = 1) throws -> Activation {
        let g = try branchGradients(gradOutput)
        return try sum(try modules.indices.map { i in try child(i, " backward") { try $0.backward(input, g[i], scale: scale) } })
    }

    override public func backwardParametersOnly(_ input: Activation, _ gradOutput: Activation, scale: Float = 1) throws {
        let g = try branchGradients(gradOutput)
        for i in modules.indices { try child(i, " backward") { try $0.backwardParametersOnly(input, g[i], scale: scale) } }
    }

    override public func clearState() {
        super.clearState()
        tableOutput = .table([])
        tableGradInput = .table([])
    }

    override public var listing: String { branchListing }
}
