/// Mean squared error (Torch's nn.MSECriterion) between an input and a target of the same
/// number of elements N:
///
///   loss = Σ_i (x_i - t_i)² / N  (sum without `sizeAverage`);
///   ∂loss/∂x_i = 2 (x_i - t_i) / N  (2 (x_i - t_i) without `sizeAverage`).
public final class MSECriterion: Criterion {
    public init(sizeAverage: Bool = true) {
        super.init()
        self.sizeAverage = sizeAverage
    }

    override public var typeName: String { "nn.MSECriterion" }

    private func checkShapes(_ input: Tensor, _ target: Tensor) throws {
        guard input.count == target.count else {
            throw EngineError("\(typeName): input has \(input.count) elements (\(shapeString(input.shape))), target \(target.count) (\(shapeString(target.shape)))")
        }
    }

    override public func updateOutput(_ input: Tensor, _ target: Tensor) throws -> Float {
        try checkShapes(input, target)
        let x = input.data, t = target.data
        var sum = 0.0
        for i in 0..<input.count {
            let d = Double(x[i]) - Double(t[i])
            sum += d * d
        }
        output = Float(sizeAverage && input.count > 0 ? sum / Double(input.count) : sum)
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ target: Tensor) throws -> Tensor {
        try checkShapes(input, target)
        gradInput.resize(input.shape)
        let norm: Float = sizeAverage && input.count > 0 ? 2 / Float(input.count) : 2
        let x = input.data, t = target.data, g = gradInput.data
        for i in 0..<input.count { g[i] = norm * (x[i] - t[i]) }
        return gradInput
    }
}
