/// Passes its input through unchanged (Torch's nn.Identity): y = x; ∂L/∂x = ∂L/∂y.
/// The output *is* the input tensor and the input gradient *is* the output gradient (no copy),
/// as in Torch.
public final class Identity: Module {
    override public init() { super.init() }

    override public var typeName: String { "nn.Identity" }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        output = input
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        guard gradOutput.count == input.count else {
            throw EngineError("nn.Identity: gradOutput has \(gradOutput.count) elements (\(shapeString(gradOutput.shape))), input \(input.count) (\(shapeString(input.shape)))")
        }
        gradInput = gradOutput
        return gradInput
    }
}
