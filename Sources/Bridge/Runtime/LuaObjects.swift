import CLua
import Engine

/// Swift objects as Lua userdata.
///
/// A userdata holds one pointer, retained with `Unmanaged.passRetained` when the userdata is
/// made, and carries the metatable registered under its class name. `__gc` and `__close`
/// release the object and clear the slot, so a second release is harmless and a use after
/// `<close>` gives a clear error instead of touching freed memory.
///
/// Pushing the same Swift object again gives back the same userdata while Lua still holds it
/// (a weak-valued cache keyed by the object's address), so `m.weight == m.weight`. Fields a
/// script sets on a module stay with the module itself (`Module.scriptFields`): a userdata made
/// again after the first was collected finds them there.
enum LuaObjects {
    typealias Slot = UnsafeMutableRawPointer?

    /// Registry key of the weak-valued table address -> userdata.
    static let cacheKey = "workbench.objectCache"
    /// Metatable field that marks the metatables this bridge made.
    static let markerField = "__workbench"

    /// Creates the object cache (once per state).
    static func installCache(_ L: OpaquePointer) {
        lua_pushstring(L, cacheKey)
        wb_newtable(L)
        wb_newtable(L)
        lua_pushstring(L, "v")
        lua_setfield(L, -2, "__mode")          // a fresh table without metatable: cannot raise
        lua_setmetatable(L, -2)
        lua_rawset(L, wb_registryindex())
    }

    /// Pushes the userdata for `object`, with the metatable of `className`.
    static func push(_ L: OpaquePointer, _ object: AnyObject, className: String) {
        let key = UnsafeRawPointer(Unmanaged.passUnretained(object).toOpaque())
        lua_pushstring(L, cacheKey)
        lua_rawget(L, wb_registryindex())     // [cache]
        if lua_rawgetp(L, -1, key) == LUA_TUSERDATA,
           let ud = lua_touserdata(L, -1),
           ud.load(as: Slot.self) == UnsafeMutableRawPointer(mutating: key) {
            wb_remove(L, -2)                    // [ud]
            return
        }
        wb_pop(L, 1)                            // [cache]
        let ud = lua_newuserdatauv(L, MemoryLayout<Slot>.size, 1)!
        ud.storeBytes(of: Unmanaged.passRetained(object).toOpaque(), as: Slot.self)
        Bridge.objectRetained()
        luaL_setmetatable(L, className)         // [cache, ud]
        if let fields = (object as? Module)?.scriptFields as? LuaReference, fields.belongs(to: L) {
            fields.push(on: L)                  // the module's fields, from its earlier userdata
            lua_setiuservalue(L, -2, 1)
        }
        lua_pushvalue(L, -1)
        lua_rawsetp(L, -3, key)                 // cache[key] = ud
        wb_remove(L, -2)                        // [ud]
    }

    /// The object in the userdata at `i` if it has the metatable `className` and is open.
    static func object(_ L: OpaquePointer, _ i: Int32, _ className: String) -> AnyObject? {
        guard let ud = luaL_testudata(L, i, className), let p = ud.load(as: Slot.self) else { return nil }
        return Unmanaged<AnyObject>.fromOpaque(p).takeUnretainedValue()
    }

    /// Whether the value at `i` is a userdata of `className` whose object was released.
    static func isClosed(_ L: OpaquePointer, _ i: Int32, _ className: String) -> Bool {
        guard let ud = luaL_testudata(L, i, className) else { return false }
        return ud.load(as: Slot.self) == nil
    }

    /// The object of any bridge userdata at `i`, whatever its class.
    static func anyObject(_ L: OpaquePointer, _ i: Int32) -> AnyObject? {
        guard isBridgeUserdata(L, i), let ud = lua_touserdata(L, i), let p = ud.load(as: Slot.self) else { return nil }
        return Unmanaged<AnyObject>.fromOpaque(p).takeUnretainedValue()
    }

    static func isBridgeUserdata(_ L: OpaquePointer, _ i: Int32) -> Bool {
        let i = lua_absindex(L, i)
        guard lua_type(L, i) == LUA_TUSERDATA, lua_getmetatable(L, i) != 0 else { return false }
        lua_pushstring(L, markerField)
        let marked = lua_rawget(L, -2) == LUA_TBOOLEAN
        wb_pop(L, 2)
        return marked
    }

    /// The class name of a bridge userdata: the Torch type name for modules and criteria
    /// (`nn.Linear`), the metatable name otherwise (`torch.FloatTensor`). Nil for other values.
    static func className(_ L: OpaquePointer, _ i: Int32) -> String? {
        let i = lua_absindex(L, i)
        guard isBridgeUserdata(L, i) else { return nil }
        if let o = anyObject(L, i) {
            if let m = o as? Module { return m.typeName }
            if let c = o as? Criterion { return c.typeName }
        }
        lua_getmetatable(L, i)
        lua_pushstring(L, "__name")
        lua_rawget(L, -2)
        let name = wb_tostring(L, -1).map { String(cString: $0) }
        wb_pop(L, 2)
        return name
    }

    /// `__gc` and `__close`: releases the object once and clears the slot.
    static let finalizer: LuaFunction = { call in
        guard call.type(1) == LUA_TUSERDATA, let ud = lua_touserdata(call.L, 1) else { return 0 }
        if let p = ud.load(as: Slot.self) {
            ud.storeBytes(of: nil, as: Slot.self)
            Unmanaged<AnyObject>.fromOpaque(p).release()
            Bridge.objectReleased()
        }
        return 0
    }

    /// Pushes the table of fields a script stored on the userdata at `i` (its user value),
    /// creating it when `create` is true; returns false (pushing nothing) when there is none.
    static func pushFieldTable(_ L: OpaquePointer, _ i: Int32, create: Bool) -> Bool {
        let i = lua_absindex(L, i)
        if lua_getiuservalue(L, i, 1) == LUA_TTABLE { return true }
        wb_pop(L, 1)
        guard create else { return false }
        wb_newtable(L)
        lua_pushvalue(L, -1)
        lua_setiuservalue(L, i, 1)
        if let module = anyObject(L, i) as? Module { module.scriptFields = LuaReference(L, lua_gettop(L)) }
        return true
    }
}
