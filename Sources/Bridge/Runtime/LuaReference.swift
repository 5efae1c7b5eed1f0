import CLua
import Engine

/// A Lua value kept alive in the registry (luaL_ref) for as long as this Swift object lives,
/// so that a Swift closure can call a Lua function later (a pruner registered by a script).
///
/// Calls run on the thread whose Swift function is running now (a coroutine's, when a script
/// drives training from one), not on the thread that made the reference, which may be gone.
final class LuaReference {
    private let context: LuaContext
    private let ref: Int32

    init(_ call: LuaCall, _ i: Int) {
        context = LuaContext.of(call.L)
        lua_pushvalue(call.L, Int32(i))
        ref = luaL_ref(call.L, wb_registryindex())
    }

    /// A reference to the value at `i` of `L`'s stack.
    init(_ L: OpaquePointer, _ i: Int32) {
        context = LuaContext.of(L)
        lua_pushvalue(L, i)
        ref = luaL_ref(L, wb_registryindex())
    }

    /// Whether the value lives in the state of `L` (and that state is open).
    func belongs(to L: OpaquePointer) -> Bool { !context.isClosed && context === LuaContext.of(L) }

    deinit { if let L = context.callThread { luaL_unref(L, wb_registryindex(), ref) } }

    /// The thread to call on now; an error once the runtime has closed.
    private var L: OpaquePointer {
        get throws {
            guard let L = context.callThread else { throw EngineError("the Lua runtime this function belongs to has closed") }
            return L
        }
    }

    /// Pushes the value onto `L`'s stack.
    func push(on L: OpaquePointer) { lua_rawgeti(L, wb_registryindex(), lua_Integer(ref)) }

    /// Calls the function with one table argument built from `fields` (a hook), under the
    /// traceback handler; an error inside it is thrown as the script's own `LuaError`.
    func call(name: String, _ fields: [String: LuaValue]) throws {
        let L = try L
        guard lua_checkstack(L, 8) != 0 else { throw EngineError("Lua stack overflow calling \(name)") }
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        wb_pushmsghandler(L)
        push(on: L)
        LuaValue.record(fields).push(L)
        try check(L, wb_pcall(L, 1, 0, top + 1))
    }

    /// Calls the function with number arguments and returns the number it returns.
    func callReturningNumber(name: String, _ arguments: [Double]) throws -> Double {
        let L = try L
        guard lua_checkstack(L, Int32(arguments.count) + 4) != 0 else { throw EngineError("Lua stack overflow calling \(name)") }
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        wb_pushmsghandler(L)
        push(on: L)
        for a in arguments { lua_pushnumber(L, a) }
        try check(L, wb_pcall(L, Int32(arguments.count), 1, top + 1))
        guard lua_type(L, -1) == LUA_TNUMBER else {
            throw EngineError("\(name) must return a number, it returned \(LuaValue(L, -1))")
        }
        return lua_tonumberx(L, -1, nil)
    }

    private func check(_ L: OpaquePointer, _ status: Int32) throws {
        if status != LUA_OK {
            let raw = wb_tostring(L, -1).map { String(cString: $0) } ?? "(error object is not a string)"
            throw LuaError(kind: .runtime, raw: raw)
        }
    }

    /// Calls the function with `argument` (pushed as a bridge object of `className`) under the
    /// traceback handler, and returns the tensor it returns.
    func callReturningTensor(name: String, argument: AnyObject, className: String) throws -> Tensor {
        let L = try L
        guard lua_checkstack(L, 4) != 0 else { throw EngineError("Lua stack overflow calling pruner \(name)") }
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        wb_pushmsghandler(L)
        lua_rawgeti(L, wb_registryindex(), lua_Integer(ref))
        LuaValue.object(argument, className: className).push(L)
        try check(L, wb_pcall(L, 1, 1, top + 1))
        guard case .tensor(let t) = LuaValue(L, -1) else {
            throw EngineError("pruner \(name) must return a tensor of scores, it returned \(LuaValue(L, -1))")
        }
        return t
    }
}
