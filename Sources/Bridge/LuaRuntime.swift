import CLua
import Engine
import Foundation

/// One Lua 5.4 interpreter with the workbench's libraries: the standard libraries, `torch`
/// (tensors) and `nn` (modules and criteria), plus whatever binding areas are listed in
/// `LuaBindingAreas.standard`.
///
/// ```swift
/// let lua = try LuaRuntime()
/// try lua.run(file: "scripts/main.lua", args: ["-l", "8"])
/// let net = try lua.model(file: "scripts/models/lenet5.lua")
/// ```
/// Lua errors come back as thrown `LuaError`s carrying `file:line:` and a traceback. Not
/// thread-safe: use one runtime per thread.
public final class LuaRuntime {
    /// The interpreter state (for binding areas; everything else goes through this class).
    public let L: OpaquePointer
    public let context: LuaContext

    /// - Parameters:
    ///   - scriptsDirectory: the repository's `scripts/` directory, searched by `require`
    ///     after the running script's own directory. Nil looks for it (see
    ///     `locateScriptsDirectory`).
    ///   - areas: the binding areas to install.
    public init(scriptsDirectory: String? = nil, areas: [LuaBindingArea.Type] = LuaBindingAreas.standard) throws {
        guard let L = wb_newstate() else { throw LuaError(kind: .other, message: "cannot create a Lua state") }
        self.L = L
        context = LuaContext()
        wb_getextraspace(L)!.storeBytes(of: UnsafeRawPointer(Unmanaged.passUnretained(context).toOpaque()),
                                        as: UnsafeRawPointer.self)
        luaL_openlibs(L)
        LuaObjects.installCache(L)
        context.scriptsDirectory = scriptsDirectory ?? LuaRuntime.locateScriptsDirectory()
        if let dir = context.scriptsDirectory { addSearchDirectory(dir) }
        for area in areas { try area.install(in: self) }
    }

    deinit {
        // Runs every pending __gc, releasing the Swift objects Lua still holds; `context`
        // stays alive until this deinit returns.
        // Values binding areas keep may hold Lua references (registered Lua pruners): they
        // must be released while the state is still open.
        context.userInfo.removeAll()
        lua_close(L)
    }

    // MARK: running code

    /// Runs a Lua file as the `lua` command does: global `arg` holds the script at 0 and the
    /// arguments at 1..n, and the chunk also receives the arguments as `...`. The script's
    /// directory is searched first by `require`. Returns what the chunk returns.
    @discardableResult
    public func run(file: String, args: [String] = []) throws -> [LuaValue] {
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        setArgTable(script: file, args: args)
        let dir = (file as NSString).deletingLastPathComponent
        addSearchDirectory(dir.isEmpty ? "." : dir)
        wb_pushmsghandler(L)
        let status = luaL_loadfilex(L, file, nil)
        guard status == LUA_OK else { throw popError(status, loading: true) }
        for a in args { lua_pushstring(L, a) }
        return try callChunk(handler: top + 1, nargs: Int32(args.count))
    }

    /// Runs Lua source. `chunkName` names it in error messages (`name:line:`).
    @discardableResult
    public func run(string source: String, chunkName: String = "string") throws -> [LuaValue] {
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        wb_pushmsghandler(L)
        let bytes = Array(source.utf8)
        let status = bytes.withUnsafeBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(b.count, 1)) {
                wb_loadbuffer(L, $0, b.count, "=" + chunkName)
            }
        }
        guard status == LUA_OK else { throw popError(status, loading: true) }
        return try callChunk(handler: top + 1, nargs: 0)
    }

    /// Runs a model-definition file (it `return`s a module, as Torch's `models/*.lua`) and
    /// gives the module.
    public func model(file: String, args: [String] = []) throws -> Module {
        let results = try run(file: file, args: args)
        guard let m = results.first?.module else {
            let got = results.first.map { "\($0)" } ?? "nothing"
            throw LuaError(kind: .runtime, message: "\(file): a model file must return an nn module, it returned \(got)")
        }
        return m
    }

    /// Calls the chunk below the `nargs` arguments under the message handler at `handler`.
    private func callChunk(handler: Int32, nargs: Int32) throws -> [LuaValue] {
        let status = wb_pcall(L, nargs, LUA_MULTRET, handler)
        guard status == LUA_OK else { throw popError(status, loading: false) }
        let n = lua_gettop(L) - handler
        return (0..<n).map { LuaValue(L, handler + 1 + $0) }
    }

    private func popError(_ status: Int32, loading: Bool) -> LuaError {
        let text = wb_tostring(L, -1).map { String(cString: $0) } ?? "(error object is not a string)"
        wb_pop(L, 1)
        let kind: LuaError.Kind
        switch status {
        case LUA_ERRSYNTAX: kind = .syntax
        case LUA_ERRFILE: kind = .file
        case LUA_ERRRUN: kind = .runtime
        default: kind = .other
        }
        return LuaError(kind: kind, raw: text)
    }

    // MARK: globals

    /// Sets global `name` (raw set: no metamethods).
    public func setGlobal(_ name: String, _ value: LuaValue) {
        lua_rawgeti(L, wb_registryindex(), lua_Integer(wb_ridx_globals()))
        lua_pushstring(L, name)
        value.push(L)
        lua_rawset(L, -3)
        wb_pop(L, 1)
    }

    /// Reads global `name` (raw get).
    public func global(_ name: String) -> LuaValue {
        lua_rawgeti(L, wb_registryindex(), lua_Integer(wb_ridx_globals()))
        lua_pushstring(L, name)
        lua_rawget(L, -2)
        let v = LuaValue(L, -1)
        wb_pop(L, 2)
        return v
    }

    private func setArgTable(script: String, args: [String]) {
        lua_createtable(L, Int32(args.count), 2)
        lua_pushstring(L, "workbench")
        lua_rawseti(L, -2, -1)
        lua_pushstring(L, script)
        lua_rawseti(L, -2, 0)
        for (i, a) in args.enumerated() {
            lua_pushstring(L, a)
            lua_rawseti(L, -2, lua_Integer(i + 1))
        }
        lua_rawgeti(L, wb_registryindex(), lua_Integer(wb_ridx_globals()))
        lua_pushstring(L, "arg")
        lua_pushvalue(L, -3)
        lua_rawset(L, -3)
        wb_pop(L, 2)
    }

    // MARK: memory

    /// Runs a full garbage collection (finalizers included).
    public func collectGarbage() { wb_gc_collect(L) }

    /// Bytes the interpreter has allocated.
    public var memoryInUse: Int { Int(wb_gc_bytes(L)) }
}
