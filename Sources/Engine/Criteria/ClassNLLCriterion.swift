/// Negative log-likelihood of log-probabilities (Torch's nn.ClassNLLCriterion), for input
/// [classes] or [batch, classes] and 0-based class targets t_b:
///
///   loss = -Σ_b w[t_b] x[b, t_b] / W,  W = Σ_b w[t_b] when `sizeAverage`, else W = 1;
///   ∂loss/∂x[b, k] = -w[t_b] / W if k = t_b, else 0,
///
/// with class weights w (all 1 without `weights`, so W is the batch size).
public final class ClassNLLCriterion: Criterion {
    /// Optional per-class weights (Torch's first constructor argument).
    public let weights: Tensor?

    public init(weights: Tensor? = nil, sizeAverage: Bool = true) {
        self.weights = weights?.clone()
        super.init()
        self.sizeAverage = sizeAverage
    }

    override public var typeName: String { "nn.ClassNLLCriterion" }

    /// (batch, classes, w[t_b] for each b, normaliser W).
    private func prepare(_ input: Tensor, _ target: Tensor) throws -> (Int, Int, [Float], Float) {
        let (n, c) = try classificationShape(input, target, typeName)
        if let w = weights, w.count != c {
            throw EngineError("\(typeName): \(w.count) class weights for \(c) classes")
        }
        let classWeights = (0..<n).map { weights?[Int(target[$0])] ?? 1 }
        let total = classWeights.reduce(0, +)
        return (n, c, classWeights, sizeAverage && total > 0 ? total : 1)
    }

    override public func updateOutput(_ input: Tensor, _ target: Tensor) throws -> Float {
        let (n, c, w, norm) = try prepare(input, target)
        var loss = 0.0
        for b in 0..<n { loss -= Double(w[b]) * Double(input[b * c + Int(target[b])]) }
        output = Float(loss / Double(norm))
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ target: Tensor) throws -> Tensor {
        let (n, c, w, norm) = try prepare(input, target)
        gradInput.resize(input.shape)
        gradInput.zero()
        for b in 0..<n { gradInput[b * c + Int(target[b])] = -w[b] / norm }
        return gradInput
    }
}
