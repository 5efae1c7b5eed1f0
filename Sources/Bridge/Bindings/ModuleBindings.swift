import CLua
import Engine

/// `nn` modules in Lua, Torch7-style: `nn.Sequential():add(nn.Linear(784, 10))`,
/// `m:forward(x)`, `m:get(1).weight`, `tostring(model)`. All modules share one metatable;
/// `torch.type(m)` gives the Torch name (`nn.Linear`). The tensors a module exposes
/// (`weight`, `gradWeight`, `bias`, `gradBias`, `mask`, `output`, `gradInput`) share memory
/// with it: writing into them changes the model.
public enum ModuleBindings: LuaBindingArea {
    public static let className = "nn.Module"

    public static func install(in lua: LuaRuntime) throws {
        lua.register(LuaClass(name: className, methods: methods, metamethods: metamethods,
                              getField: field, setField: setField, allowsCustomFields: true))
        var constructors: [String: LuaFunction] = [:]
        for (name, make) in ModuleConstructors.table {
            constructors[name] = { call in
                let m = try make(call)
                // The same rules as a model file's architecture, so that whatever Lua builds
                // saves into a file that loads (e.g. a convolution's padding < its kernel).
                do { _ = try ModuleFactory.blueprint(m.spec) } catch let e as EngineError { throw call.error(e.message) }
                call.push(m)
                return 1
            }
        }
        lua.register(library: "nn", constructors)
        lua.preload("nn", returningGlobal: "nn")
    }

    // MARK: arguments

    static func module(_ call: LuaCall, _ i: Int) throws -> Module {
        try call.requireObject(i, className, expected: "nn module")
    }

    static func container(_ call: LuaCall) throws -> Container {
        let m = try module(call, 1)
        guard let s = m as? Container else { throw call.error("\(m.typeName) is not a container (nn.Sequential, nn.ConcatTable, nn.ParallelTable)") }
        return s
    }

    /// The module's weight parameter, or a clear error naming the module.
    static func weight(_ call: LuaCall, _ m: Module) throws -> Parameter {
        guard let w = m.weight else { throw call.error("\(m.description) has no weights") }
        return w
    }

    /// The module's parameter named `name` ('weight' or 'bias'), or a clear error.
    static func parameter(_ call: LuaCall, _ m: Module, _ name: String, argument: Int = 2) throws -> Parameter {
        guard name == "weight" || name == "bias" else { throw call.argumentError(argument, "expected 'weight' or 'bias', got '\(name)'") }
        guard let p = name == "weight" ? m.weight : m.bias else { throw call.error("\(m.description) has no \(name)") }
        return p
    }

    /// Whether `m` is `container` or contains it (adding it would make a cycle).
    static func contains(_ m: Module, _ container: Module) -> Bool {
        if m === container { return true }
        if let s = m as? Container { return s.modules.contains { contains($0, container) } }
        return false
    }

    /// Modules of type `typeName` in `m` and its descendants, depth first (Torch's findModules).
    static func find(_ m: Module, _ typeName: String) -> [Module] {
        var found = m.typeName == typeName ? [m] : []
        if let s = m as? Container { for c in s.modules { found += find(c, typeName) } }
        return found
    }

    /// The input and gradOutput arguments of a backward call, checked against the last
    /// forward: Engine modules read their `output` buffer and size their loops by it, so a
    /// gradOutput of another size (or a backward before any forward) must not reach them.
    static func backwardArguments(_ call: LuaCall, _ m: Module) throws -> (Activation, Activation) {
        let x = try activation(call, 2), g = try activation(call, 3)
        let y = m.activationOutput
        if case .tensor(let gt) = g, case .tensor(let yt) = y {
            guard yt.count > 0 || gt.count == 0 else {
                throw call.error("\(m.description): call forward before backward")
            }
            guard gt.count == yt.count else {
                throw call.argumentError(3, "gradOutput of size \(shapeString(gt.shape)) does not match the output of the last forward (size \(shapeString(yt.shape)))")
            }
            if m is ElementwiseModule, case .tensor(let xt) = x, xt.count != yt.count {
                throw call.argumentError(2, "input of size \(shapeString(xt.shape)) is not the input of the last forward (output size \(shapeString(yt.shape)))")
            }
        } else if !g.hasSameShape(as: y) {
            throw call.argumentError(3, "gradOutput of size \(g.shapeDescription) does not match the output of the last forward (size \(y.shapeDescription))")
        }
        return (x, g)
    }

