import CLua
import Engine

/// A Swift function callable from Lua. It reads its arguments through `call`, pushes its
/// results and returns how many it pushed. It reports failure by throwing; it must never
/// raise a Lua error itself (no `lua_error`, no `luaL_check*`): the C trampoline raises the
/// thrown error once the Swift frame has returned.
public typealias LuaFunction = (LuaCall) throws -> Int

/// Per-state data reachable from a bare `lua_State` (through its extra space): the table of
/// Swift functions the trampoline dispatches to, and named values binding areas keep.
public final class LuaContext {
    struct Entry {
        let name: String
        let isMethod: Bool
        let body: LuaFunction
    }

    var functions: [Entry] = []
    /// Values a binding area wants to find again from inside its functions (e.g. settings of
    /// the command line). Keyed by a name the area chooses.
    public var userInfo: [String: Any] = [:]
    /// The directory of `scripts/` (model definitions, drivers) when known.
    public internal(set) var scriptsDirectory: String?
    /// An `Interrupted` a binding raised into Lua during the running chunk: the cause given
    /// to the chunk's `LuaError` (Lua itself carries only the message).
    var interruption: Interrupted?
    /// The state's main thread, and the thread whose Swift function is running (a coroutine's
    /// when one called it): Swift code calling back into Lua (a Lua module's methods) runs on
    /// the running thread, or on the main one when no Lua code is running.
    var mainThread: OpaquePointer?
    var runningThread: OpaquePointer?
    /// Set when the runtime closes its state: Lua references kept by Swift objects that outlive
    /// it (a Lua module in a model) are dead from then on.
    public internal(set) var isClosed = false
    /// The module classes scripts defined (`torch.class`), for `ModelFile.load` and clones.
    public let moduleTypes = ModuleTypeRegistry()

    init() {}

    /// The thread Swift code should call Lua on now, or nil once the state is closed.
    var callThread: OpaquePointer? { isClosed ? nil : runningThread ?? mainThread }

    /// The context of the state `L` belongs to (coroutines share their main state's).
    static func of(_ L: OpaquePointer) -> LuaContext {
        let raw = wb_getextraspace(L)!.load(as: UnsafeRawPointer.self)
        return Unmanaged<LuaContext>.fromOpaque(raw).takeUnretainedValue()
    }
}

/// The one Swift entry point Lua calls, through `wb_trampoline`: upvalue 2 is the index of
/// the Swift function in the state's function table. Catches every Swift error, pushes its
/// message, and returns the sentinel that makes the trampoline raise it in C.
private let luaDispatch: @convention(c) (OpaquePointer?) -> Int32 = { state in
    let L = state!
    let context = LuaContext.of(L)
    let index = Int(lua_tointegerx(L, wb_upvalueindex(2), nil))
    let entry = context.functions[index]
    let call = LuaCall(L, name: entry.name, isMethod: entry.isMethod)
    let outerThread = context.runningThread
    context.runningThread = L
    defer { context.runningThread = outerThread }
    do {
        let n = try entry.body(call)
        return Int32(n)
    } catch let error as LuaError {
        // Already placed and traced by Lua (an error inside a callback): raise it unchanged.
        if let i = error.cause as? Interrupted { context.interruption = i }
        lua_settop(L, 0)
        lua_pushstring(L, error.raw)
        return wb_raise_as_is()
    } catch {
        if let i = error as? Interrupted { context.interruption = i }
        lua_settop(L, 0)
        lua_pushstring(L, luaMessage(for: error))
        return wb_raise_with_position()
    }
}

/// The text of a Swift error as a Lua script sees it.
func luaMessage(for error: Error) -> String {
    switch error {
    case let e as EngineError: return e.message
    case let e as LuaArgumentError: return e.description
    case let e as CustomStringConvertible: return e.description
    default: return String(describing: error)
    }
}

extension LuaContext {
    /// Pushes a Lua function (a trampoline closure) that calls `body`. `name` is used in
    /// argument errors; for a method (`isMethod`), argument 1 is `self` and the numbering in
    /// messages starts at the first argument after it, as Lua's `luaL_argerror` does.
    func pushFunction(_ L: OpaquePointer, name: String, isMethod: Bool = false, _ body: @escaping LuaFunction) {
        functions.append(Entry(name: name, isMethod: isMethod, body: body))
        lua_pushinteger(L, lua_Integer(functions.count - 1))
        wb_pushswiftfunction(L, luaDispatch, 1)
    }
}
