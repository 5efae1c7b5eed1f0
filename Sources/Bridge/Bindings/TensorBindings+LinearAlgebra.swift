import CLua
import Engine

/// Products and transposes, with Torch7's argument forms:
///   `r:mm(A, B)`, `torch.mm([r,] A, B)`: r = A·B
///   `r:mv(M, v)`, `torch.mv([r,] M, v)`: r = M·v
///   `r:addmm([β,] [M,] [α,] A, B)`, `torch.addmm([r,] [β,] M, [α,] A, B)`: r = β·M + α·A·B
///   `r:addmv([β,] [v₀,] [α,] M, v)`, `torch.addmv(...)`: r = β·v₀ + α·M·v
///   `r:addr([β,] [M,] [α,] v₁, v₂)`, `torch.addr(...)`: r = β·M + α·v₁⊗v₂
///   `t:t()`, `t:transpose(d1, d2)`: new contiguous tensors
///   `t:repeatTensor(sizes)`: the tensor tiled
/// In the method forms M defaults to r itself and β, α to 1; one number alone is α
/// (`gradWeight:addr(scale, gradOutput, input)`, as torch/nn writes it). Each binding reads
/// its arguments and calls one Engine function (`Tensor+LinearAlgebra.swift`).
extension TensorBindings {
    /// The operands after the result of an add-product, `[β,] [M,] [α,] X, Y` from argument
    /// `first` on; M is nil when not given.
    struct AddProductArguments {
        var beta: Float = 1
        var addend: Tensor?
        var alpha: Float = 1
        var x: Tensor
        var y: Tensor
    }

    static func addProductArguments(_ call: LuaCall, from first: Int, usage: String) throws -> AddProductArguments {
        let n = call.argumentCount
        guard n - first + 1 >= 2, call.isTensor(n - 1), call.isTensor(n) else {
            throw call.error("expected \(usage)")
        }
        var a = AddProductArguments(x: try call.tensor(n - 1), y: try call.tensor(n))
        let prefix = Array(first..<(n - 1))
        let pattern = prefix.map { call.isNumber($0) ? "n" : call.isTensor($0) ? "T" : "?" }.joined()
        switch pattern {
        case "": break
        case "n": a.alpha = try call.float(prefix[0])
        case "T": a.addend = try call.tensor(prefix[0])
        case "nn": a.beta = try call.float(prefix[0]); a.alpha = try call.float(prefix[1])
        case "nT": a.beta = try call.float(prefix[0]); a.addend = try call.tensor(prefix[1])
        case "Tn": a.addend = try call.tensor(prefix[0]); a.alpha = try call.float(prefix[1])
        case "nTn":
            a.beta = try call.float(prefix[0]); a.addend = try call.tensor(prefix[1]); a.alpha = try call.float(prefix[2])
        default:
            if let bad = prefix.first(where: { !call.isNumber($0) && !call.isTensor($0) }) {
                throw call.typeError(bad, expected: "number or tensor")
            }
            throw call.error("expected \(usage)")
        }
        return a
    }

    /// An add-product as a method: `r:name([β,] [M,] [α,] X, Y)`, M defaulting to r.
    static func addProductMethod(_ usage: String, _ body: @escaping (Tensor, AddProductArguments) throws -> Void) -> LuaFunction {
        returningSelf { call, r in
            let a = try addProductArguments(call, from: 2, usage: usage)
            try body(r, a)
        }
    }

    /// An add-product as a torch function: `torch.name([r,] [β,] M, [α,] X, Y)`; without r the
    /// result is a new tensor.
    static func addProductFunction(_ usage: String, _ body: @escaping (Tensor, AddProductArguments) throws -> Void) -> LuaFunction {
        { call in
            // A result tensor comes first only when two tensors precede the last two.
            let tensorsBefore = (1..<max(1, call.argumentCount - 1)).filter { call.isTensor($0) }.count
            let hasResult = tensorsBefore >= 2 && call.isTensor(1)
            let r = hasResult ? try call.tensor(1) : Tensor()
            let a = try addProductArguments(call, from: hasResult ? 2 : 1, usage: usage)
            guard a.addend != nil else { throw call.error("expected \(usage) (the tensor to add is not optional here)") }
            try body(r, a)
            call.push(r)
            return 1
        }
    }