    /// The tensor or (nested) table of tensors at `i`: what forward and backward take.
    static func activation(_ call: LuaCall, _ i: Int) throws -> Activation {
        if !call.isTable(i) || call.isSizeTable(i) { return .tensor(try call.tensor(i)) }
        return try table(call, Int(lua_absindex(call.L, Int32(i))), argument: i, depth: 0)
    }

    private static func table(_ call: LuaCall, _ index: Int, argument: Int, depth: Int) throws -> Activation {
        guard depth < 64 else { throw call.argumentError(argument, "tables nested more than 64 deep (does a table contain itself?)") }
        try call.ensureStack(2)
        let n = Int(lua_rawlen(call.L, Int32(index)))
        var entries = [Activation]()
        for k in stride(from: 1, through: n, by: 1) {
            lua_rawgeti(call.L, Int32(index), lua_Integer(k))
            defer { wb_pop(call.L, 1) }
            let top = Int(lua_gettop(call.L))
            if call.isTable(top) && !call.isSizeTable(top) {
                entries.append(try table(call, top, argument: argument, depth: depth + 1))
            } else if let t: Tensor = call.object(top, TensorBindings.className) {
                entries.append(.tensor(t))
            } else {
                throw call.argumentError(argument, "entry \(k) of the table is a \(call.typeName(top)), expected a tensor or a table of tensors")
            }
        }
        return .table(entries)
    }

    /// `f()` on a module, returning self for chaining.
    static func returningSelf(_ body: @escaping (LuaCall, Module) throws -> Void) -> LuaFunction {
        { call in
            try body(call, try module(call, 1))
            lua_settop(call.L, 1)
            return 1
        }
    }

    // MARK: methods

