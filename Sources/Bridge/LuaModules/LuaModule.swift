import CLua
import Engine

/// A module whose maths is written in Lua (`torch.class('nn.MyLayer', 'nn.Module')`): an
/// Engine `Module` that calls its class's `updateOutput(input)`,
/// `updateGradInput(input, gradOutput)` and `accGradParameters(input, gradOutput, scale)`.
///
/// In Lua the instance is the module's userdata, as every module is here; what a script
/// stores on `self` goes to:
/// - `self.weight`, `self.bias`: the module's `Parameter`s (the tensor assigned is copied into
///   the parameter; the same size again keeps the parameter, its gradient and its mask), so
///   optimisers, masks, pruners and model files see them;
/// - `self.gradWeight`, `self.gradBias`: copied into those parameters' gradients;
/// - `self.output`, `self.gradInput`: the module's `output` and `gradInput`;
/// - anything else: the instance's own field table, kept by this object.
/// Reads look there first, then in the class and its parents.
///
/// The Lua results are checked: `updateOutput` must return a tensor, `updateGradInput` a
/// tensor of the input's size; errors name the module, the method and where it is defined.
/// Lua code calling back runs on the Lua thread that is running (a coroutine's when one
/// drives the model), or the main thread when Swift calls with no Lua code running.
final class LuaModule: Module {
    /// Where Lua modules come from in a `ModuleSpec`.
    static let origin = "Lua"

    let type: LuaModuleType
    /// Keeps the state's context (and so its `isClosed` flag) alive as long as the module.
    private let context: LuaContext
    /// Registry reference of the instance's field table.
    private let fields: Int32
    /// The constructor's arguments when they were all numbers: the spec's `args`.
    let arguments: [Double]
    /// Why the module cannot be rebuilt from its spec (a constructor argument that is not a
    /// number), or nil.
    let unsavableReason: String?
    private var weightParameter: Parameter?
    private var biasParameter: Parameter?

    init(type: LuaModuleType, context: LuaContext, fields: Int32, arguments: [Double], unsavableReason: String?) {
        self.type = type
        self.context = context
        self.fields = fields
        self.arguments = arguments
        self.unsavableReason = unsavableReason
        super.init()
    }

    deinit {
        if let L = context.callThread { luaL_unref(L, wb_registryindex(), fields) }
    }

    override var typeName: String { type.name }
    override var parameters: [Parameter] { [weightParameter, biasParameter].compactMap { $0 } }
    override var weight: Parameter? { weightParameter }
    override var bias: Parameter? { biasParameter }
    override var spec: ModuleSpec { ModuleSpec(type: typeName, args: arguments, definedIn: Self.origin) }
    override var description: String { typeName }

    // MARK: the three propagations

    /// output = self:updateOutput(input), which must be a tensor.
    override func updateOutput(_ input: Tensor) throws -> Tensor {
        let t = try callReturningTensor("updateOutput", [.tensor(input)], what: "the output tensor (self.output)")
        setOutput(t)
        return t
    }

