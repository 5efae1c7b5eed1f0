import CLua
import Engine
import Foundation

/// Lua operators on tensors: `-t`, `t + x`, `t - x`, `t * x`, `t / x`, `#t`, `tostring(t)`.
extension TensorBindings {
    static let metamethods: [String: LuaFunction] = [
        "__tostring": { call in call.push(TensorFormatter.format(try call.tensor(1))); return 1 },
        "__len": { call in
            let t = try call.tensor(1)
            call.push(t.dim == 0 ? 0 : t.shape[0])
            return 1
        },
        "__unm": { call in
            let r = try call.tensor(1).clone()
            r.scale(by: -1)
            call.push(r)
            return 1
        },
        "__add": arithmetic("+", scalar: { $0.addScalar($1) }, tensor: { $0.add($1) }, scalarFirst: { $0.addScalar($1) }),
        "__sub": arithmetic("-", scalar: { $0.addScalar(-$1) }, tensor: { $0.add($1, alpha: -1) },
                            scalarFirst: { $0.scale(by: -1); $0.addScalar($1) }),
        "__div": arithmetic("/", scalar: { $0.scale(by: 1 / $1) }, tensor: nil, scalarFirst: nil),
        "__mul": { call in
            if call.isNumber(1) || call.isNumber(2) {
                return try arithmetic("*", scalar: { $0.scale(by: $1) }, tensor: nil, scalarFirst: { $0.scale(by: $1) })(call)
            }
            return try product(call)
        },
    ]

    /// a ∘ b for tensor ∘ number, number ∘ tensor, and (when `tensor` is given) two tensors
    /// with as many elements; the result is a new tensor shaped like the tensor operand.
    static func arithmetic(_ op: String, scalar: @escaping (Tensor, Float) -> Void, tensor: ((Tensor, Tensor) -> Void)?,
                           scalarFirst: ((Tensor, Float) -> Void)?) -> LuaFunction {
        { call in
            if let a: Tensor = call.object(1, className) {
                let r = a.clone()
                if call.isNumber(2) { scalar(r, try call.float(2)) } else if let tensor, let b: Tensor = call.object(2, className) {
                    guard b.count == a.count else {
                        throw LuaArgumentError("tensor \(op) tensor: sizes \(shapeString(a.shape)) and \(shapeString(b.shape)) do not match")
                    }
                    tensor(r, b)
                } else {
                    throw LuaArgumentError("attempt to perform arithmetic (\(op)) on a tensor and a \(call.typeName(2))")
                }
                call.push(r)
                return 1
            }
            guard let scalarFirst, call.isNumber(1), let b: Tensor = call.object(2, className) else {
                throw LuaArgumentError("attempt to perform arithmetic (\(op)) on a \(call.typeName(1)) and a \(call.typeName(2))")
            }
            let r = b.clone()
            scalarFirst(r, try call.float(1))
            call.push(r)
            return 1
        }
    }
}
