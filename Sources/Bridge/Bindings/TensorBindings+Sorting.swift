import CLua
import Engine
import Foundation

/// Sorting and selection: `t:sort([dim] [, descending])`, `t:kthvalue(k [, dim])`,
/// `t:topk(k [, dim] [, largest])`; indices are 1-based.
extension TensorBindings {
    /// Pushes two tensors of 0-based indices as 1-based.
    static func pushOneBased(_ call: LuaCall, _ indices: Tensor) {
        indices.addScalar(1)
        call.push(indices)
    }

    /// Values and 1-based indices.
    static let sortingMethods: [String: LuaFunction] = [
        /// sort([dim] [, descending]): values, indices
        "sort": { call in
            let t = try call.tensor(1)
            var dim = t.dim - 1, descending = false
            if call.isBoolean(2) { descending = try call.boolean(2, default: false) } else {
                if !call.isNoneOrNil(2) { dim = try call.dimension(2, of: t) }
                descending = try call.boolean(3, default: false)
            }
            let (v, ix) = try t.sorted(along: dim, descending: descending)
            call.push(v)
            pushOneBased(call, ix)
            return 2
        },
        /// kthvalue(k [, dim]): for a 1D tensor the value and its index as numbers, else tensors
        "kthvalue": { call in
            let t = try call.tensor(1)
            let k = try call.integer(2)
            let dim = call.isNoneOrNil(3) ? t.dim - 1 : try call.dimension(3, of: t)
            let (v, ix) = try t.kthValue(k, along: dim)
            if t.dim == 1 {
                call.push(v[0])
                call.push(Int(ix[0]) + 1)
            } else {
                call.push(v)
                pushOneBased(call, ix)
            }
            return 2
        },
        /// topk(k [, dim] [, largest] [, sorted]): the k smallest (largest) values and indices
        "topk": { call in
            let t = try call.tensor(1)
            let k = try call.integer(2)
            var dim = t.dim - 1, largest = false
            if call.isBoolean(3) { largest = try call.boolean(3, default: false) } else {
                if !call.isNoneOrNil(3) { dim = try call.dimension(3, of: t) }
                largest = try call.boolean(4, default: false)
            }
            let (v, ix) = try t.topK(k, along: dim, largest: largest)
            call.push(v)
            pushOneBased(call, ix)
            return 2
        },
    ]
}
