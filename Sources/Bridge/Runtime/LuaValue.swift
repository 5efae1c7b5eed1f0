import CLua
import Engine

/// A Lua value handed between Swift and Lua outside a call: script results, globals.
public enum LuaValue: CustomStringConvertible {
    case `nil`
    case boolean(Bool)
    case number(Double)
    case string(String)
    case tensor(Tensor)
    case module(Module)
    case criterion(Criterion)
    /// Another bridge object (from a binding area added later), with its class name.
    case object(AnyObject, className: String)
    /// A Lua array of values (pushed as a new table; read back only as `.other("table")`).
    case array([LuaValue])
    /// A Lua table with string keys (pushed as a new table).
    case record([String: LuaValue])
    /// A value Swift does not read (table, function, thread, foreign userdata), by type name.
    case other(String)

    /// Reads the value at stack index `i` without calling metamethods.
    init(_ L: OpaquePointer, _ i: Int32) {
        switch lua_type(L, i) {
        case LUA_TNIL, LUA_TNONE: self = .nil
        case LUA_TBOOLEAN: self = .boolean(lua_toboolean(L, i) != 0)
        case LUA_TNUMBER: self = .number(lua_tonumberx(L, i, nil))
        case LUA_TSTRING: self = .string(String(cString: wb_tostring(L, i)!))
        case LUA_TUSERDATA:
            if let o = LuaObjects.anyObject(L, i) {
                switch o {
                case let t as Tensor: self = .tensor(t)
                case let m as Module: self = .module(m)
                case let c as Criterion: self = .criterion(c)
                default: self = .object(o, className: LuaObjects.className(L, i) ?? "userdata")
                }
            } else {
                self = .other("userdata")
            }
        default: self = .other(String(cString: wb_typename_at(L, i)))
        }
    }

    /// Pushes the value (objects through the bridge's userdata).
    func push(_ L: OpaquePointer) {
        switch self {
        case .nil, .other: lua_pushnil(L)
        case .boolean(let b): lua_pushboolean(L, b ? 1 : 0)
        case .number(let x): lua_pushnumber(L, x)
        case .string(let s): lua_pushstring(L, s)
        case .tensor(let t): LuaObjects.push(L, t, className: TensorBindings.className)
        case .module(let m): LuaObjects.push(L, m, className: ModuleBindings.className)
        case .criterion(let c): LuaObjects.push(L, c, className: CriterionBindings.className)
        case .object(let o, let name): LuaObjects.push(L, o, className: name)
        case .array(let values):
            lua_checkstack(L, 3)
            lua_createtable(L, Int32(values.count), 0)
            for (k, v) in values.enumerated() {
                v.push(L)
                lua_rawseti(L, -2, lua_Integer(k + 1))
            }
        case .record(let fields):
            lua_checkstack(L, 3)
            lua_createtable(L, 0, Int32(fields.count))
            for (k, v) in fields.sorted(by: { $0.key < $1.key }) {
                lua_pushstring(L, k)
                v.push(L)
                lua_rawset(L, -3)
            }
        }
    }

    public var isNil: Bool { if case .nil = self { return true } else { return false } }
    public var module: Module? { if case .module(let m) = self { return m } else { return nil } }
    public var tensor: Tensor? { if case .tensor(let t) = self { return t } else { return nil } }
    public var number: Double? { if case .number(let x) = self { return x } else { return nil } }
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }

    public var description: String {
        switch self {
        case .nil: return "nil"
        case .boolean(let b): return "\(b)"
        case .number(let x): return "\(x)"
        case .string(let s): return "'\(s)'"
        case .tensor(let t): return "a tensor of size \(shapeString(t.shape))"
        case .module(let m): return "module \(m.typeName)"
        case .criterion(let c): return "criterion \(c.typeName)"
        case .object(_, let name): return "a \(name)"
        case .array(let a): return "an array of \(a.count) values"
        case .record: return "a table"
        case .other(let t): return "a \(t)"
        }
    }
}

/// One area of bindings (tensors, modules, criteria, later the workbench API): one file
/// each, installed into every new `LuaRuntime`. Adding an area is a new file with a type
/// conforming to this protocol, plus one line in `LuaBindingAreas.standard`.
public protocol LuaBindingArea {
    static func install(in lua: LuaRuntime) throws
}

public enum LuaBindingAreas {
    /// The areas every runtime gets, in installation order.
    public static let standard: [LuaBindingArea.Type] = [
        TensorBindings.self,
        ModuleBindings.self,
        LuaModuleBindings.self,
        CriterionBindings.self,
        DatasetBindings.self,
        SummaryWriterBindings.self,
        DeepRBindings.self,
        TiedWeightsBindings.self,
        WorkbenchBindings.self,
        PrunerBindings.self,
        StructuredBindings.self,
        TrainerBindings.self,
        FreezeOutBindings.self,
        YAMLBindings.self,
    ]
}

extension LuaRuntime {
    /// Sets the functions into global table `name` (created if missing), e.g. `torch.zeros`.
    public func register(library name: String, _ functions: [String: LuaFunction]) {
        lua_rawgeti(L, wb_registryindex(), lua_Integer(wb_ridx_globals()))   // [G]
        lua_pushstring(L, name)
        if lua_rawget(L, -2) != LUA_TTABLE {                                   // [G, lib]
            wb_pop(L, 1)
            wb_newtable(L)
            lua_pushstring(L, name)
            lua_pushvalue(L, -2)
            lua_rawset(L, -4)
        }
        for (key, body) in functions.sorted(by: { $0.key < $1.key }) {
            lua_pushstring(L, key)
            context.pushFunction(L, name: "\(name).\(key)", body)
            lua_rawset(L, -3)
        }
        wb_pop(L, 2)
    }

    /// Registers a userdata class (its metatable).
    public func register(_ cls: LuaClass) { cls.install(L, context) }

}
