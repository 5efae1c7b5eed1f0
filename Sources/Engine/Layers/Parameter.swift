/// A learnable tensor, its gradient, and an optional 0/1 mask of the same shape.
///
/// Invariant: where `mask` is 0 the value is exactly 0 after every forward pass and every
/// optimiser step, and its gradient is 0 after every backward pass.
public final class Parameter {
    /// "weight" or "bias" (the PyTorch state_dict suffix).
    public let name: String
    public let value: Tensor
    public let grad: Tensor
    public private(set) var mask: Tensor?

    public init(name: String, shape: [Int]) {
        self.name = name
        value = Tensor(shape: shape)
        grad = Tensor(shape: shape)
    }

    /// Installs a 0/1 mask (copied) and zeroes the masked values at once.
    public func setMask(_ m: Tensor) throws {
        guard m.count == value.count else {
            throw EngineError("mask has \(m.count) elements (\(shapeString(m.shape))) but the \(name) has \(value.count) (\(shapeString(value.shape)))")
        }
        let p = m.data
        for i in 0..<m.count where p[i] != 0 && p[i] != 1 {
            throw EngineError("mask values must be 0 or 1, found \(p[i]) at index \(i + 1)")
        }
        let copy = Tensor(shape: value.shape)
        copy.copy(from: m)
        mask = copy
        applyMask()
    }

    /// Drops the mask; masked values stay 0 until training changes them.
    public func removeMask() { mask = nil }

    /// value ⊙= mask
    @inline(__always) public func applyMask() { if let m = mask { value.cmul(m) } }
    /// grad ⊙= mask
    @inline(__always) public func maskGradient() { if let m = mask { grad.cmul(m) } }

    /// Number of entries the mask removes (0 without a mask).
    public var prunedCount: Int { mask.map { $0.zeroCount() } ?? 0 }
}
