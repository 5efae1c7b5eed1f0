import CLua
import Engine

/// TensorBoard logs from Lua: `local w = wb.SummaryWriter(dir)` opens a new event file in
/// `dir` (an Engine `SummaryWriter`); `w:scalar(tag, value, step)` appends a scalar,
/// `w:close()` closes the file (also done when the writer is collected); `w.path` is the
/// event file's path.
public enum SummaryWriterBindings: LuaBindingArea {
    public static let className = "wb.SummaryWriter"

    public static func install(in lua: LuaRuntime) throws {
        lua.register(LuaClass(name: className, methods: methods, metamethods: [
            "__tostring": { call in call.push("wb.SummaryWriter(\(try writer(call, 1).path))"); return 1 },
        ], getField: { call in
            let w = try writer(call, 1)
            switch try call.string(2) {
            case "path": call.push(w.path)
            case "closed": call.push(w.isClosed)
            default: return 0
            }
            return 1
        }))
        lua.register(library: "wb", [
            // wb.SummaryWriter(dir) -> writer
            "SummaryWriter": { call in
                let dir = try call.string(1)
                do { call.pushObject(try SummaryWriter(directory: dir), className: className) } catch let e as EngineError {
                    throw call.error(e.message)
                }
                return 1
            },
        ])
    }

    static func writer(_ call: LuaCall, _ i: Int) throws -> SummaryWriter {
        try call.requireObject(i, className, expected: "summary writer (from wb.SummaryWriter)")
    }

    static let methods: [String: LuaFunction] = [
        // w:scalar(tag, value, step): value a finite or non-finite number, step an integer
        "scalar": { call in
            let w = try writer(call, 1)
            let tag = try call.string(2)
            let value = try call.number(3)
            let step = try call.integer(4)
            do { try w.scalar(tag, value, step: step) } catch let e as EngineError { throw call.error(e.message) }
            lua_settop(call.L, 1)
            return 1
        },
        "close": { call in
            try writer(call, 1).close()
            return 0
        },
    ]
}
