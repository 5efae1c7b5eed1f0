import CLua
import Engine

/// DeepR's per-step work on a weight, fused (Engine `DeepRConnections`), from Lua:
/// `local d = wb.DeepR(module [, active])` keeps the module's active weight positions (in the
/// order of `active`, a tensor of 1-based positions saved from `d.active`; else ascending) and
/// their signs; `d:noise(std)` adds N(0, std²) to the gradient of each active weight (after
/// backward); `d:rewire([optimizer] [, newWeightStd])` deactivates the active weights whose
/// sign flipped since the last step and activates as many inactive positions, drawn
/// uniformly (new weights 0, or N(0, newWeightStd²)), zeroing the optimiser's state there,
/// and returns the number moved, how many of them the previous rewiring had grown and how
/// many it grew (both nil before a second rewiring). Random draws come from torch's
/// generator, the ones the Lua version (scripts/lib/sparsetrain/masks.lua) made.
public enum DeepRBindings: LuaBindingArea {
    public static let className = "wb.DeepR"

    public static func install(in lua: LuaRuntime) throws {
        lua.register(LuaClass(name: className, methods: methods, metamethods: [
            "__tostring": { call in
                let d = try connections(call, 1)
                call.push("wb.DeepR(\(d.active.count) active of \(d.parameter.value.count))")
                return 1
            },
        ], getField: { call in
            let d = try connections(call, 1)
            switch try call.string(2) {
            case "active": call.push(Tensor(shape: [d.active.count], values: d.active.map { Float($0 + 1) }))
            default: return 0
            }
            return 1
        }))
        lua.register(library: "wb", [
            // wb.DeepR(module [, active]) -> the DeepR state of the module's weight
            "DeepR": { call in
                let m: Module = try call.requireObject(1, ModuleBindings.className, expected: "nn module")
                guard let p = m.weight else { throw call.argumentError(1, "\(m.description) has no weight") }
                var active: [Int]?
                if !call.isNoneOrNil(2) {
                    let t = try call.tensor(2)
                    active = try (0..<t.count).map { i -> Int in
                        let x = t.data[i]
                        guard x >= 1, x <= Float(p.value.count), x == x.rounded() else {
                            throw call.argumentError(2, "position \(x) is not one of the weight's 1...\(p.value.count)")
                        }
                        return Int(x) - 1
                    }
                }
                do { call.pushObject(try DeepRConnections(parameter: p, active: active), className: className) } catch let e as EngineError {
                    throw call.error(e.message)
                }
                return 1
            },
        ])
    }

    static func connections(_ call: LuaCall, _ i: Int) throws -> DeepRConnections {
        try call.requireObject(i, className, expected: "DeepR state (from wb.DeepR)")
    }

    static let methods: [String: LuaFunction] = [
        // d:noise(std): g += N(0, std²) at the active positions
        "noise": { call in
            let d = try connections(call, 1)
            let std = try call.number(2)
            guard std.isFinite && std >= 0 else { throw call.argumentError(2, "std must be a finite number >= 0, got \(std)") }
            d.addNoise(std: Float(std), &GlobalRandom.generator)
            lua_settop(call.L, 1)
            return 1
        },
        // d:rewire([optimizer] [, newWeightStd]) -> moved, prunedJustGrown | nil, grownBefore | nil
        "rewire": { call in
            let d = try connections(call, 1)
            let optimizer: Optimizer? = call.isNoneOrNil(2) ? nil : try TrainerBindings.optimizer(call, 2)
            let std = try call.optionalNumber(3)
            if let std, !(std.isFinite && std > 0) { throw call.argumentError(3, "newWeightStd must be a finite number > 0, got \(std)") }
            let step: DeepRConnections.Step
            do { step = try d.rewire(optimizer: optimizer, newWeightStd: std.map(Float.init), &GlobalRandom.generator) } catch let e as EngineError {
                throw call.error(e.message)
            }
            call.push(step.moved)
            if let x = step.prunedJustGrown { call.push(x) } else { call.pushNil() }
            if let x = step.grownBefore { call.push(x) } else { call.pushNil() }
            return 3
        },
    ]
}
