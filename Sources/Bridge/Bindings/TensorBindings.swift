import CLua
import Engine
import Foundation

/// `torch` and tensors in Lua, Torch7-style and 1-based: `torch.Tensor(2, 3)`,
/// `t:add(1, x)`, `t[i]`, `w:abs():gt(0.1)`. Every operation runs in Swift over the whole
/// tensor. See docs/lua-api.md.
public enum TensorBindings: LuaBindingArea {
    public static let className = "torch.FloatTensor"
    /// Metatable of size tables (`t:size()`), Torch's LongStorage.
    public static let sizeClassName = "torch.LongStorage"

    public static func install(in lua: LuaRuntime) throws {
        lua.register(LuaClass(name: className, methods: methods, metamethods: metamethods,
                              getField: index, setField: newIndex))
        installSizeClass(lua)
        lua.register(library: "torch", library)
        lua.preload("torch", returningGlobal: "torch")
    }

    /// Tensors above this many elements are refused with a clear error (8 GB of floats).
    static let maxElements = Int(Int32.max)

    static func checkElementCount(_ shape: [Int], call: LuaCall) throws {
        var n = 1
        for d in shape {
            let (m, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, m <= maxElements else {
                throw call.error("a tensor of size \(shapeString(shape)) is too large (at most \(maxElements) elements)")
            }
            n = m
        }
    }

    // MARK: construction

    /// `torch.Tensor()`, `torch.Tensor(2, 3)`, `torch.Tensor(sizes)`, `torch.Tensor{1, 2}`,
    /// `torch.Tensor{{1, 2}, {3, 4}}`, `torch.Tensor(t)` (shares t's memory).
    static let construct: LuaFunction = { call in
        if call.argumentCount == 0 { call.push(Tensor()); return 1 }
        if let t: Tensor = call.object(1, className) {
            call.push(Tensor(storage: t.storage, offset: t.offset, shape: t.shape))
            return 1
        }
        if call.isTable(1) && !call.isSizeTable(1) {
            call.push(try tensorFromTable(call, 1))
            return 1
        }
        call.push(Tensor(shape: try call.sizes(from: 1)))
        return 1
    }

    /// A tensor from nested tables of numbers; the nesting gives the shape.
    static func tensorFromTable(_ call: LuaCall, _ i: Int) throws -> Tensor {
        let L = call.L
        var shape: [Int] = []
        // The shape from the first element of each level.
        try call.ensureStack(64)
        lua_pushvalue(L, Int32(i))
        var depth = 0
        while lua_type(L, -1) == LUA_TTABLE {
            guard depth < 32 else { throw call.argumentError(i, "tables nested too deeply") }
            shape.append(Int(lua_rawlen(L, -1)))
            lua_rawgeti(L, -1, 1)
            depth += 1
        }
        lua_settop(L, Int32(call.argumentCount))
        try checkElementCount(shape, call: call)
        let t = Tensor(shape: shape)
        var n = 0
        func where_(_ path: [Int]) -> String { path.isEmpty ? "top" : "[" + path.map(String.init).joined(separator: "][") + "]" }
        func fill(_ level: Int, _ path: [Int]) throws {
            let len = Int(lua_rawlen(L, -1))
            guard len == shape[level] else {
                throw call.argumentError(i, "inconsistent tensor size: the table at \(where_(path)) has \(len) entries, expected \(shape[level])")
            }
            for k in stride(from: 1, through: len, by: 1) {
                lua_rawgeti(L, -1, lua_Integer(k))
                defer { wb_pop(L, 1) }
                if level == shape.count - 1 {
                    guard lua_type(L, -1) == LUA_TNUMBER else {
                        throw call.argumentError(i, "entry \(where_(path + [k])) is a \(call.typeName(-1)), expected a number")
                    }
                    t[n] = Float(lua_tonumberx(L, -1, nil))
                    n += 1
                } else {
                    guard lua_type(L, -1) == LUA_TTABLE else {
                        throw call.argumentError(i, "inconsistent tensor size: entry \(where_(path + [k])) is not a table")
                    }
                    try fill(level + 1, path + [k])
                }
            }
        }
        lua_pushvalue(L, Int32(i))
        try fill(0, [])
        lua_settop(L, Int32(call.argumentCount))
        return t
    }

    /// `torch.zeros(2, 3)` and the like: a new tensor of the given size, filled by `body`.
    static func filled(_ body: @escaping (Tensor) -> Void) -> LuaFunction {
        { call in
            let t = Tensor(shape: try call.sizes(from: 1))
            body(t)
            call.push(t)
            return 1
        }
    }

    // MARK: the torch table

    static var library: [String: LuaFunction] {
        var f: [String: LuaFunction] = [
            "Tensor": construct,
            "FloatTensor": construct,
            "DoubleTensor": construct,
            "LongStorage": { call in
                if call.isNumber(1) {
                    call.pushSizes([Int](repeating: 0, count: try call.integer(1, atLeast: 0)))
                } else {
                    call.pushSizes(call.argumentCount == 0 ? [] : try call.integerArray(1))
                }
                return 1
            },
            "zeros": filled { _ in },
            "ones": filled { $0.fill(1) },
            "rand": filled { $0.fillUniform(0, 1, &GlobalRandom.generator) },
            "randn": filled { $0.fillNormal(mean: 0, std: 1, &GlobalRandom.generator) },
            "randperm": { call in
                let n = try call.integer(1, atLeast: 0)
                try checkElementCount([n], call: call)
                let p = GlobalRandom.generator.permutation(n)
                call.push(Tensor(shape: [n], values: p.map { Float($0 + 1) }))
                return 1
            },
            "range": { call in
                let a = try call.number(1), b = try call.number(2), step = try call.optionalNumber(3) ?? 1
                guard step != 0, (b - a) / step >= -1e-9 || a == b else {
                    throw call.error("step \(step) never reaches \(b) from \(a)")
                }
                let n = Int(((b - a) / step + 1e-9).rounded(.down)) + 1
                try checkElementCount([n], call: call)
                call.push(Tensor(shape: [n], values: (0..<n).map { Float(a + Double($0) * step) }))
                return 1
            },
            "linspace": { call in
                let a = try call.number(1), b = try call.number(2), n = try call.optionalInteger(3) ?? 100
                guard n >= 1 else { throw call.argumentError(3, "number of points must be >= 1") }
                try checkElementCount([n], call: call)
                let step = n == 1 ? 0 : (b - a) / Double(n - 1)
                call.push(Tensor(shape: [n], values: (0..<n).map { Float($0 == n - 1 ? b : a + Double($0) * step) }))
                return 1
            },
            "manualSeed": { call in
                let s = try call.integer(1)
                GlobalRandom.seed(UInt64(bitPattern: Int64(s)))
                return 0
            },
            // torch.getRNGState() -> the generator's state as 64 hex digits; torch.setRNGState(s)
            // continues from it exactly (a checkpoint's way to resume the same numbers)
            "getRNGState": { call in call.push(GlobalRandom.generator.stateText); return 1 },
            "setRNGState": { call in
                do { GlobalRandom.generator = try RandomGenerator(stateText: try call.string(1)) } catch let e as EngineError {
                    throw call.argumentError(1, e.message)
                }
                return 0
            },
            "isTensor": { call in call.push(call.isTensor(1)); return 1 },
            "type": { call in
                call.push(call.typeName(1))
                return 1
            },
            "typename": { call in
                if let name = LuaObjects.className(call.L, 1) { call.push(name) } else { call.pushNil() }
                return 1
            },
            "isTypeOf": { call in
                let wanted = try call.string(2)
                guard let name = LuaObjects.className(call.L, 1) else { call.push(false); return 1 }
                let isModule = call.object(1, ModuleBindings.className, as: Module.self) != nil
                let isCriterion = call.object(1, CriterionBindings.className, as: Criterion.self) != nil
                call.push(name == wanted || (isModule && wanted == "nn.Module") || (isCriterion && wanted == "nn.Criterion")
                          || (wanted == "torch.Tensor" && name == className))
                return 1
            },
            "setdefaulttensortype": { call in
                let name = try call.string(1)
                guard name == "torch.FloatTensor" || name == "torch.DoubleTensor" else {
                    throw call.argumentError(1, "only float tensors exist here (got '\(name)')")
                }
                return 0
            },
            "getdefaulttensortype": { call in call.push(className); return 1 },
        ]
        f.merge(linearAlgebraFunctions) { a, _ in a }
        // Functional forms: torch.sum(t, ...) = t:sum(...); torch.abs(t) etc. return new tensors.
        for name in ["sum", "mean", "max", "min", "sort", "kthvalue", "topk", "gt", "lt", "ge", "le", "eq", "ne",
                     "numel", "view", "reshape", "totable", "norm", "dot", "clone", "dim", "size", "index", "nonzero"] {
            f[name] = methods[name]
        }
        for name in ["abs", "add", "mul", "div", "cmul", "cdiv", "pow", "sqrt", "sign", "clamp", "exp", "log", "tanh", "sigmoid"] {
            let method = methods[name]!
            f[name] = { call in
                let t = try call.tensor(1)
                call.push(t.clone())
                lua_copy(call.L, -1, 1)
                wb_pop(call.L, 1)
                return try method(call)
            }
        }
        return f
    }

    // MARK: methods

    /// Returns self (for in-place methods, which chain as in Torch).
    static func returningSelf(_ body: @escaping (LuaCall, Tensor) throws -> Void) -> LuaFunction {
        { call in
            let t = try call.tensor(1)
            try body(call, t)
            lua_settop(call.L, 1)
            return 1
        }
    }

    /// Every method of a tensor, gathered from the files of their areas
    /// (`TensorBindings+<Area>.swift`).
    static let methods: [String: LuaFunction] = [basicMethods, pointwiseMethods, comparisons, reductionMethods,
                                                   sortingMethods, shapeMethods, linearAlgebraMethods, indexedMethods]
        .reduce(into: [:]) { all, area in all.merge(area) { a, _ in a } }

    /// Sizes, types, copies, fills and conversion to tables.
    static let basicMethods: [String: LuaFunction] = [
        "size": { call in
            let t = try call.tensor(1)
            if call.isNoneOrNil(2) { call.pushSizes(t.shape) } else { call.push(t.shape[try call.dimension(2, of: t)]) }
            return 1
        },
        "dim": { call in call.push(try call.tensor(1).dim); return 1 },
        "nDimension": { call in call.push(try call.tensor(1).dim); return 1 },
        "numel": { call in call.push(try call.tensor(1).count); return 1 },
        "nElement": { call in call.push(try call.tensor(1).count); return 1 },
        "isContiguous": { call in _ = try call.tensor(1); call.push(true); return 1 },
        "isSameSizeAs": { call in call.push(try call.tensor(1).shape == (try call.tensor(2)).shape); return 1 },
        "type": { call in _ = try call.tensor(1); call.push(className); return 1 },
        "float": returningSelf { _, _ in },
        "double": returningSelf { _, _ in },
        "clone": { call in call.push(try call.tensor(1).clone()); return 1 },
        "copy": returningSelf { call, t in t.copy(from: try call.tensor(2, sameCountAs: t)) },
        "fill": returningSelf { call, t in t.fill(try call.float(2)) },
        "zero": returningSelf { _, t in t.zero() },
        "uniform": returningSelf { call, t in
            t.fillUniform(try call.optionalNumber(2).map(Float.init) ?? 0, try call.optionalNumber(3).map(Float.init) ?? 1,
                          &GlobalRandom.generator)
        },
        "normal": returningSelf { call, t in
            t.fillNormal(mean: try call.optionalNumber(2).map(Float.init) ?? 0,
                         std: try call.optionalNumber(3).map(Float.init) ?? 1, &GlobalRandom.generator)
        },
        "totable": { call in
            try pushTable(call, try call.tensor(1))
            return 1
        },
    ]

    /// Nested tables of the values.
    static func pushTable(_ call: LuaCall, _ t: Tensor) throws {
        try call.ensureStack(t.dim + 4)
        let L = call.L
        var n = 0
        func push(_ level: Int) {
            let len = t.dim == 0 ? 1 : t.shape[level]
            lua_createtable(L, Int32(len), 0)
            for k in 0..<len {
                if level >= t.dim - 1 { lua_pushnumber(L, Double(t[n])); n += 1 } else { push(level + 1) }
                lua_rawseti(L, -2, lua_Integer(k + 1))
            }
        }
        push(0)
    }

    // MARK: size tables

    private static func installSizeClass(_ lua: LuaRuntime) {
        let L = lua.L
        luaL_newmetatable(L, sizeClassName)
        lua_pushstring(L, "__index")
        wb_newtable(L)
        lua_pushstring(L, "size")
        lua.context.pushFunction(L, name: "size", isMethod: true) { call in
            call.push(Int(lua_rawlen(call.L, 1)))
            return 1
        }
        lua_rawset(L, -3)
        lua_pushstring(L, "totable")
        lua.context.pushFunction(L, name: "totable", isMethod: true) { call in
            let s = try call.integerArray(1)
            try call.pushArray(s) { call.push($0) }
            return 1
        }
        lua_rawset(L, -3)
        lua_rawset(L, -3)
        lua_pushstring(L, "__tostring")
        lua.context.pushFunction(L, name: "__tostring") { call in
            let s = try call.integerArray(1)
            let f = TensorFormatter.numberFormat(s.map(Double.init))
            call.push(s.map { f.render(Double($0)) + "\n" }.joined() + "[\(sizeClassName) of size \(s.count)]\n")
            return 1
        }
        lua_rawset(L, -3)
        wb_pop(L, 1)
    }
}