    /// `r:name(X, Y)` (r = X∘Y) and `torch.name([r,] X, Y)` for mm and mv.
    static func productForms(_ body: @escaping (Tensor, Tensor, Tensor) throws -> Void) -> (method: LuaFunction, function: LuaFunction) {
        let method: LuaFunction = returningSelf { call, r in try body(r, try call.tensor(2), try call.tensor(3)) }
        let function: LuaFunction = { call in
            let hasResult = call.argumentCount >= 3
            let r = hasResult ? try call.tensor(1) : Tensor()
            let k = hasResult ? 2 : 1
            try body(r, try call.tensor(k), try call.tensor(k + 1))
            call.push(r)
            return 1
        }
        return (method, function)
    }

    static let mmForms = productForms { r, a, b in try r.addmm(beta: 0, r, a, b) }
    static let mvForms = productForms { r, m, v in try r.addmv(beta: 0, r, m, v) }

    static let addmmUsage = "addmm([beta,] [M,] [alpha,] A, B) with matrices A, B"
    static let addmvUsage = "addmv([beta,] [v0,] [alpha,] M, v) with a matrix M and a vector v"
    static let addrUsage = "addr([beta,] [M,] [alpha,] v1, v2) with vectors v1, v2"

    static func addmm(_ r: Tensor, _ a: AddProductArguments) throws {
        try r.addmm(beta: a.beta, a.addend ?? r, alpha: a.alpha, a.x, a.y)
    }
    static func addmv(_ r: Tensor, _ a: AddProductArguments) throws {
        try r.addmv(beta: a.beta, a.addend ?? r, alpha: a.alpha, a.x, a.y)
    }
    static func addr(_ r: Tensor, _ a: AddProductArguments) throws {
        try r.addr(beta: a.beta, a.addend ?? r, alpha: a.alpha, a.x, a.y)
    }

    static let linearAlgebraMethods: [String: LuaFunction] = [
        "mm": mmForms.method,
        "mv": mvForms.method,
        "addmm": addProductMethod(addmmUsage, addmm),
        "addmv": addProductMethod(addmvUsage, addmv),
        "addr": addProductMethod(addrUsage, addr),
        "t": { call in call.push(try call.tensor(1).transposed()); return 1 },
        "transpose": { call in
            let t = try call.tensor(1)
            call.push(try t.transposed(try call.dimension(2, of: t), try call.dimension(3, of: t)))
            return 1
        },
        "repeatTensor": { call in
            let t = try call.tensor(1)
            call.push(try t.repeated(try call.sizes(from: 2)))
            return 1
        },
    ]

    /// The torch-table forms (`torch.mm(A, B)`, `torch.addr(M, v1, v2)`, `torch.t(x)`, ...).
    static let linearAlgebraFunctions: [String: LuaFunction] = [
        "mm": mmForms.function,
        "mv": mvForms.function,
        "addmm": addProductFunction("torch.addmm([res,] [beta,] M, [alpha,] A, B)", addmm),
        "addmv": addProductFunction("torch.addmv([res,] [beta,] v0, [alpha,] M, v)", addmv),
        "addr": addProductFunction("torch.addr([res,] [beta,] M, [alpha,] v1, v2)", addr),
        "t": linearAlgebraMethods["t"]!,
        "transpose": linearAlgebraMethods["transpose"]!,
        "repeatTensor": linearAlgebraMethods["repeatTensor"]!,
    ]

    /// Torch's tensor * tensor: 1D·1D dot product (a number), 2D×1D matrix-vector, 2D×2D
    /// matrix-matrix product (`Tensor.product`).
    static func product(_ call: LuaCall) throws -> Int {
        switch try Tensor.product(try call.tensor(1), try call.tensor(2)) {
        case .number(let x): call.push(x)
        case .tensor(let t): call.push(t)
        }
        return 1
    }
}
