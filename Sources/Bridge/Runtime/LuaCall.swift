import CLua
import Engine

/// The arguments of one call from Lua into Swift, and the ways to push results.
///
/// Every check here uses Lua API calls that cannot raise (`lua_type`, `lua_tonumberx` with
/// its `isnum` flag, `luaL_testudata`, raw table access) and reports a bad argument by
/// throwing `LuaArgumentError`, worded like Lua's own messages.
public struct LuaCall {
    public let L: OpaquePointer
    /// The name shown in argument errors, e.g. `add` or `torch.zeros`.
    public let functionName: String
    /// Argument 1 is `self`: messages number the arguments after it from 1.
    public let isMethod: Bool

    init(_ L: OpaquePointer, name: String, isMethod: Bool) {
        self.L = L
        functionName = name
        self.isMethod = isMethod
    }

    public var context: LuaContext { LuaContext.of(L) }

    /// Number of arguments passed (including `self` for a method).
    public var argumentCount: Int { Int(lua_gettop(L)) }

    // MARK: types

    public func type(_ i: Int) -> Int32 { lua_type(L, Int32(i)) }
    public func isNoneOrNil(_ i: Int) -> Bool { type(i) <= LUA_TNIL }
    public func isNumber(_ i: Int) -> Bool { type(i) == LUA_TNUMBER }
    public func isTable(_ i: Int) -> Bool { type(i) == LUA_TTABLE }
    public func isBoolean(_ i: Int) -> Bool { type(i) == LUA_TBOOLEAN }
    public func isString(_ i: Int) -> Bool { type(i) == LUA_TSTRING }

    /// Lua's name for the type of argument `i`, or the class name for our userdata
    /// (`torch.FloatTensor`, `nn.Linear`, ...).
    public func typeName(_ i: Int) -> String {
        if let name = LuaObjects.className(L, Int32(i)) { return name }
        return String(cString: wb_typename_at(L, Int32(i)))
    }

    // MARK: errors

    /// `bad argument #n to 'f' (message)`, numbered as the caller wrote the call.
    public func argumentError(_ i: Int, _ message: String) -> LuaArgumentError {
        if isMethod && i == 1 {
            return LuaArgumentError("calling '\(functionName)' on bad self (\(message))")
        }
        let n = isMethod ? i - 1 : i
        return LuaArgumentError("bad argument #\(n) to '\(functionName)' (\(message))")
    }

    /// `bad argument #n to 'f' (X expected, got Y)`.
    public func typeError(_ i: Int, expected: String) -> LuaArgumentError {
        let got = type(i) == LUA_TNONE ? "no value" : typeName(i)
        return argumentError(i, "\(expected) expected, got \(got)")
    }

    /// An error about the call as a whole: `f: message`.
    public func error(_ message: String) -> LuaArgumentError {
        LuaArgumentError("\(functionName): \(message)")
    }

    // MARK: reading arguments

    public func number(_ i: Int) throws -> Double {
        var isnum: Int32 = 0
        let v = lua_tonumberx(L, Int32(i), &isnum)
        guard isnum != 0, type(i) == LUA_TNUMBER else { throw typeError(i, expected: "number") }
        return v
    }

    public func optionalNumber(_ i: Int) throws -> Double? {
        isNoneOrNil(i) ? nil : try number(i)
    }

    public func float(_ i: Int) throws -> Float { Float(try number(i)) }

    /// An integral number (`3` or `3.0`), as an `Int`.
    public func integer(_ i: Int) throws -> Int {
        let v = try number(i)
        guard v.rounded() == v, Swift.abs(v) < 9_007_199_254_740_992 else {   // 2^53: exact as a double
            throw argumentError(i, "number has no integer representation")
        }
        return Int(v)
    }

    public func optionalInteger(_ i: Int) throws -> Int? {
        isNoneOrNil(i) ? nil : try integer(i)
    }

    /// An integer ≥ `minimum` (for sizes and counts).
    public func integer(_ i: Int, atLeast minimum: Int) throws -> Int {
        let v = try integer(i)
        guard v >= minimum else { throw argumentError(i, "expected an integer >= \(minimum), got \(v)") }
        return v
    }