    /// gradInput = self:updateGradInput(input, gradOutput) = ∂L/∂input, of the input's size.
    override func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        let t = try callReturningTensor("updateGradInput", [.tensor(input), .tensor(gradOutput)],
                                        what: "the gradient with respect to the input (self.gradInput)")
        guard t.shape == input.shape else {
            throw EngineError("\(typeName):updateGradInput\(type.definedAt("updateGradInput")) returned a gradInput of size \(shapeString(t.shape)) for an input of size \(shapeString(input.shape)); they must be the same")
        }
        setGradInput(t)
        return t
    }

    /// self:accGradParameters(input, gradOutput, scale): gradWeight += scale · ∂L/∂weight (and
    /// the bias); a class without the method has nothing to accumulate.
    override func accGradParameters(_ input: Tensor, _ gradOutput: Tensor, scale: Float) throws {
        _ = try call("accGradParameters", [.tensor(input), .tensor(gradOutput), .number(Double(scale))], required: false)
    }

    /// self:reset(): the class's own initialisation. (The Engine's `reset(_:)`, given a
    /// generator, leaves a Lua module alone: Lua code draws from torch's generator, which
    /// cannot be lent to the Engine while Lua runs; `m:reset()` in Lua calls this.)
    func resetFromLua() throws {
        _ = try call("reset", [], required: false)
    }

    // MARK: calling Lua

    private func callReturningTensor(_ method: String, _ arguments: [LuaValue], what: String) throws -> Tensor {
        let result = try call(method, arguments, required: true)
        guard case .tensor(let t) = result else {
            let got = result.isNil ? "nothing (nil)" : result.description
            throw EngineError("\(typeName):\(method)\(type.definedAt(method)) must return \(what), it returned \(got)")
        }
        return t
    }

    /// Calls `self:<method>(arguments...)` under the traceback handler and gives its first
    /// result; a missing method is an error when `required`, else gives nil.
    func call(_ method: String, _ arguments: [LuaValue], required: Bool) throws -> LuaValue {
        try call(method, required: required) { L in
            for a in arguments { a.push(L) }
            return Int32(arguments.count)
        }
    }

    /// The same with arguments pushed by `pushArguments` (which returns how many it pushed).
    func call(_ method: String, required: Bool, pushArguments: (OpaquePointer) throws -> Int32) throws -> LuaValue {
        guard let L = context.callThread else {
            throw EngineError("\(typeName): the Lua state that defined it is closed; a Lua module works only while its LuaRuntime lives")
        }
        guard lua_checkstack(L, 24) != 0 else { throw EngineError("Lua stack overflow calling \(typeName):\(method)") }
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        wb_pushmsghandler(L)
        guard type.pushMethod(L, method) else {
            if required {
                throw EngineError("\(typeName) has no \(method) method: define function \(type.shortName):\(method)(...) in its class")
            }
            return .nil
        }
        LuaObjects.push(L, self, className: ModuleBindings.className)
        let n = try pushArguments(L)
        let status = wb_pcall(L, n + 1, 1, top + 1)
        guard status == LUA_OK else {
            let raw = wb_tostring(L, -1).map { String(cString: $0) } ?? "(error object is not a string)"
            throw LuaError(kind: .runtime, raw: "\(typeName):\(method): " + raw, cause: context.interruption)
        }
        return LuaValue(L, -1)
    }

    // MARK: fields

    /// Keys the module itself answers (its parameters, buffers and state), read and written
    /// through `ModuleBindings`.
    static let engineKeys: Set<String> = ["weight", "gradWeight", "bias", "gradBias", "mask", "output", "gradInput",
                                         "train", "__typename", "modules", "learningRateScale"]

    /// `self[key]` for a key the module does not answer itself: the instance's field, else the
    /// class's (methods included); pushes it and returns true, or pushes nothing and returns
    /// false when neither has it.
    func pushField(_ call: LuaCall) -> Bool {
        let L = call.L
        if call.isString(2), Self.engineKeys.contains((try? call.string(2)) ?? "") { return false }
        lua_rawgeti(L, wb_registryindex(), lua_Integer(fields))
        lua_pushvalue(L, 2)
        if lua_rawget(L, -2) != LUA_TNIL {
            wb_remove(L, -2)
            return true
        }
        wb_pop(L, 2)
        if call.isString(2), type.pushMethod(L, (try? call.string(2)) ?? "") { return true }
        return false
    }

    /// `self[key] = value` (self at 1, key at 2, value at 3). Returns false for the keys
    /// `ModuleBindings` handles for every module (`train`, `learningRateScale`, ...).
    func setField(_ call: LuaCall) throws -> Bool {
        let L = call.L
        if call.isString(2) {
            let key = try call.string(2)
            switch key {
            case "weight", "bias":
                try setParameter(key, call)
                return true
            case "gradWeight", "gradBias":
                let name = key == "gradWeight" ? "weight" : "bias"
                guard let p = name == "weight" ? weightParameter : biasParameter else {
                    throw LuaArgumentError("\(typeName): set self.\(name) before self.\(key)")
                }
                guard let t: Tensor = call.object(3, TensorBindings.className), t.count == p.grad.count else {
                    throw LuaArgumentError("\(typeName): self.\(key) must be a tensor of the size of self.\(name) (\(shapeString(p.value.shape))), got \(call.typeName(3))")
                }
                if t !== p.grad { p.grad.copy(from: t) }
                return true
            case "output", "gradInput":
                let t: Tensor
                if call.isNoneOrNil(3) { t = Tensor() } else {
                    guard let x: Tensor = call.object(3, TensorBindings.className) else {
                        throw LuaArgumentError("\(typeName): self.\(key) must be a tensor, got \(call.typeName(3))")
                    }
                    t = x
                }
                if key == "output" { setOutput(t) } else { setGradInput(t) }
                return true
            case let k where Self.engineKeys.contains(k):
                return false
            default:
                break
            }
        }
        lua_rawgeti(L, wb_registryindex(), lua_Integer(fields))
        lua_pushvalue(L, 2)
        lua_pushvalue(L, 3)
        lua_rawset(L, -3)
        wb_pop(L, 1)
        return true
    }

    /// `self.weight = t` / `self.bias = t` (nil removes the parameter).
    private func setParameter(_ name: String, _ call: LuaCall) throws {
        let current = name == "weight" ? weightParameter : biasParameter
        var next: Parameter?
        if !call.isNoneOrNil(3) {
            guard let t: Tensor = call.object(3, TensorBindings.className) else {
                throw LuaArgumentError("\(typeName): self.\(name) must be a tensor, got \(call.typeName(3))")
            }
            if let p = current, p.value.shape == t.shape {
                if t !== p.value { p.value.copy(from: t) }
                p.applyMask()
                next = p
            } else {
                let p = Parameter(name: name, shape: t.shape)
                p.value.copy(from: t)
                next = p
            }
        }
        if name == "weight" { weightParameter = next } else { biasParameter = next }
    }
}

/// Walks a model for Lua modules that cannot be rebuilt from their spec (saving, cloning).
enum LuaModules {
    static func checkRebuildable(_ m: Module, for what: String) throws {
        if let s = m as? Container { for c in s.modules { try checkRebuildable(c, for: what) } }
        if let l = m as? LuaModule, let reason = l.unsavableReason {
            throw EngineError("cannot \(what) \(l.typeName): \(reason); only a Lua module constructed from numbers can be rebuilt from its architecture")
        }
    }

    /// m:reset() for a tree: Lua modules run their class's reset, the others the Engine's.
    static func reset(_ m: Module) throws {
        if let s = m as? Container {
            for c in s.modules { try reset(c) }
        } else if let l = m as? LuaModule {
            try l.resetFromLua()
        } else {
            m.reset(&GlobalRandom.generator)
        }
    }
}
