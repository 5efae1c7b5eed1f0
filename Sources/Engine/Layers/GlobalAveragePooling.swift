/// The mean of each plane (Torch has no such module; this is PyTorch's
/// `AdaptiveAvgPool2d(1)`, what ResNets and DenseNets end with, for any input size):
/// y[b, c, 0, 0] = (1/(H·W)) Σ_{i,j} x[b, c, i, j], a 3D input giving C×1×1.
/// ∂L/∂x[b, c, i, j] = ∂L/∂y[b, c, 0, 0] / (H·W).
public final class GlobalAveragePooling: Module {
    /// H·W of the last input (what the forward cost counts).
    public private(set) var lastPlaneSize = 0

    override public init() { super.init() }

    override public var typeName: String { "nn.GlobalAveragePooling" }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        try checkRank(input, [3, 4], description)
        let plane = input.shape[input.dim - 2] * input.shape[input.dim - 1]
        lastPlaneSize = plane
        var s = input.shape
        s[s.count - 2] = 1; s[s.count - 1] = 1
        output.resize(s)
        let x = input.data, y = output.data, scale = 1 / Float(plane)
        for p in 0..<output.count {
            var sum: Float = 0
            for k in 0..<plane { sum += x[p * plane + k] }
            y[p] = sum * scale
        }
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        try checkRank(input, [3, 4], description)
        let plane = input.shape[input.dim - 2] * input.shape[input.dim - 1]
        guard gradOutput.count * plane == input.count else {
            throw EngineError("\(description): gradOutput has size \(shapeString(gradOutput.shape)), expected one value per plane of the input \(shapeString(input.shape))")
        }
        gradInput.resize(input.shape)
        let g = gradOutput.data, gi = gradInput.data, scale = 1 / Float(plane)
        for p in 0..<gradOutput.count {
            let v = g[p] * scale
            for k in 0..<plane { gi[p * plane + k] = v }
        }
        return gradInput
    }
}
