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
        context.mainThread = L
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
        context.isClosed = true
        wb_close(L)
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
    /// A failed chunk's error gets as its `cause` the `Interrupted` a binding raised while it
    /// ran (a nested chunk's is handed on by the binding that ran it).
    private func callChunk(handler: Int32, nargs: Int32) throws -> [LuaValue] {
        let outer = context.interruption
        context.interruption = nil
        defer { context.interruption = outer }
        let status = wb_pcall(L, nargs, LUA_MULTRET, handler)
        guard status == LUA_OK else { throw popError(status, loading: false, cause: context.interruption) }
        let n = lua_gettop(L) - handler
        return (0..<n).map { LuaValue(L, handler + 1 + $0) }
    }

    private func popError(_ status: Int32, loading: Bool, cause: (any Error)? = nil) -> LuaError {
        var text = wb_tostring(L, -1).map { String(cString: $0) } ?? "(error object is not a string)"
        wb_pop(L, 1)
        if wb_take_cap_hit(L) != 0, text.hasPrefix("not enough memory") {
            text += " (the script went over the Lua memory cap of \(Self.megabytes(memoryCap)) MB, -luaMemory; 0 = no cap)"
        }
        let kind: LuaError.Kind
        switch status {
        case LUA_ERRSYNTAX: kind = .syntax
        case LUA_ERRFILE: kind = .file
        case LUA_ERRRUN: kind = .runtime
        default: kind = .other
        }
        return LuaError(kind: kind, raw: text, cause: cause)
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

    // MARK: limits

    /// The most bytes Lua's own allocations (tables, strings, closures, userdata headers) may
    /// take while Lua code runs; 0 (the default) is no cap. Over it, the allocation fails and
    /// the script gets Lua's ordinary "not enough memory" error (which `pcall` can catch).
    /// Tensors are Engine (Swift) memory and are not counted; neither is what Swift code
    /// allocates in Lua on a script's behalf (it never fails: the cap is checked at the next
    /// allocation the script makes).
    public var memoryCap: Int {
        get { Int(wb_memory_cap(L)) }
        set { wb_set_memory_cap(L, size_t(max(0, newValue))) }
    }

    /// Starts a time limit of `seconds` from now for the Lua code of this runtime (nil or 0
    /// removes it). Once it has passed, the running script gets the error "script exceeded the
    /// time limit of S s (-luaTimeout)" at its next Lua instruction, and at every one after
    /// that, so `pcall` cannot keep it running. A long Engine call (`wb.train`, a pruner) is
    /// not interrupted: the limit strikes when it returns to Lua, or in its callbacks.
    public func setTimeLimit(seconds: Double?) {
        wb_set_time_limit(L, seconds ?? 0)
    }

    /// Whether the time limit has passed.
    public var timeLimitExpired: Bool { wb_time_expired(L) != 0 }

    static func megabytes(_ bytes: Int) -> String {
        let mb = Double(bytes) / 1_048_576
        return mb == mb.rounded() ? String(Int(mb)) : String(format: "%.3g", mb)
    }

    // MARK: memory

    /// Runs a full garbage collection (finalizers included).
    public func collectGarbage() { wb_gc_collect(L) }

    /// Bytes the interpreter has allocated.
    public var memoryInUse: Int { Int(wb_gc_bytes(L)) }
}
