/// Multiplies by a constant (Torch's nn.MulConstant(c [, ip])): y = c·x; ∂L/∂x = c·∂L/∂y.
/// `MulConstant(0)` gives the zeros of option A's shortcut in the CIFAR ResNets. Torch's `ip`
/// is accepted and kept in the spec; the output is always this module's own buffer.
public final class MulConstant: Module {
    public let constant: Float
    public let inplace: Bool

    public init(_ constant: Float, inplace: Bool = false) {
        self.constant = constant
        self.inplace = inplace
        super.init()
    }

    override public var typeName: String { "nn.MulConstant" }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        output.resize(input.shape)
        let x = input.data, y = output.data, c = constant
        for i in 0..<input.count { y[i] = c * x[i] }
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        guard gradOutput.count == input.count else {
            throw EngineError("\(description): gradOutput has size \(shapeString(gradOutput.shape)), the input \(shapeString(input.shape))")
        }
        gradInput.resize(input.shape)
        let g = gradOutput.data, gi = gradInput.data, c = constant
        for i in 0..<input.count { gi[i] = c * g[i] }
        return gradInput
    }

    override public var spec: ModuleSpec {
        ModuleSpec(type: typeName, args: [Double(constant)], options: inplace ? ["inplace": 1] : nil)
    }
}
