import CLua
import Engine
import RunConfig

/// `wb.readYAML(path)`: a YAML file (read by Yams, in RunConfig) as Lua values, for any script:
/// a mapping becomes a table (integer keys as Lua integers, other keys as strings), a sequence
/// an array, scalars numbers (integers stay integers), booleans or strings by YAML's core
/// schema; null is nil (so a key whose value is null is absent). An empty file gives nil. A
/// file that is not valid YAML, a key given twice or an alias is an error naming `FILE:LINE`.
public enum YAMLBindings: LuaBindingArea {
    public static func install(in lua: LuaRuntime) throws {
        lua.register(library: "wb", functions)
    }

    static let functions: [String: LuaFunction] = [
        "readYAML": { call in
            let path = try call.string(1)
            let doc: YAMLItem?
            do { doc = try YAMLDocument.read(path: path) } catch let e as ConfigError { throw call.error(e.description) }
            guard let doc else { call.pushNil(); return 1 }
            try push(call, doc.value, depth: 0)
            return 1
        },
    ]

    /// The deepest nesting pushed (each level takes Lua stack slots).
    static let maxDepth = 200

    static func push(_ call: LuaCall, _ v: YAMLValue, depth: Int) throws {
        guard depth < maxDepth else { throw call.error("the YAML document nests deeper than \(maxDepth) levels") }
        try call.ensureStack(4)
        let L = call.L
        switch v {
        case .null: lua_pushnil(L)
        case let .bool(b): lua_pushboolean(L, b ? 1 : 0)
        case let .int(i): lua_pushinteger(L, lua_Integer(i))
        case let .double(d): lua_pushnumber(L, d)
        case let .string(s): lua_pushstring(L, s)
        case let .list(items):
            lua_createtable(L, Int32(min(items.count, 1 << 20)), 0)
            for (k, item) in items.enumerated() {
                try push(call, item.value, depth: depth + 1)
                lua_rawseti(L, -2, lua_Integer(k + 1))
            }
        case let .mapping(entries):
            lua_createtable(L, 0, Int32(min(entries.count, 1 << 20)))
            for e in entries {
                switch e.key.value {
                case let .int(i): lua_pushinteger(L, lua_Integer(i))
                case let .double(d): lua_pushnumber(L, d)
                case let .bool(b): lua_pushboolean(L, b ? 1 : 0)
                case let .string(s): lua_pushstring(L, s)
                default: lua_pushstring(L, "")
                }
                try push(call, e.value.value, depth: depth + 1)
                lua_rawset(L, -3)
            }
        }
    }
}