    /// A boolean argument (`true`/`false`); nil or absent gives `defaultValue`.
    public func boolean(_ i: Int, default defaultValue: Bool) throws -> Bool {
        if isNoneOrNil(i) { return defaultValue }
        guard type(i) == LUA_TBOOLEAN else { throw typeError(i, expected: "boolean") }
        return lua_toboolean(L, Int32(i)) != 0
    }

    public func string(_ i: Int) throws -> String {
        guard type(i) == LUA_TSTRING || type(i) == LUA_TNUMBER, let s = wb_tostring(L, Int32(i)) else {
            throw typeError(i, expected: "string")
        }
        return String(cString: s)
    }

    public func optionalString(_ i: Int) throws -> String? {
        isNoneOrNil(i) ? nil : try string(i)
    }

    /// The Swift object in a userdata of class `className` at `i`, or nil if `i` holds
    /// something else.
    public func object<T: AnyObject>(_ i: Int, _ className: String, as: T.Type = T.self) -> T? {
        LuaObjects.object(L, Int32(i), className) as? T
    }

    /// Like `object` but throws a clear error when the argument is not such an object (or was
    /// closed with `<close>`).
    public func requireObject<T: AnyObject>(_ i: Int, _ className: String, expected: String, as: T.Type = T.self) throws -> T {
        if let o: T = object(i, className) { return o }
        if LuaObjects.isClosed(L, Int32(i), className) {
            throw argumentError(i, "\(expected) was closed")
        }
        throw typeError(i, expected: expected)
    }

    /// Integers of a Lua array `{a, b, ...}` at `i` (raw access, no metamethods).
    public func integerArray(_ i: Int) throws -> [Int] {
        try numberArray(i, integers: true).map { Int($0) }
    }

    /// Numbers of a Lua array `{a, b, ...}` at `i` (raw access, no metamethods); with
    /// `integers`, each must be a whole number.
    public func numberArray(_ i: Int, integers: Bool = false) throws -> [Double] {
        guard isTable(i) else { throw typeError(i, expected: "table") }
        let n = Int(lua_rawlen(L, Int32(i)))
        var out: [Double] = []
        out.reserveCapacity(n)
        for k in stride(from: 1, through: n, by: 1) {
            lua_rawgeti(L, Int32(i), lua_Integer(k))
            defer { wb_pop(L, 1) }
            var isnum: Int32 = 0
            let v = lua_tonumberx(L, -1, &isnum)
            guard isnum != 0, lua_type(L, -1) == LUA_TNUMBER, !integers || v.rounded() == v else {
                throw argumentError(i, "entry \(k) of the table is not \(integers ? "an integer" : "a number")")
            }
            out.append(v)
        }
        return out
    }

    // MARK: pushing results

    public func pushNil() { lua_pushnil(L) }
    public func push(_ v: Double) { lua_pushnumber(L, v) }
    public func push(_ v: Float) { lua_pushnumber(L, Double(v)) }
    public func push(_ v: Int) { lua_pushinteger(L, lua_Integer(v)) }
    public func push(_ v: Bool) { lua_pushboolean(L, v ? 1 : 0) }
    public func push(_ v: String) { lua_pushstring(L, v) }
    /// Pushes a Swift object as a userdata of class `className` (registered with
    /// `LuaRuntime.register(_:)`); the same object gives the same userdata while Lua holds it.
    public func pushObject(_ object: AnyObject, className: String) {
        LuaObjects.push(L, object, className: className)
    }

    /// Copies the value at `i` to the top (e.g. to return `self`).
    public func pushValue(at i: Int) { lua_pushvalue(L, Int32(i)) }

    /// Pushes a new table holding `values` at 1...n.
    public func pushArray<T>(_ values: [T], _ pushOne: (T) -> Void) throws {
        try ensureStack(2)
        lua_createtable(L, Int32(values.count), 0)
        for (k, v) in values.enumerated() {
            pushOne(v)
            lua_rawseti(L, -2, lua_Integer(k + 1))
        }
    }

    /// Makes room for `n` more values on the stack, or throws.
    public func ensureStack(_ n: Int) throws {
        guard lua_checkstack(L, Int32(n)) != 0 else { throw error("Lua stack overflow") }
    }
}
