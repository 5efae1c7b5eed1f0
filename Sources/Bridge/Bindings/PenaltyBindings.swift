import CLua
import Engine

/// Penalties on a trainer's loss in Lua: `t:penalty{l1 = 1e-4, group = 2}` (or `l2 = λ`, or
/// `groupLasso = λ, groupSize = n`: groups of n consecutive elements) adds an Engine
/// `Penalty` to the trainer and returns its handle (`wb.Penalty`: `p.strength` read and set,
/// `p.kind`, `p.size`, `p:value()`); `t:removePenalty(p)` takes it off. The parameters come
/// from one of `group = i` (the optimiser's group i), `modules = {m1, ...}` (their weights and
/// biases), `parameters = {m.weight, ...}` (tensors that are the trainer's model's own
/// parameters), or, with none of these, every parameter of the model.
extension TrainerBindings {
    static let penaltyClass = "wb.Penalty"

    static func installPenalties(in lua: LuaRuntime) {
        lua.register(LuaClass(name: penaltyClass, methods: penaltyMethods, metamethods: [
            "__tostring": { call in call.push(describe(try penalty(call, 1))); return 1 },
        ], getField: penaltyField, setField: setPenaltyField))
    }

    static func penalty(_ call: LuaCall, _ i: Int) throws -> Penalty {
        try call.requireObject(i, penaltyClass, expected: "penalty (from t:penalty{...})")
    }

    static func describe(_ p: Penalty) -> String {
        "wb.Penalty(\(p.kind.rawValue) \(p.strength) on \(p.parameters.count) parameter\(p.parameters.count == 1 ? "" : "s"))"
    }

    /// The trainer methods `penalty` and `removePenalty`.
    static let trainerPenaltyMethods: [String: LuaFunction] = [
        // t:penalty{l1 = λ | l2 = λ | groupLasso = λ, groupSize = n [, group = i | modules = {...} | parameters = {...}]} -> handle
        "penalty": { call in
            let t = try trainer(call)
            let o = try LuaOptions(call, 2, allowed: ["l1", "l2", "groupLasso", "groupSize", "group", "modules", "parameters"])
            let l1 = try o.number("l1"), l2 = try o.number("l2"), lasso = try o.number("groupLasso")
            guard [l1, l2, lasso].compactMap({ $0 }).count == 1 else {
                throw call.error("give exactly one of l1 = λ, l2 = λ or groupLasso = λ, e.g. t:penalty{l1 = 1e-4, group = 1}")
            }
            let size = try o.integer("groupSize", default: 1, atLeast: 1)
            if size != 1 && lasso == nil { throw call.error("groupSize is the group lasso's (t:penalty{groupLasso = λ, groupSize = 9, ...})") }
            let parameters = try penaltyParameters(call, o, t.trainer)
            let p: Penalty
            let kind: Penalty.Kind = l1 != nil ? .l1 : l2 != nil ? .l2 : .groupLasso
            do { p = try Penalty(kind, strength: l1 ?? l2 ?? lasso!, parameters: parameters, groupSize: size) } catch let e as EngineError {
                throw call.error(e.message)
            }
            t.trainer.penalties.append(p)
            call.pushObject(p, className: penaltyClass)
            return 1
        },
        // t:removePenalty(p): the penalty no longer applies
        "removePenalty": { call in
            let t = try trainer(call)
            let p = try penalty(call, 2)
            guard let i = t.trainer.penalties.firstIndex(where: { $0 === p }) else {
                throw call.argumentError(2, "this penalty is not on this trainer (removed already?)")
            }
            t.trainer.penalties.remove(at: i)
            lua_settop(call.L, 1)
            return 1
        },
    ]

    /// The parameters a penalty applies to (each once, in order of first mention).
    static func penaltyParameters(_ call: LuaCall, _ o: LuaOptions, _ trainer: Trainer) throws -> [Parameter] {
        let group = try o.integer("group", default: 0, atLeast: 1)
        var pushed: Int32 = 0
        defer { wb_pop(call.L, pushed) }
        let modules = try o.tableIndex("modules")
        if modules != nil { pushed += 1 }
        let tensors = try o.tableIndex("parameters")
        if tensors != nil { pushed += 1 }
        guard [group > 0, modules != nil, tensors != nil].filter({ $0 }).count <= 1 else {
            throw call.error("give at most one of group, modules or parameters")
        }
        var found = [Parameter]()
        if group > 0 {
            let groups = trainer.optimizer.groups
            guard group <= groups.count else {
                throw call.error("group \(group) does not exist (the optimiser has \(groups.count) group\(groups.count == 1 ? "" : "s"))")
            }
            found = groups[group - 1].parameters
        } else if let modules {
            for k in 1...max(1, Int(lua_rawlen(call.L, Int32(modules)))) {
                lua_rawgeti(call.L, Int32(modules), lua_Integer(k))
                defer { wb_pop(call.L, 1) }
                guard let m: Module = call.object(-1, ModuleBindings.className) else {
                    throw call.error("modules[\(k)] must be an nn module, got \(call.typeName(-1))")
                }
                guard !m.allParameters.isEmpty else { throw call.error("modules[\(k)] (\(m.description)) has no parameters") }
                found += m.allParameters
            }
        } else if let tensors {
            let own = trainer.model.allParameters
            for k in 1...max(1, Int(lua_rawlen(call.L, Int32(tensors)))) {
                lua_rawgeti(call.L, Int32(tensors), lua_Integer(k))
                defer { wb_pop(call.L, 1) }
                guard let t: Tensor = call.object(-1, TensorBindings.className) else {
                    throw call.error("parameters[\(k)] must be a tensor (m.weight or m.bias), got \(call.typeName(-1))")
                }
                guard let p = own.first(where: { $0.value === t }) else {
                    throw call.error("parameters[\(k)] is not a weight or bias of the trainer's model (pass m.weight itself, not a copy)")
                }
                found.append(p)
            }
        } else {
            found = trainer.model.allParameters
        }
        var seen = Set<ObjectIdentifier>()
        return found.filter { seen.insert(ObjectIdentifier($0)).inserted }
    }

    static let penaltyMethods: [String: LuaFunction] = [
        // p:value() -> R(θ) at the current weights
        "value": { call in call.push(try penalty(call, 1).value()); return 1 },
    ]

    static let penaltyField: LuaFunction = { call in
        let p = try penalty(call, 1)
        switch try call.string(2) {
        case "strength": call.push(p.strength)
        case "kind": call.push(p.kind.rawValue)
        case "size": call.push(p.parameters.count)
        default: return 0
        }
        return 1
    }

    static let setPenaltyField: LuaFunction = { call in
        let p = try penalty(call, 1)
        let key = try call.string(2)
        guard key == "strength" else { throw LuaArgumentError("a penalty has no field '\(key)' to set (strength)") }
        guard call.isNumber(3) else { throw LuaArgumentError("strength must be a number, got \(call.typeName(3))") }
        do { try p.setStrength(try call.number(3)) } catch let e as EngineError { throw LuaArgumentError(e.message) }
        return 1
    }
}
