import CLua
import Engine
import Foundation

/// Elementwise tensor methods: `t:abs()`, `t:add(alpha, x)`, `t:cmul(x)`, comparisons
/// (`t:gt(0.1)`).
extension TensorBindings {
    /// `t:name(x)` where x is a number or a tensor with as many elements: self ∘= x.
    static func elementwise(_ scalar: @escaping (Tensor, Float) -> Void, _ tensor: @escaping (Tensor, Tensor) -> Void) -> LuaFunction {
        returningSelf { call, t in
            if call.isNumber(2) { scalar(t, try call.float(2)) } else if call.isTensor(2) {
                tensor(t, try call.tensor(2, sameCountAs: t))
            } else { throw call.typeError(2, expected: "number or tensor") }
        }
    }

    /// In place, returning self (they chain as in Torch).
    static let pointwiseMethods: [String: LuaFunction] = [
        "abs": returningSelf { _, t in t.absInPlace() },
        "sqrt": returningSelf { _, t in t.sqrtInPlace() },
        "sign": returningSelf { _, t in t.signInPlace() },
        "exp": returningSelf { _, t in t.expInPlace() },
        "log": returningSelf { _, t in t.logInPlace() },
        "tanh": returningSelf { _, t in t.tanhInPlace() },
        "sigmoid": returningSelf { _, t in t.sigmoidInPlace() },
        "pow": returningSelf { call, t in t.powInPlace(try call.float(2)) },
        "clamp": returningSelf { call, t in
            let lo = try call.float(2), hi = try call.float(3)
            guard lo <= hi else { throw call.error("min \(lo) is larger than max \(hi)") }
            t.clampInPlace(lo, hi)
        },
        /// add(v) | add(x) | add(alpha, x) | add(x, y) | add(x, alpha, y)
        "add": returningSelf { call, t in
            guard call.isNumber(2) || call.isTensor(2) else { throw call.typeError(2, expected: "number or tensor") }
            switch (call.argumentCount, call.isNumber(2)) {
            case (2, true): t.addScalar(try call.float(2))
            case (2, false): t.add(try call.tensor(2, sameCountAs: t))
            case (3, true): t.add(try call.tensor(3, sameCountAs: t), alpha: try call.float(2))
            case (3, false):
                let x = try call.tensor(2, sameCountAs: t), y = try call.tensor(3, sameCountAs: t)
                let sum = x.clone()
                sum.add(y)
                t.copy(from: sum)
            case (4, false):
                let x = try call.tensor(2, sameCountAs: t), a = try call.float(3), y = try call.tensor(4, sameCountAs: t)
                let sum = x.clone()
                sum.add(y, alpha: a)
                t.copy(from: sum)
            default:
                throw call.error("expected add(value), add(tensor), add(value, tensor), add(tensor, tensor) or add(tensor, value, tensor)")
            }
        },
        "csub": elementwise({ $0.addScalar(-$1) }, { $0.add($1, alpha: -1) }),
        "mul": returningSelf { call, t in t.scale(by: try call.float(2)) },
        "div": returningSelf { call, t in t.scale(by: 1 / (try call.float(2))) },
        "cmul": elementwise({ $0.scale(by: $1) }, { $0.cmul($1) }),
        "cdiv": elementwise({ $0.scale(by: 1 / $1) }, { $0.cdiv($1) }),
    ]

    /// gt, lt, ge, le, eq, ne: a new 0/1 tensor.
    static var comparisons: [String: LuaFunction] {
        var f: [String: LuaFunction] = [:]
        for op in TensorComparison.allCases {
            f[op.rawValue] = { call in
                let t = try call.tensor(1)
                if call.isNumber(2) { call.push(t.compare(op, try call.float(2))) } else if call.isTensor(2) {
                    call.push(try t.compare(op, try call.tensor(2, sameCountAs: t)))
                } else { throw call.typeError(2, expected: "number or tensor") }
                return 1
            }
        }
        return f
    }
}
