import CLua
import Engine

/// A module class a script defined with `torch.class('nn.MyLayer', 'nn.Module')`: the Lua
/// class table (kept in the registry) and how to build instances of it, from Lua
/// (`nn.MyLayer(3, 4)`) or from a model file's architecture (`ModuleFactory`, through the
/// runtime's `ModuleTypeRegistry`).
final class LuaModuleType: ExternalModuleType {
    /// "nn.MyLayer"
    let name: String
    /// The context owns the registry holding this type: not retained, to make no cycle.
    private weak var context: LuaContext?
    private let classReference: Int32

    /// The class table at argument `i` of `call`.
    init(name: String, classAt i: Int, _ call: LuaCall) {
        self.name = name
        context = call.context
        lua_pushvalue(call.L, Int32(i))
        classReference = luaL_ref(call.L, wb_registryindex())
    }

    deinit {
        if let L = context?.callThread { luaL_unref(L, wb_registryindex(), classReference) }
    }

    /// "MyLayer": the name a script gives the class table (`local MyLayer = torch.class(...)`).
    var shortName: String { String(name.split(separator: ".").last ?? Substring(name)) }

    /// Pushes `class[method]`, looked up in the class and its parents (raw reads, following
    /// the `__index` tables of their metatables), and returns true when it is a function;
    /// else pushes nothing and returns false.
    func pushMethod(_ L: OpaquePointer, _ method: String) -> Bool {
        lua_rawgeti(L, wb_registryindex(), lua_Integer(classReference))     // [class]
        for _ in 0..<64 {
            lua_pushstring(L, method)
            if lua_rawget(L, -2) != LUA_TNIL {                              // [class, value]
                wb_remove(L, -2)
                if lua_type(L, -1) == LUA_TFUNCTION { return true }
                wb_pop(L, 1)
                return false
            }
            wb_pop(L, 1)                                                    // [class]
            guard lua_getmetatable(L, -1) != 0 else { break }              // [class, mt]
            lua_pushstring(L, "__index")
            let kind = lua_rawget(L, -2)                                    // [class, mt, parent]
            wb_remove(L, -2)
            wb_remove(L, -2)                                                // [parent]
            guard kind == LUA_TTABLE else { break }
        }
        wb_pop(L, 1)
        return false
    }

    /// " (defined at file:line)" for the class's `method`, or "" when unknown.
    func definedAt(_ method: String) -> String {
        guard let L = context?.callThread, lua_checkstack(L, 4) != 0 else { return "" }
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        guard pushMethod(L, method) else { return "" }
        var ar = lua_Debug()
        guard lua_getinfo(L, ">S", &ar) != 0, ar.linedefined > 0 else { return "" }
        let source = withUnsafeBytes(of: &ar.short_src) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        return " (defined at \(source):\(ar.linedefined))"
    }

    // MARK: building

    /// A new instance: an empty field table, then `self:__init(arguments...)` with the
    /// arguments `pushArguments` pushes. `recorded` are the spec's arguments.
    func construct(recorded: [Double], unsavableReason: String?,
                   pushArguments: (OpaquePointer) throws -> Int32) throws -> LuaModule {
        guard let context, let L = context.callThread else {
            throw EngineError("\(name): the Lua state that defined it is closed")
        }
        guard lua_checkstack(L, 4) != 0 else { throw EngineError("Lua stack overflow building \(name)") }
        lua_createtable(L, 0, 4)
        let fields = luaL_ref(L, wb_registryindex())
        let m = LuaModule(type: self, context: context, fields: fields, arguments: recorded, unsavableReason: unsavableReason)
        _ = try m.call("__init", required: false, pushArguments: pushArguments)
        return m
    }

    /// `nn.MyLayer(...)` in Lua: the arguments are passed to `__init` as they are; they are
    /// recorded for the architecture when all are numbers (trailing nils aside).
    var constructor: LuaFunction {
        { [unowned self] call in
            let n = call.argumentCount
            try call.ensureStack(n + 8)
            var last = n
            while last >= 1 && call.isNoneOrNil(last) { last -= 1 }
            var numbers: [Double] = [], reason: String?
            for i in stride(from: 1, through: last, by: 1) {
                if call.isNumber(i) { numbers.append(try call.number(i)) } else if reason == nil {
                    reason = "argument \(i) of its constructor is a \(call.typeName(i))"
                }
            }
            let m = try self.construct(recorded: reason == nil ? numbers : [], unsavableReason: reason) { L in
                for i in stride(from: 1, through: n, by: 1) { lua_pushvalue(L, Int32(i)) }
                return Int32(n)
            }
            call.push(m as Module)
            return 1
        }
    }

    /// Checks a spec's arguments (numbers, no options, no children) and builds one module to
    /// learn the shapes of its parameters: a Lua constructor is the only place they are known.
    func tensors(of spec: ModuleSpec) throws -> [(name: String, shape: [Int], isParameter: Bool)] {
        let m = try build(spec)
        return m.parameters.map { ($0.name, $0.value.shape, true) }
    }

    func build(_ spec: ModuleSpec) throws -> Module {
        guard (spec.options ?? [:]).isEmpty else {
            throw EngineError("a module defined in Lua takes no options, the architecture gives \(spec.options!.keys.sorted().prefix(4).joined(separator: ", "))")
        }
        if let bad = spec.args.firstIndex(where: { !$0.isFinite }) {
            throw EngineError("argument \(bad + 1) must be a finite number, got \(spec.args[bad])")
        }
        guard spec.args.count <= 64 else { throw EngineError("takes at most 64 arguments, the architecture gives \(spec.args.count)") }
        return try construct(recorded: spec.args, unsavableReason: nil) { L in
            for x in spec.args { lua_pushnumber(L, x) }
            return Int32(spec.args.count)
        }
    }
}