    static let methods: [String: LuaFunction] = [
        "add": { call in
            let s = try container(call)
            let m = try module(call, 2)
            guard !contains(m, s) else { throw call.argumentError(2, "adding this module would make the container contain itself") }
            if let i = try call.optionalInteger(3) { try s.insert(m, at: i) } else { s.add(m) }
            lua_settop(call.L, 1)
            return 1
        },
        "insert": { call in
            let s = try container(call)
            let m = try module(call, 2)
            guard !contains(m, s) else { throw call.argumentError(2, "inserting this module would make the container contain itself") }
            try s.insert(m, at: try call.optionalInteger(3) ?? s.count + 1)
            lua_settop(call.L, 1)
            return 1
        },
        "remove": { call in
            let s = try container(call)
            call.push(try s.remove(at: try call.optionalInteger(2)))
            return 1
        },
        "get": { call in
            let s = try container(call)
            call.push(try s.module(at: try call.integer(2)))
            return 1
        },
        "size": { call in
            call.push(try container(call).count)
            return 1
        },
        // m:forward(x), x a tensor or a table of them (nested): a tensor or a Lua table back
        "forward": { call in
            let m = try module(call, 1)
            try call.push(try m.forward(try activation(call, 2)))
            return 1
        },
        "updateOutput": { call in
            let m = try module(call, 1)
            try call.push(try m.updateOutput(try activation(call, 2)))
            return 1
        },
        // m:backward(input, gradOutput [, scale]): tensors or tables as forward gave them
        "backward": { call in
            let m = try module(call, 1)
            let (x, g) = try backwardArguments(call, m)
            try call.push(try m.backward(x, g, scale: Float(try call.optionalNumber(4) ?? 1)))
            return 1
        },
        "updateGradInput": { call in
            let m = try module(call, 1)
            let (x, g) = try backwardArguments(call, m)
            try call.push(try m.updateGradInput(x, g))
            return 1
        },
        "accGradParameters": { call in
            let m = try module(call, 1)
            let (x, g) = try backwardArguments(call, m)
            try m.accGradParameters(x, g, scale: Float(try call.optionalNumber(4) ?? 1))
            m.parametersReceivedGradients()
            return 0
        },
        "zeroGradParameters": returningSelf { _, m in m.zeroGradParameters() },
        "updateParameters": returningSelf { call, m in m.updateParameters(learningRate: try call.float(2)) },
        // m:freeze([{evaluate = true}]) / m:unfreeze(): the module and every module inside it;
        // evaluate = true also pins them to evaluation mode (false unpins), unfreeze unpins.
        // m:freeze('weight') / m:unfreeze('weight'): that parameter only (its scores still train).
        "freeze": returningSelf { call, m in
            if call.isString(2) { return try parameter(call, m, try call.string(2)).isFrozen = true }
            let pin = try LuaOptions(call, 2, allowed: ["evaluate"]).boolean("evaluate")
            for x in allModules(m) {
                x.isFrozen = true
                if let pin { x.isEvaluationPinned = pin }
            }
        },
        "unfreeze": returningSelf { call, m in
            if call.isString(2) { return try parameter(call, m, try call.string(2)).isFrozen = false }
            for x in allModules(m) { x.isFrozen = false; x.isEvaluationPinned = false }
        },
        // m:sparseTraining([on]): every nn.Linear in m trains on sparse kernels when its mask is
        // sparse enough (on = true by default; false turns it off). The weight gradient is then
        // 0 under the mask: leave it off where something reads the gradient of masked entries.
        "sparseTraining": returningSelf { call, m in
            let on = try call.boolean(2, default: true)
            let linears = allModules(m).compactMap { $0 as? Linear }
            guard !linears.isEmpty else { throw call.error("\(m.typeName) has no nn.Linear to train on sparse kernels") }
            for l in linears { l.sparseTraining = on }
        },
        "training": returningSelf { _, m in m.training() },
        "evaluate": returningSelf { _, m in m.evaluate() },
        "clearState": returningSelf { _, m in m.clearState() },
        "float": returningSelf { _, _ in },
        "double": returningSelf { _, _ in },
        "reset": returningSelf { _, m in try LuaModules.reset(m) },
        "parameters": { call in
            let ps = try module(call, 1).allParameters
            try call.pushArray(ps) { call.push($0.value) }
            try call.pushArray(ps) { call.push($0.grad) }
            return 2
        },
        // m:setMask(mask [, 'weight' | 'bias']), m:removeMask(['weight' | 'bias']): the weight's by default
        "setMask": returningSelf { call, m in
            let p = call.isNoneOrNil(3) ? try weight(call, m) : try parameter(call, m, try call.string(3), argument: 3)
            try p.setMask(try call.tensor(2))
        },
        "removeMask": returningSelf { call, m in
            let p = call.isNoneOrNil(2) ? try weight(call, m) : try parameter(call, m, try call.string(2))
            p.removeMask()
        },
        // bn:restartRunningAverage(): running statistics 0 and 1; the next training batch's replace them
        "restartRunningAverage": returningSelf { call, m in
            guard let b = m as? BatchNormalization else { throw call.error("\(m.typeName) has no running averages (a batch normalisation has)") }
            b.restartRunningAverage()
        },
        // m:setScores(s, fraction): the scores choose the mask (top |s|, the fraction kept)
        "setScores": returningSelf { call, m in
            let fraction = try call.number(3)
            do { try weight(call, m).setScores(try call.tensor(2), keeping: fraction) } catch let e as EngineError {
                throw call.error(e.message)
            }
        },
        "removeScores": returningSelf { call, m in try weight(call, m).removeScores() },
        "ceil": returningSelf { call, m in
            if let a = m as? SpatialAveragePooling { a.ceil(); return }
            guard let p = m as? SpatialMaxPooling else { throw call.error("\(m.typeName) has no ceil mode") }
            p.ceil()
        },
        "floor": returningSelf { call, m in
            if let a = m as? SpatialAveragePooling { a.floor(); return }
            guard let p = m as? SpatialMaxPooling else { throw call.error("\(m.typeName) has no floor mode") }
            p.floor()
        },
        // avg:setCountIncludePad() (Torch's default) / avg:setCountExcludePad()
        "setCountIncludePad": returningSelf { call, m in
            guard let a = m as? SpatialAveragePooling else { throw call.error("\(m.typeName) has no setCountIncludePad") }
            a.countIncludePad = true
        },
        "setCountExcludePad": returningSelf { call, m in
            guard let a = m as? SpatialAveragePooling else { throw call.error("\(m.typeName) has no setCountExcludePad") }
            a.countIncludePad = false
        },
        "setNumInputDims": returningSelf { call, m in
            guard let v = m as? View else { throw call.error("\(m.typeName) has no setNumInputDims") }
            v.numInputDims = try call.integer(2, atLeast: 1)
        },
        "setp": returningSelf { call, m in
            guard let d = m as? Dropout else { throw call.error("\(m.typeName) has no setp") }
            try d.setP(try call.number(2))
        },
        "findModules": { call in
            let m = try module(call, 1)
            try call.pushArray(find(m, try call.string(2))) { call.push($0) }
            return 1
        },
        "clone": { call in
            let m = try module(call, 1)
            try LuaModules.checkRebuildable(m, for: "clone")
            call.push(try m.deepCopy(types: call.context.moduleTypes))
            return 1
        },
        "type": { call in
            let m = try module(call, 1)
            if call.isNoneOrNil(2) { call.push(m.typeName); return 1 }
            lua_settop(call.L, 1)     // m:type('torch.FloatTensor') converts; everything is float here
            return 1
        },
    ]

