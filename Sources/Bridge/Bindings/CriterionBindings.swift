import CLua
import Engine

/// `nn` criteria (losses) in Lua: `crit:forward(output, target)` gives the loss,
/// `crit:backward(output, target)` its gradient. Classification targets are Torch's 1-based
/// class labels (a tensor, or a number for a single example); they are converted to the
/// Engine's 0-based labels here.
public enum CriterionBindings: LuaBindingArea {
    public static let className = "nn.Criterion"

    /// `nn.<Name>(...)` with Torch's signatures. Adding a criterion is one entry here.
    static let constructors: [String: (LuaCall) throws -> Criterion] = [
        // nn.CrossEntropyCriterion()
        "CrossEntropyCriterion": { a in
            guard a.isNoneOrNil(1) else { throw a.argumentError(1, "class weights are not supported by nn.CrossEntropyCriterion here") }
            return CrossEntropyCriterion()
        },
        // nn.ClassNLLCriterion([weights [, sizeAverage = true]])
        "ClassNLLCriterion": { a in
            ClassNLLCriterion(weights: try a.optionalTensor(1), sizeAverage: try a.boolean(2, default: true))
        },
        // nn.MSECriterion([sizeAverage = true])
        "MSECriterion": { a in MSECriterion(sizeAverage: try a.boolean(1, default: true)) },
    ]

    /// Criteria whose targets are class labels.
    static let classificationCriteria: Set<String> = ["nn.CrossEntropyCriterion", "nn.ClassNLLCriterion"]

    public static func install(in lua: LuaRuntime) throws {
        lua.register(LuaClass(name: className, methods: methods, metamethods: metamethods,
                              getField: field, setField: setField, allowsCustomFields: true))
        var functions: [String: LuaFunction] = [:]
        for (name, make) in constructors {
            functions[name] = { call in call.pushObject(try make(call), className: className); return 1 }
        }
        lua.register(library: "nn", functions)
    }

    static func criterion(_ call: LuaCall) throws -> Criterion {
        try call.requireObject(1, className, expected: "nn criterion")
    }

    /// The target at argument `i` in the Engine's convention: class labels shifted to 0-based.
    static func target(_ call: LuaCall, _ i: Int, for c: Criterion) throws -> Tensor {
        let isClassification = classificationCriteria.contains(c.typeName)
        if isClassification && call.isNumber(i) {
            return Tensor(shape: [1], values: [try call.float(i) - 1])
        }
        let t = try call.tensor(i)
        guard isClassification else { return t }
        let shifted = t.clone()
        shifted.addScalar(-1)
        return shifted
    }

    static let methods: [String: LuaFunction] = [
        "forward": { call in
            let c = try criterion(call)
            call.push(try c.forward(try call.tensor(2), try target(call, 3, for: c)))
            return 1
        },
        "updateOutput": { call in
            let c = try criterion(call)
            call.push(try c.updateOutput(try call.tensor(2), try target(call, 3, for: c)))
            return 1
        },
        "backward": { call in
            let c = try criterion(call)
            call.push(try c.backward(try call.tensor(2), try target(call, 3, for: c)))
            return 1
        },
        "updateGradInput": { call in
            let c = try criterion(call)
            call.push(try c.updateGradInput(try call.tensor(2), try target(call, 3, for: c)))
            return 1
        },
        "float": { call in _ = try criterion(call); lua_settop(call.L, 1); return 1 },
        "double": { call in _ = try criterion(call); lua_settop(call.L, 1); return 1 },
    ]

    static let field: LuaFunction = { call in
        let c = try criterion(call)
        guard call.isString(2) else { return 0 }
        switch try call.string(2) {
        case "output": call.push(c.output)
        case "gradInput": call.push(c.gradInput)
        case "sizeAverage": call.push(c.sizeAverage)
        case "__typename": call.push(c.typeName)
        default: return 0
        }
        return 1
    }

    static let setField: LuaFunction = { call in
        let c = try criterion(call)
        guard call.isString(2), try call.string(2) == "sizeAverage" else { return 0 }
        guard call.isBoolean(3) else { throw LuaArgumentError("sizeAverage must be true or false") }
        c.sizeAverage = lua_toboolean(call.L, 3) != 0
        return 1
    }

    static let metamethods: [String: LuaFunction] = [
        "__tostring": { call in call.push(try criterion(call).typeName); return 1 },
    ]
}
