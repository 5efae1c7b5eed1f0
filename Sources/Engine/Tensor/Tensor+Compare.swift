/// Elementwise comparisons giving 0/1 masks (Torch's `gt`, `lt`, `ge`, `le`, `eq`, `ne`).
/// Torch returns a ByteTensor; here masks are float tensors of 0 and 1, ready to use as
/// pruning masks or in arithmetic. NaN compares false (except for `notEqual`).
public enum TensorComparison: String, CaseIterable {
    case greater = "gt", less = "lt", greaterOrEqual = "ge", lessOrEqual = "le", equal = "eq", notEqual = "ne"

    @inline(__always) func holds(_ a: Float, _ b: Float) -> Bool {
        switch self {
        case .greater: return a > b
        case .less: return a < b
        case .greaterOrEqual: return a >= b
        case .lessOrEqual: return a <= b
        case .equal: return a == b
        case .notEqual: return a != b
        }
    }
}

extension Tensor {
    /// mask[i] = 1 if self[i] ∘ value else 0, in a new tensor of the same shape.
    public func compare(_ op: TensorComparison, _ value: Float) -> Tensor {
        let out = Tensor(shape: shape)
        let p = data, q = out.data
        for i in 0..<count { q[i] = op.holds(p[i], value) ? 1 : 0 }
        return out
    }

    /// mask[i] = 1 if self[i] ∘ other[i] else 0. `other` must have as many elements.
    public func compare(_ op: TensorComparison, _ other: Tensor) throws -> Tensor {
        guard other.count == count else {
            throw EngineError("\(op.rawValue): tensors of size \(shapeString(shape)) and \(shapeString(other.shape)) have different numbers of elements")
        }
        let out = Tensor(shape: shape)
        let p = data, r = other.data, q = out.data
        for i in 0..<count { q[i] = op.holds(p[i], r[i]) ? 1 : 0 }
        return out
    }
}
