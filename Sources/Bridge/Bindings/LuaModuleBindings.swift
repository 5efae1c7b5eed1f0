import CLua
import Engine

/// `torch.class` (Torch7's classes in Lua) and modules written in Lua:
///
/// ```lua
/// local Scale, parent = torch.class('nn.Scale', 'nn.Module')
/// function Scale:__init(n) parent.__init(self); self.weight = torch.ones(n); self.gradWeight = torch.zeros(n) end
/// function Scale:updateOutput(input) self.output = torch.cmul(input, self.weight); return self.output end
/// ```
///
/// A class deriving from `nn.Module` (directly or through other Lua classes) makes
/// `nn.Scale(...)` build a `LuaModule`, registered in the runtime's `ModuleTypeRegistry` for
/// model files and clones; any other class makes plain Lua objects (tables whose metatable is
/// the class), as in Torch. `torch.getmetatable(name)` gives a class table; `torch.type(x)`
/// gives a plain object's class name.
public enum LuaModuleBindings: LuaBindingArea {
    public static func install(in lua: LuaRuntime) throws {
        lua.context.moduleTypes.advice[LuaModule.origin] = "run the script that defines it (torch.class) before loading"
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        let bytes = Array(prelude.utf8)
        let status = bytes.withUnsafeBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { wb_loadbuffer(L, $0, b.count, "=torch.class") }
        }
        guard status == LUA_OK else { throw LuaError(kind: .syntax, raw: String(cString: wb_tostring(L, -1)!)) }
        lua.context.pushFunction(L, name: "torch.class", defineModuleClass)
        guard wb_pcall(L, 1, 0, 0) == LUA_OK else { throw LuaError(kind: .runtime, raw: String(cString: wb_tostring(L, -1)!)) }
    }

    /// defineModuleClass(name, class) -> constructor: registers a module class, from the
    /// prelude's torch.class.
    static let defineModuleClass: LuaFunction = { call in
        let name = try call.string(1)
        guard call.isTable(2) else { throw call.typeError(2, expected: "table") }
        let type = LuaModuleType(name: name, classAt: 2, call)
        call.context.moduleTypes.register(name, type)
        call.context.pushFunction(call.L, name: name, type.constructor)
        return 1
    }

    /// torch.class(name [, parentName]) -> class, parent; written in Lua as Torch's is (luaT).
    static let prelude = """
        local defineModuleClass = ...
        local classes = {}
        local Module = {__typename = 'nn.Module'}
        Module.__index = Module
        function Module.__init(self) end
        classes['nn.Module'] = Module

        local function derivesFromModule(class)
          for _ = 1, 64 do
            if class == Module then return true end
            local mt = getmetatable(class)
            class = mt and rawget(mt, '__index')
            if type(class) ~= 'table' then return false end
          end
          return false
        end

        local function lookup(path)
          local t = _G
          for part in path:gmatch('[^.]+') do
            if type(t) ~= 'table' then return nil end
            t = rawget(t, part)
          end
          return t
        end

        local function place(path, value)
          local parts = {}
          for part in path:gmatch('[^.]+') do parts[#parts + 1] = part end
          local t = _G
          for i = 1, #parts - 1 do
            local nextTable = rawget(t, parts[i])
            if nextTable == nil then nextTable = {}; rawset(t, parts[i], nextTable) end
            if type(nextTable) ~= 'table' then
              error("torch.class: cannot define " .. path .. ": " .. parts[i] .. " is a " .. type(nextTable), 3)
            end
            t = nextTable
          end
          rawset(t, parts[#parts], value)
        end

        function torch.class(name, parentName)
          if type(name) ~= 'string' or not name:match('^[%a_][%w_]*[%.%w_]*$') or name:match('%.%.') or name:match('%.$') then
            error("torch.class: the class name must be a string such as 'nn.MyLayer', got " .. tostring(name), 2)
          end
          if classes[name] or lookup(name) ~= nil then error("torch.class: " .. name .. " already exists", 2) end
          local parent
          if parentName ~= nil then
            parent = classes[parentName]
            if parent == nil then
              if type(parentName) == 'string' and lookup(parentName) ~= nil then
                error("torch.class: " .. name .. " cannot derive from " .. parentName .. ", which is built into the workbench: derive from nn.Module (and keep an " .. parentName .. " in a field)", 2)
              end
              error("torch.class: unknown parent class " .. tostring(parentName) .. " (nn.Module, or a class defined with torch.class)", 2)
            end
          end
          local class = {__typename = name}
          class.__index = class
          local constructor
          -- the class table is callable too (MyLayer(3, 4)), as in Torch
          setmetatable(class, {__index = parent, __call = function(_, ...) return constructor(...) end})
          classes[name] = class
          if derivesFromModule(class) then
            constructor = defineModuleClass(name, class)
            place(name, constructor)
          else
            constructor = function(...)
              local object = setmetatable({}, class)
              if object.__init then object:__init(...) end
              return object
            end
            place(name, setmetatable({}, {__index = class, __newindex = class,
                                          __call = function(_, ...) return constructor(...) end}))
          end
          return class, parent
        end

        function torch.getmetatable(name) return classes[name] end

        local typeOf = torch.type
        function torch.type(x)
          if type(x) == 'table' then
            local mt = getmetatable(x)
            if type(mt) == 'table' and type(rawget(mt, '__typename')) == 'string' then return mt.__typename end
          end
          return typeOf(x)
        end
        """
}