    // MARK: fields

    static let field: LuaFunction = { call in
        let m = try module(call, 1)
        if let l = m as? LuaModule, l.pushField(call) { return 1 }
        if call.isNumber(2) {
            guard let s = m as? Container else { return 0 }
            let i = try call.integer(2)
            guard i >= 1 && i <= s.count else { return 0 }
            call.push(s.modules[i - 1])
            return 1
        }
        guard call.isString(2) else { return 0 }
        switch try call.string(2) {
        case "weight": call.push(m.weight?.value)
        case "gradWeight": call.push(m.weight?.grad)
        case "bias": call.push(m.bias?.value)
        case "gradBias": call.push(m.bias?.grad)
        case "mask": call.push(m.weight?.mask)
        case "weightOrig": call.push(m.weight?.weights())
        case "biasMask": call.push(m.bias?.mask)
        case "biasOrig": call.push(m.bias?.weights())
        case "runningMean": call.push((m as? BatchNormalization)?.runningMean)
        case "runningVar": call.push((m as? BatchNormalization)?.runningVar)
        case "scores": call.push(m.weight?.scores?.value)
        case "gradScores": call.push(m.weight?.scores?.grad)
        case "keptFraction":
            guard let f = m.weight?.keptFraction else { return 0 }
            call.push(f)
        case "output": try call.push(m.activationOutput)
        case "gradInput": try call.push(m.activationGradInput)
        case "train": call.push(m.isTraining)
        case "__typename": call.push(m.typeName)
        case "modules":
            guard let s = m as? Container else { return 0 }
            try call.pushArray(s.modules) { call.push($0) }
        case let key:
            return pushNumericProperty(call, m, key)
        }
        return 1
    }

