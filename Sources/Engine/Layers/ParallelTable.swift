/// Applies its i-th module to the i-th entry of its input table (Torch's nn.ParallelTable):
/// y = {f₁(x₁), …, fₙ(xₙ)}, ∂L/∂xᵢ = ∂L/∂yᵢ · ∂fᵢ/∂xᵢ. The input table must have exactly
/// one entry per module.
public final class ParallelTable: Container {
    private var tableOutput: Activation = .table([])
    private var tableGradInput: Activation = .table([])

    override public var typeName: String { "nn.ParallelTable" }
    override public var usesTables: Bool { true }
    override public var activationOutput: Activation { tableOutput }
    override public var activationGradInput: Activation { tableGradInput }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        throw EngineError("\(typeName) takes a table of \(modules.count) entries, got a tensor of size \(shapeString(input.shape))")
    }

    /// The input's entries, one per module.
    private func inputs(_ input: Activation) throws -> [Activation] {
        let x = try input.entries(for: typeName)
        guard x.count == modules.count else {
            throw EngineError("\(typeName): the input table has \(x.count) entries, the container has \(modules.count) modules")
        }
        return x
    }

    private func gradients(_ gradOutput: Activation) throws -> [Activation] {
        let g = try gradOutput.entries(for: "\(typeName) gradOutput")
        guard g.count == modules.count else {
            throw EngineError("\(typeName): gradOutput has \(g.count) entries, the container has \(modules.count) modules")
        }
        return g
    }

    override public func updateOutput(_ input: Activation) throws -> Activation {
        guard !modules.isEmpty else { throw EngineError("\(typeName) has no modules") }
        let x = try inputs(input)
        tableOutput = .table(try modules.indices.map { i in try child(i) { try $0.forward(x[i]) } })
        return tableOutput
    }

    override public func updateGradInput(_ input: Activation, _ gradOutput: Activation) throws -> Activation {
        let x = try inputs(input), g = try gradients(gradOutput)
        tableGradInput = .table(try modules.indices.map { i in try child(i, " backward") { try $0.updateGradInput(x[i], g[i]) } })
        return tableGradInput
    }

    override public func accGradParameters(_ input: Activation, _ gradOutput: Activation, scale: Float) throws {
        let x = try inputs(input), g = try gradients(gradOutput)
        for i in modules.indices { try child(i, " backward") { try $0.accGradParameters(x[i], g[i], scale: scale) } }
    }

    override public func backward(_ input: Activation, _ gradOutput: Activation, scale: Float = 1) throws -> Activation {
        let x = try inputs(input), g = try gradients(gradOutput)
        tableGradInput = .table(try modules.indices.map { i in try child(i, " backward") { try $0.backward(x[i], g[i], scale: scale) } })
        return tableGradInput
    }

    override public func backwardParametersOnly(_ input: Activation, _ gradOutput: Activation, scale: Float = 1) throws {
        let x = try inputs(input), g = try gradients(gradOutput)
        for i in modules.indices { try child(i, " backward") { try $0.backwardParametersOnly(x[i], g[i], scale: scale) } }
    }

    override public func clearState() {
        super.clearState()
        tableOutput = .table([])
        tableGradInput = .table([])
    }

    override public var listing: String { branchListing }
}
