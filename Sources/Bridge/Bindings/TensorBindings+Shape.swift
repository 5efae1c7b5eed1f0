import CLua
import Engine
import Foundation

/// Shapes: `t:view(sizes)`, `t:reshape(sizes)`, `t:resize(sizes)`, `t:select(1, i)`,
/// `t:narrow(1, first, length)`.
extension TensorBindings {
    /// Views share memory with the tensor; `reshape` copies.
    static let shapeMethods: [String: LuaFunction] = [
        "view": { call in
            let t = try call.tensor(1)
            let s: [Int]
            if let other: Tensor = call.object(2, className) { s = other.shape } else { s = try call.sizes(from: 2, allowInferred: true) }
            call.push(try t.view(s))
            return 1
        },
        "viewAs": { call in
            call.push(try (try call.tensor(1)).view(try call.tensor(2).shape))
            return 1
        },
        "reshape": { call in
            let t = try call.tensor(1)
            call.push(try t.clone().view(try call.sizes(from: 2, allowInferred: true)))
            return 1
        },
        "resize": returningSelf { call, t in try resize(call, t, try call.sizes(from: 2)) },
        "resizeAs": returningSelf { call, t in try resize(call, t, try call.tensor(2).shape) },
        "select": { call in
            let t = try call.tensor(1)
            guard try call.dimension(2, of: t) == 0 else { throw call.argumentError(2, "only dimension 1 can be selected here") }
            call.push(try subTensor(call, t, try call.integer(3), argument: 3))
            return 1
        },
        "narrow": { call in
            let t = try call.tensor(1)
            guard try call.dimension(2, of: t) == 0 else { throw call.argumentError(2, "only dimension 1 can be narrowed here") }
            let first = try call.integer(3), length = try call.integer(4, atLeast: 0)
            guard first >= 1, first - 1 + length <= t.shape[0] else {
                throw call.error("rows \(first)..\(first + length - 1) out of range 1..\(t.shape[0])")
            }
            call.push(t.narrow((first - 1)..<(first - 1 + length)))
            return 1
        },
    ]

    /// Resizing is limited to what cannot break a module that shares the tensor (its weight,
    /// gradient or mask): a new shape with the same number of elements, or sizing an empty
    /// tensor (`torch.Tensor():resize(2, 3)`).
    static func resize(_ call: LuaCall, _ t: Tensor, _ shape: [Int]) throws {
        let n = shape.reduce(1, *)
        guard n == t.count || t.count == 0 else {
            throw call.error("cannot change the number of elements of a tensor (\(shapeString(t.shape)) to \(shapeString(shape))); make a new one with torch.Tensor(sizes)")
        }
        t.resize(shape)
    }
}
