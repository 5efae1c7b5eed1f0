import CLua
import Foundation

/// `require`: where scripts are found, and the built-in packages (`nn`, `torch`).
extension LuaRuntime {
    /// Prepends `dir/?.lua;dir/?/init.lua` to `package.path` (once per directory), so
    /// `require 'models.lenet5'` finds `dir/models/lenet5.lua`.
    public func addSearchDirectory(_ dir: String) {
        let entry = "\(dir)/?.lua;\(dir)/?/init.lua"
        pushPackageTable()                                   // [package]
        lua_pushstring(L, "path")
        lua_rawget(L, -2)
        let current = wb_tostring(L, -1).map { String(cString: $0) } ?? ""
        wb_pop(L, 1)
        if !current.split(separator: ";").contains(Substring("\(dir)/?.lua")) {
            // scripts/ is added first, at creation; a script's directory, added when it runs,
            // goes in front of it.
            lua_pushstring(L, "path")
            lua_pushstring(L, current.isEmpty ? entry : entry + ";" + current)
            lua_rawset(L, -3)
        }
        wb_pop(L, 1)
    }

    /// Makes `require(name)` return global `global` (e.g. `require 'nn'` gives `nn`).
    public func preload(_ name: String, returningGlobal global: String) {
        pushPackageTable()
        lua_pushstring(L, "preload")
        lua_rawget(L, -2)                                    // [package, preload]
        lua_pushstring(L, name)
        context.pushFunction(L, name: "require '\(name)'") { call in
            lua_rawgeti(call.L, wb_registryindex(), lua_Integer(wb_ridx_globals()))
            lua_pushstring(call.L, global)
            lua_rawget(call.L, -2)
            return 1
        }
        lua_rawset(L, -3)
        wb_pop(L, 2)
    }

    private func pushPackageTable() {
        lua_pushstring(L, LUA_LOADED_TABLE)
        lua_rawget(L, wb_registryindex())
        lua_pushstring(L, "package")
        lua_rawget(L, -2)
        wb_remove(L, -2)
    }

    /// The repository's `scripts/` directory: `$WORKBENCH_SCRIPTS` if set, else the first
    /// `scripts` directory holding `models/` found going up from the current directory, then
    /// from the executable's directory.
    public static func locateScriptsDirectory() -> String? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["WORKBENCH_SCRIPTS"], !env.isEmpty { return env }
        var starts = [fm.currentDirectoryPath]
        if let exe = Bundle.main.executablePath { starts.append((exe as NSString).deletingLastPathComponent) }
        for start in starts {
            var dir = URL(fileURLWithPath: start).standardizedFileURL
            while true {
                let candidate = dir.appendingPathComponent("scripts")
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: candidate.appendingPathComponent("models").path, isDirectory: &isDir), isDir.boolValue {
                    return candidate.path
                }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        return nil
    }
}
