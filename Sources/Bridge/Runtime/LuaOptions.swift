import CLua
import Engine

/// Reads an options table argument (`wb.train(model, data, {epochs = 3, lr = 0.01})`) with
/// raw access (no metamethods, so nothing can raise). Unknown keys are reported, so that a
/// typo (`{epoch = 3}`) is an error rather than silently ignored.
public struct LuaOptions {
    let call: LuaCall
    /// Stack index of the table, or nil when the argument was absent.
    let index: Int32?
    let allowed: Set<String>

    /// The table at argument `i` (nil or absent is an empty set of options).
    public init(_ call: LuaCall, _ i: Int, allowed: [String]) throws {
        self.call = call
        self.allowed = Set(allowed)
        if call.isNoneOrNil(i) {
            index = nil
            return
        }
        guard call.isTable(i) else { throw call.typeError(i, expected: "table of options") }
        index = Int32(i)
        try checkKeys(i)
    }

    private func checkKeys(_ i: Int) throws {
        let L = call.L
        lua_pushnil(L)
        while lua_next(L, Int32(i)) != 0 {
            defer { wb_pop(L, 1) }
            guard lua_type(L, -2) == LUA_TSTRING, let k = wb_tostring(L, -2).map({ String(cString: $0) }) else {
                wb_pop(L, 1)
                throw call.argumentError(i, "option keys must be strings")
            }
            if !allowed.contains(k) {
                wb_pop(L, 2)
                throw call.argumentError(i, "unknown option '\(k)' (known: \(allowed.sorted().joined(separator: ", ")))")
            }
        }
    }

    /// Pushes t[key] and returns its Lua type; the caller pops it.
    private func push(_ key: String) -> Int32 {
        guard let index else { lua_pushnil(call.L); return LUA_TNIL }
        lua_pushstring(call.L, key)
        return lua_rawget(call.L, index)
    }

    public func number(_ key: String) throws -> Double? {
        let t = push(key)
        defer { wb_pop(call.L, 1) }
        if t == LUA_TNIL { return nil }
        guard t == LUA_TNUMBER else { throw call.error("option '\(key)' must be a number, got \(call.typeName(-1))") }
        return lua_tonumberx(call.L, -1, nil)
    }

    public func number(_ key: String, default d: Double) throws -> Double { try number(key) ?? d }

    public func integer(_ key: String, default d: Int, atLeast minimum: Int = Int.min) throws -> Int {
        guard let x = try number(key) else { return d }
        guard x.rounded() == x, abs(x) < 9_007_199_254_740_992 else { throw call.error("option '\(key)' must be an integer, got \(x)") }
        guard Int(x) >= minimum else { throw call.error("option '\(key)' must be at least \(minimum), got \(Int(x))") }
        return Int(x)
    }

    public func boolean(_ key: String, default d: Bool) throws -> Bool { try boolean(key) ?? d }

    /// The boolean under `key`, or nil when absent.
    public func boolean(_ key: String) throws -> Bool? {
        let t = push(key)
        defer { wb_pop(call.L, 1) }
        if t == LUA_TNIL { return nil }
        guard t == LUA_TBOOLEAN else { throw call.error("option '\(key)' must be a boolean, got \(call.typeName(-1))") }
        return lua_toboolean(call.L, -1) != 0
    }

    public func string(_ key: String) throws -> String? {
        let t = push(key)
        defer { wb_pop(call.L, 1) }
        if t == LUA_TNIL { return nil }
        guard t == LUA_TSTRING, let s = wb_tostring(call.L, -1) else {
            throw call.error("option '\(key)' must be a string, got \(call.typeName(-1))")
        }
        return String(cString: s)
    }

    /// The object of class `className` under `key`, if any.
    public func object<T: AnyObject>(_ key: String, _ className: String, expected: String) throws -> T? {
        let t = push(key)
        defer { wb_pop(call.L, 1) }
        if t == LUA_TNIL { return nil }
        guard let o: T = call.object(-1, className) else {
            throw call.error("option '\(key)' must be \(expected), got \(call.typeName(-1))")
        }
        return o
    }

    /// Pushes the table under `key` and returns its stack index (the caller pops it), or nil
    /// when absent.
    public func tableIndex(_ key: String) throws -> Int? {
        let t = push(key)
        if t == LUA_TNIL { wb_pop(call.L, 1); return nil }
        guard t == LUA_TTABLE else {
            defer { wb_pop(call.L, 1) }
            throw call.error("option '\(key)' must be a table, got \(call.typeName(-1))")
        }
        return Int(lua_gettop(call.L))
    }

    /// A callback under `key`, left on the stack for `LuaCallback` (nil when absent).
    public func function(_ key: String) throws -> LuaCallback? {
        let t = push(key)
        if t == LUA_TNIL { wb_pop(call.L, 1); return nil }
        guard t == LUA_TFUNCTION else {
            defer { wb_pop(call.L, 1) }
            throw call.error("option '\(key)' must be a function, got \(call.typeName(-1))")
        }
        return LuaCallback(call: call, index: lua_gettop(call.L), name: key)
    }
}

/// A Lua function on the stack of the current call, called from Swift under `lua_pcall` with
/// the traceback handler. An error inside it is thrown as a `LuaError` that the trampoline
/// re-raises unchanged, so the script sees the callback's own message and position.
public struct LuaCallback {
    let call: LuaCall
    let index: Int32
    let name: String

    /// Calls the function with one table argument built from `fields`.
    public func callAsFunction(_ fields: [String: LuaValue]) throws {
        let L = call.L
        guard lua_checkstack(L, 8) != 0 else { throw call.error("Lua stack overflow calling \(name)") }
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        wb_pushmsghandler(L)
        lua_pushvalue(L, index)
        LuaValue.record(fields).push(L)
        let status = wb_pcall(L, 1, 0, top + 1)
        if status != LUA_OK {
            let raw = wb_tostring(L, -1).map { String(cString: $0) } ?? "(error object is not a string)"
            throw LuaError(kind: .runtime, raw: raw)
        }
    }
}

extension LuaCall {
    /// The string-keyed entries of the table at `i` as text (numbers and booleans converted),
    /// sorted by key. Raw access only.
    public func stringPairs(_ i: Int) throws -> [(String, String)] {
        guard isTable(i) else { throw typeError(i, expected: "table") }
        var out: [(String, String)] = []
        lua_pushnil(L)
        while lua_next(L, Int32(i)) != 0 {
            defer { wb_pop(L, 1) }
            guard lua_type(L, -2) == LUA_TSTRING, let k = wb_tostring(L, -2).map({ String(cString: $0) }) else {
                wb_pop(L, 1)
                throw argumentError(i, "keys must be strings")
            }
            switch lua_type(L, -1) {
            case LUA_TSTRING: out.append((k, String(cString: wb_tostring(L, -1)!)))
            case LUA_TNUMBER:
                let x = lua_tonumberx(L, -1, nil)
                out.append((k, x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)))
            case LUA_TBOOLEAN: out.append((k, lua_toboolean(L, -1) != 0 ? "true" : "false"))
            default:
                wb_pop(L, 1)
                throw argumentError(i, "value of '\(k)' must be a string or a number")
            }
        }
        return out.sorted { $0.0 < $1.0 }
    }
}
