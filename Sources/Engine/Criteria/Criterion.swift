/// Base class of loss functions, with Torch7 semantics: `forward(input, target)` returns the
/// loss (averaged over the batch by default), `backward(input, target)` its gradient.
///
/// Classification targets are tensors of **0-based** class indices stored as floats, one per
/// example (the Lua bridge converts from Torch's 1-based labels).
open class Criterion {
    public internal(set) var output: Float = 0
    public internal(set) var gradInput = Tensor()
    /// Average over the batch (Torch's `sizeAverage`, default true).
    public var sizeAverage = true

    public init() {}

    open var typeName: String { "nn.Criterion" }

    open func updateOutput(_ input: Tensor, _ target: Tensor) throws -> Float { fatalError("\(typeName) must override updateOutput") }
    open func updateGradInput(_ input: Tensor, _ target: Tensor) throws -> Tensor { fatalError("\(typeName) must override updateGradInput") }

    @discardableResult
    public func forward(_ input: Tensor, _ target: Tensor) throws -> Float { try updateOutput(input, target) }
    @discardableResult
    public func backward(_ input: Tensor, _ target: Tensor) throws -> Tensor { try updateGradInput(input, target) }
}

/// Checks a classification input [batch, classes] (or [classes]) against targets; returns
/// (batch, classes).
func classificationShape(_ input: Tensor, _ target: Tensor, _ who: String) throws -> (Int, Int) {
    guard input.dim == 1 || input.dim == 2 else {
        throw EngineError("\(who): expected input [classes] or [batch, classes], got \(shapeString(input.shape))")
    }
    let n = input.dim == 1 ? 1 : input.shape[0]
    let c = input.shape.last!
    guard target.count == n else {
        throw EngineError("\(who): \(target.count) targets for a batch of \(n)")
    }
    for i in 0..<n {
        let t = target[i]
        guard t >= 0, t < Float(c), t == t.rounded() else {
            let shown = t == t.rounded() && abs(t) < 1e9 ? String(Int(t) + 1) : String(t + 1)
            throw EngineError("\(who): target \(shown) at position \(i + 1) is not a class in 1..\(c)")
        }
    }
    return (n, c)
}
