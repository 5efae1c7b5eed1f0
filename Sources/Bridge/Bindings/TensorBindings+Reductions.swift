import CLua
import Engine
import Foundation

/// Reductions: `t:sum([dim])`, `t:mean([dim])`, `t:max([dim])`, `t:min([dim])`, `t:norm([p])`,
/// `t:dot(x)`.
extension TensorBindings {
    /// Whole-tensor numbers, or tensors along one dimension.
    static let reductionMethods: [String: LuaFunction] = [
        "dot": { call in
            let t = try call.tensor(1)
            call.push(t.dot(try call.tensor(2, sameCountAs: t)))
            return 1
        },
        "norm": { call in
            let t = try call.tensor(1)
            call.push(try t.norm(try call.optionalNumber(2) ?? 2))
            return 1
        },
        "sum": reduction({ call, t in call.push(t.sum()) }, { try $0.sum(along: $1) }),
        "mean": reduction({ call, t in call.push(t.mean()) }, { try $0.mean(along: $1) }),
        "max": extreme({ $0.maxValue() }, { try $0.maxValues(along: $1) }),
        "min": extreme({ $0.minValue() }, { try $0.minValues(along: $1) }),
    ]

    /// sum(), mean(): a number; sum(dim), mean(dim): a tensor with that dimension of size 1.
    static func reduction(_ whole: @escaping (LuaCall, Tensor) -> Void, _ along: @escaping (Tensor, Int) throws -> Tensor) -> LuaFunction {
        { call in
            let t = try call.tensor(1)
            if call.isNoneOrNil(2) { whole(call, t) } else { call.push(try along(t, try call.dimension(2, of: t))) }
            return 1
        }
    }

    /// max(), min(): a number; max(dim), min(dim): values and 1-based indices.
    static func extreme(_ whole: @escaping (Tensor) -> Float, _ along: @escaping (Tensor, Int) throws -> (values: Tensor, indices: Tensor)) -> LuaFunction {
        { call in
            let t = try call.tensor(1)
            if call.isNoneOrNil(2) {
                guard t.count > 0 else { throw call.error("the tensor is empty") }
                call.push(whole(t))
                return 1
            }
            let (v, ix) = try along(t, try call.dimension(2, of: t))
            call.push(v)
            pushOneBased(call, ix)
            return 2
        }
    }
}
