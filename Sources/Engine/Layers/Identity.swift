/// Passes its input through unchanged (Torch's nn.Identity): y = x; ∂L/∂x = ∂L/∂y.
/// The output *is* the input tensor and the input gradient *is* the output gradient (no copy),
/// as in Torch. A table passes through the same way (y = x, ∂L/∂x = ∂L/∂y, entries shared).
public final class Identity: Module {
    private var tableOutput: Activation?
    private var tableGradInput: Activation?

    override public init() { super.init() }

    override public var activationOutput: Activation { tableOutput ?? .tensor(output) }
    override public var activationGradInput: Activation { tableGradInput ?? .tensor(gradInput) }

    override public func updateOutput(_ input: Activation) throws -> Activation {
        tableOutput = input
        if case .tensor(let t) = input { output = t; tableOutput = nil }
        return input
    }

    override public func updateGradInput(_ input: Activation, _ gradOutput: Activation) throws -> Activation {
        if case .tensor(let x) = input, case .tensor(let g) = gradOutput { return .tensor(try updateGradInput(x, g)) }
        guard gradOutput.hasSameShape(as: input) else {
            throw EngineError("nn.Identity: gradOutput has size \(gradOutput.shapeDescription), the input \(input.shapeDescription)")
        }
        tableGradInput = gradOutput
        return gradOutput
    }

    override public func accGradParameters(_ input: Activation, _ gradOutput: Activation, scale: Float) throws {}

    override public func clearState() {
        super.clearState()
        tableOutput = nil
        tableGradInput = nil
    }

    override public var typeName: String { "nn.Identity" }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        tableOutput = nil
        output = input
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        guard gradOutput.count == input.count else {
            throw EngineError("nn.Identity: gradOutput has \(gradOutput.count) elements (\(shapeString(gradOutput.shape))), input \(input.count) (\(shapeString(input.shape)))")
        }
        tableGradInput = nil
        gradInput = gradOutput
        return gradInput
    }
}
