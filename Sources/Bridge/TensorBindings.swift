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
        // Functional forms: torch.sum(t, ...) = t:sum(...); torch.abs(t) etc. return new tensors.
        for name in ["sum", "mean", "max", "min", "sort", "kthvalue", "topk", "gt", "lt", "ge", "le", "eq", "ne",
                     "numel", "view", "reshape", "totable", "norm", "dot", "clone", "dim", "size"] {
            f[name] = methods[name]
        }
        for name in ["abs", "add", "mul", "div", "cmul", "cdiv", "pow", "sqrt", "sign", "clamp"] {
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

    /// `t:name(x)` where x is a number or a tensor with as many elements: self ∘= x.
    static func elementwise(_ scalar: @escaping (Tensor, Float) -> Void, _ tensor: @escaping (Tensor, Tensor) -> Void) -> LuaFunction {
        returningSelf { call, t in
            if call.isNumber(2) { scalar(t, try call.float(2)) } else if call.isTensor(2) {
                tensor(t, try call.tensor(2, sameCountAs: t))
            } else { throw call.typeError(2, expected: "number or tensor") }
        }
    }

    /// Pushes two tensors of 0-based indices as 1-based.
    static func pushOneBased(_ call: LuaCall, _ indices: Tensor) {
        indices.addScalar(1)
        call.push(indices)
    }

    static let methods: [String: LuaFunction] = [
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
        "abs": returningSelf { _, t in t.absInPlace() },
        "sqrt": returningSelf { _, t in t.sqrtInPlace() },
        "sign": returningSelf { _, t in t.signInPlace() },
        "pow": returningSelf { call, t in t.powInPlace(try call.float(2)) },
        "clamp": returningSelf { call, t in
            let lo = try call.float(2), hi = try call.float(3)
            guard lo <= hi else { throw call.error("min \(lo) is larger than max \(hi)") }
            t.clampInPlace(lo, hi)
        },
        "uniform": returningSelf { call, t in
            t.fillUniform(try call.optionalNumber(2).map(Float.init) ?? 0, try call.optionalNumber(3).map(Float.init) ?? 1,
                          &GlobalRandom.generator)
        },
        "normal": returningSelf { call, t in
            t.fillNormal(mean: try call.optionalNumber(2).map(Float.init) ?? 0,
                         std: try call.optionalNumber(3).map(Float.init) ?? 1, &GlobalRandom.generator)
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
        "dot": { call in
            let t = try call.tensor(1)
            call.push(t.dot(try call.tensor(2, sameCountAs: t)))
            return 1
        },
        "norm": { call in
            let t = try call.tensor(1), p = try call.optionalNumber(2) ?? 2
            let x = t.data
            var s = 0.0
            if p == 1 {
                for i in 0..<t.count { s += Double(Swift.abs(x[i])) }
            } else if p == 2 {
                for i in 0..<t.count { s += Double(x[i]) * Double(x[i]) }
                s = s.squareRoot()
            } else {
                guard p > 0 else { throw call.argumentError(2, "p must be > 0") }
                for i in 0..<t.count { s += Foundation.pow(Double(Swift.abs(x[i])), p) }
                s = Foundation.pow(s, 1 / p)
            }
            call.push(s)
            return 1
        },
        "sum": reduction({ call, t in call.push(t.sum()) }, { try $0.sum(along: $1) }),
        "mean": reduction({ call, t in call.push(t.mean()) }, { try $0.mean(along: $1) }),
        "max": extreme({ $0.maxValue() }, { try $0.maxValues(along: $1) }),
        "min": extreme({ $0.minValue() }, { try $0.minValues(along: $1) }),
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
        "totable": { call in
            try pushTable(call, try call.tensor(1))
            return 1
        },
    ]
    .merging(comparisons) { a, _ in a }

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

    // MARK: indexing

    /// t[i] for 1 ≤ i ≤ size(1) (negative counts from the end): a number for a 1D tensor, a
    /// view of the i-th slice otherwise.
    static func subTensor(_ call: LuaCall, _ t: Tensor, _ index: Int, argument: Int? = nil) throws -> Tensor {
        guard t.dim >= 1, t.shape[0] > 0 else { throw LuaArgumentError("cannot index an empty tensor") }
        let i = index < 0 ? t.shape[0] + index : index - 1
        guard i >= 0 && i < t.shape[0] else {
            throw LuaArgumentError("index \(index) out of range: dimension 1 has size \(t.shape[0]) (1..\(t.shape[0]))")
        }
        return t.slice(i)
    }

    /// The element or sub-tensor at a path of indices `{i, j, ...}`.
    static func walk(_ call: LuaCall, _ t: Tensor, _ path: [Int]) throws -> Tensor {
        guard path.count <= t.dim else {
            throw LuaArgumentError("\(path.count) indices for a \(t.dim)D tensor")
        }
        var x = t
        for i in path { x = try subTensor(call, x, i) }
        return x
    }

    static let index: LuaFunction = { call in
        let t = try call.tensor(1)
        let x: Tensor
        if call.isNumber(2) {
            x = try subTensor(call, t, try integerKey(call))
        } else if call.isTable(2) {
            x = try walk(call, t, try call.integerArray(2))
        } else {
            return 0
        }
        if x.dim == 0 { call.push(x[0]) } else { call.push(x) }
        return 1
    }

    static let newIndex: LuaFunction = { call in
        let t = try call.tensor(1)
        let x: Tensor
        if call.isNumber(2) {
            x = try subTensor(call, t, try integerKey(call))
        } else if call.isTable(2) {
            x = try walk(call, t, try call.integerArray(2))
        } else {
            return 0
        }
        if call.isNumber(3) {
            x.fill(try call.float(3))
        } else if let src: Tensor = call.object(3, className) {
            guard src.count == x.count else {
                throw LuaArgumentError("cannot assign a tensor of size \(shapeString(src.shape)) to a slice of size \(shapeString(x.shape))")
            }
            x.copy(from: src)
        } else {
            throw LuaArgumentError("cannot assign a \(call.typeName(3)) to a tensor element (number or tensor expected)")
        }
        return 1
    }

    static func integerKey(_ call: LuaCall) throws -> Int {
        let v = try call.number(2)
        guard v.rounded() == v, Swift.abs(v) < 9e15 else { throw LuaArgumentError("tensor index \(v) is not an integer") }
        return Int(v)
    }

    // MARK: metamethods

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

    /// Torch's tensor * tensor: 1D·1D dot product (a number), 2D×1D matrix-vector, 2D×2D
    /// matrix-matrix product.
    static func product(_ call: LuaCall) throws -> Int {
        let a = try call.tensor(1), b = try call.tensor(2)
        switch (a.dim, b.dim) {
        case (1, 1):
            guard a.count == b.count else { throw LuaArgumentError("dot product of vectors of sizes \(a.count) and \(b.count)") }
            call.push(a.dot(b))
        case (2, 1), (2, 2):
            let m = a.shape[0], k = a.shape[1], n = b.dim == 1 ? 1 : b.shape[1]
            guard b.shape[0] == k else {
                throw LuaArgumentError("matrix product: sizes \(shapeString(a.shape)) and \(shapeString(b.shape)) do not match")
            }
            let r = Tensor(shape: b.dim == 1 ? [m] : [m, n])
            BLAS.gemm(m: m, n: n, k: k, a: a.data, b: b.data, c: r.data)
            call.push(r)
        default:
            throw LuaArgumentError("tensor * tensor needs 1D·1D, 2D×1D or 2D×2D operands, got \(a.dim)D and \(b.dim)D")
        }
        return 1
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
