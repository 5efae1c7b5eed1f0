import CLua

/// A userdata class: the metatable registered under `name`, with methods (`obj:method()`),
/// metamethods (`__tostring`, `__add`, `__len`, ...), and optional field access.
///
/// Lookup order for `obj[key]`: a method named `key`; then `getField` (which may push a value
/// and return 1, or return 0 to decline); then, when `allowsCustomFields`, the fields a script
/// stored on this object; else nil.
public struct LuaClass {
    public let name: String
    public var methods: [String: LuaFunction]
    public var metamethods: [String: LuaFunction]
    /// `obj[key]` for a key that is not a method: self at 1, key at 2.
    public var getField: LuaFunction?
    /// `obj[key] = value`: self at 1, key at 2, value at 3. Returns 1 when it stored the
    /// value, 0 to decline (then the value goes to the custom fields, or an error is raised).
    public var setField: LuaFunction?
    /// Scripts may store their own fields on the object (`model.name = 'lenet'`), as on
    /// Torch's table-based objects.
    public var allowsCustomFields: Bool

    public init(name: String, methods: [String: LuaFunction] = [:], metamethods: [String: LuaFunction] = [:],
                getField: LuaFunction? = nil, setField: LuaFunction? = nil, allowsCustomFields: Bool = false) {
        self.name = name
        self.methods = methods
        self.metamethods = metamethods
        self.getField = getField
        self.setField = setField
        self.allowsCustomFields = allowsCustomFields
    }

    /// Creates the metatable in the registry of the state.
    func install(_ L: OpaquePointer, _ context: LuaContext) {
        luaL_newmetatable(L, name)                              // [mt]
        let mt = lua_gettop(L)
        func set(_ key: String) {                                // mt[key] = top
            lua_pushstring(L, key)
            wb_insert(L, -2)
            lua_rawset(L, mt)
        }
        lua_pushboolean(L, 1)
        set(LuaObjects.markerField)

        wb_newtable(L)
        for (key, body) in methods.sorted(by: { $0.key < $1.key }) {
            lua_pushstring(L, key)
            context.pushFunction(L, name: key, isMethod: true, body)
            lua_rawset(L, -3)
        }
        set("__methods")

        for (key, body) in metamethods.sorted(by: { $0.key < $1.key }) {
            context.pushFunction(L, name: key, body)
            set(key)
        }
        context.pushFunction(L, name: "__gc", LuaObjects.finalizer)
        set("__gc")
        context.pushFunction(L, name: "__close", LuaObjects.finalizer)
        set("__close")

        let className = name
        let getField = self.getField, setField = self.setField, custom = allowsCustomFields
        context.pushFunction(L, name: "__index") { call in
            let L = call.L
            if call.isString(2) {
                lua_getmetatable(L, 1)
                lua_pushstring(L, "__methods")
                lua_rawget(L, -2)
                lua_pushvalue(L, 2)
                if lua_rawget(L, -2) != LUA_TNIL { return 1 }
                lua_settop(L, 2)
            }
            if let getField {
                guard LuaObjects.object(L, 1, className) != nil else {
                    throw LuaArgumentError("attempt to index a closed \(className)")
                }
                let n = try getField(call)
                if n > 0 { return n }
                lua_settop(L, 2)
            }
            if custom, LuaObjects.pushFieldTable(L, 1, create: false) {
                lua_pushvalue(L, 2)
                lua_rawget(L, -2)
                return 1
            }
            lua_pushnil(L)
            return 1
        }
        set("__index")

        context.pushFunction(L, name: "__newindex") { call in
            let L = call.L
            guard LuaObjects.object(L, 1, className) != nil else {
                throw LuaArgumentError("attempt to index a closed \(className)")
            }
            if let setField, try setField(call) > 0 { return 0 }
            lua_settop(L, 3)
            guard custom else {
                let key = call.isString(2) ? "'\(try call.string(2))'" : "a \(call.typeName(2)) key"
                throw LuaArgumentError("cannot set \(key) on a \(className)")
            }
            _ = LuaObjects.pushFieldTable(L, 1, create: true)
            lua_pushvalue(L, 2)
            lua_pushvalue(L, 3)
            lua_rawset(L, -3)
            return 0
        }
        set("__newindex")
        wb_pop(L, 1)
    }
}