    /// A numeric or boolean stored property of the Swift module by name (`kW`, `padH`,
    /// `ceilMode`, `p`, ...), read-only, found by reflection so new modules need no code.
    static func pushNumericProperty(_ call: LuaCall, _ m: Module, _ key: String) -> Int {
        var mirror: Mirror? = Mirror(reflecting: m)
        while let mi = mirror {
            for child in mi.children where child.label == key {
                switch child.value {
                case let v as Int: call.push(v)
                case let v as Double: call.push(v)
                case let v as Float: call.push(v)
                case let v as Bool: call.push(v)
                default: return 0
                }
                return 1
            }
            mirror = mi.superclassMirror
        }
        return 0
    }

    static let setField: LuaFunction = { call in
        let m = try module(call, 1)
        if let l = m as? LuaModule, try l.setField(call) { return 1 }
        guard call.isString(2) else { return 0 }
        let key = try call.string(2)
        switch key {
        case "weight", "bias":
            guard let p = key == "weight" ? m.weight : m.bias else {
                throw LuaArgumentError("\(m.description) has no \(key)")
            }
            guard let t: Tensor = call.object(3, TensorBindings.className), t.count == p.value.count else {
                throw LuaArgumentError("\(key) of \(m.description) must be set to a tensor of size \(shapeString(p.value.shape))")
            }
            try p.setWeights(t)
            return 1
        case "train":
            if lua_toboolean(call.L, 3) != 0 { m.training() } else { m.evaluate() }
            return 1
        case "isEvaluationPinned":
            guard call.isBoolean(3) else {
                throw LuaArgumentError("isEvaluationPinned of \(m.description) must be set to true or false, got \(call.typeName(3))")
            }
            let pin = lua_toboolean(call.L, 3) != 0
            for y in allModules(m) { y.isEvaluationPinned = pin }
            return 1
        case "learningRateScale":
            let x = try call.number(3)
            guard x.isFinite && x >= 0 else {
                throw LuaArgumentError("learningRateScale of \(m.description) must be a finite number >= 0, got \(x)")
            }
            for y in allModules(m) { y.learningRateScale = Float(x) }
            return 1
        case "keptFraction":
            guard let w = m.weight, w.scores != nil else { throw LuaArgumentError("\(m.description) has no scores (use setScores)") }
            do { try w.setKeptFraction(try call.number(3)) } catch let e as EngineError { throw LuaArgumentError(e.message) }
            return 1
        case "weightOrig", "biasOrig", "scores", "gradScores":
            throw LuaArgumentError("'\(key)' of \(m.description) cannot be replaced (assign m.weight = t to set the stored weights, m:setScores(s, fraction) for scores)")
        case "gradWeight", "gradBias", "mask", "biasMask", "runningMean", "runningVar", "output", "gradInput", "modules", "__typename":
            throw LuaArgumentError("'\(key)' of \(m.description) cannot be replaced (write into it, or use setMask)")
        default:
            return 0
        }
    }

    // MARK: metamethods

    static let metamethods: [String: LuaFunction] = [
        "__tostring": { call in
            let m = try module(call, 1)
            call.push(m.listing)
            return 1
        },
        "__len": { call in
            call.push((try module(call, 1) as? Container)?.count ?? 0)
            return 1
        },
    ]
}

extension LuaCall {
    /// Pushes `m` as an `nn` module userdata.
    public func push(_ m: Module) { pushObject(m, className: ModuleBindings.className) }

    /// Pushes a tensor, or a table as a Lua table of (tables of) tensors at 1...n.
    public func push(_ a: Activation) throws {
        switch a {
        case .tensor(let t): push(t)
        case .table(let entries):
            try ensureStack(2)
            lua_createtable(L, Int32(entries.count), 0)
            for (k, e) in entries.enumerated() {
                try push(e)
                lua_rawseti(L, -2, lua_Integer(k + 1))
            }
        }
    }
}
