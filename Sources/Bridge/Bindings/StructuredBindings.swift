import CLua
import Engine

/// Structured pruning in Lua:
///   wb.pruneStructured(model, layer, fraction [, opts]) -> the thinner model, details
///   wb.unitScores(model, layer [, opts]) -> a tensor of one score per unit
///   wb.structuredCriteria() -> names
/// opts: criterion ('l1'; 'l2', 'activation', 'taylor', 'loss' or one registered with
/// `wb.registerPruner(name, fn, {structure = 'unit'})`), data (scoring set, a dataset),
/// batchSize (128), seed (0). details: units (before), removed (1-based unit numbers),
/// remaining, seconds, criterion. A criterion written in Lua receives the pruning context of
/// the layer (`ctx.weight`, `ctx:gradient()`, ...) and returns one score per output unit;
/// the lowest-scored units are removed.
public enum StructuredBindings: LuaBindingArea {
    static let registryKey = "wb.structuredCriteria"

    public static func install(in lua: LuaRuntime) throws {
        lua.context.userInfo[registryKey] = UnitPrunerRegistry()
        lua.register(library: "wb", functions)
    }

    static func registry(_ call: LuaCall) -> UnitPrunerRegistry {
        call.context.userInfo[registryKey] as! UnitPrunerRegistry
    }

    /// Registers a Lua function as a structured criterion (`wb.registerPruner(..., {structure = 'unit'})`).
    static func register(_ call: LuaCall, name: String, function: LuaReference, replacing: Bool) throws {
        try registry(call).register(ClosureUnitPruner(name: name) { unit in
            let ctx = try PruningContext(model: unit.model, layer: unit.layer, settings: unit.settings)
            return try function.callReturningTensor(name: name, argument: ctx, className: PrunerBindings.contextClass)
                .scalars.map(Double.init)
        }, replacing: replacing)
    }

    static func settings(_ call: LuaCall, _ i: Int) throws -> (UnitPruner, PruningSettings) {
        let o = try LuaOptions(call, i, allowed: ["criterion", "data", "batchSize", "seed"])
        let pruner = try registry(call).pruner(named: try o.string("criterion") ?? "l1")
        let settings = PruningSettings(
            scoringSet: try o.object("data", DatasetBindings.className, expected: "a dataset (wb.loadData)"),
            batchSize: try o.integer("batchSize", default: 128, atLeast: 1),
            seed: UInt64(truncatingIfNeeded: try o.integer("seed", default: 0)))
        return (pruner, settings)
    }

    static let functions: [String: LuaFunction] = [
        "structuredCriteria": { call in
            try call.pushArray(registry(call).names) { call.push($0) }
            return 1
        },
        "pruneStructured": { call in
            let model = try WorkbenchBindings.sequential(call, 1)
            let layer = try call.integer(2)
            let fraction = try call.number(3)
            let (pruner, settings) = try settings(call, 4)
            let r = try StructuredPruning.prune(model: model, layer: layer, fraction: fraction, pruner: pruner,
                                                settings: settings, types: call.context.moduleTypes)
            call.push(r.model as Module)
            LuaValue.record([
                "units": .number(Double(r.units)), "remaining": .number(Double(r.remaining)),
                "removed": .array(r.removed.map { .number(Double($0 + 1)) }),
                "seconds": .number(r.seconds), "criterion": .string(r.criterion),
            ]).push(call.L)
            return 2
        },
        "unitScores": { call in
            let model = try WorkbenchBindings.sequential(call, 1)
            let (pruner, settings) = try settings(call, 3)
            let context = try UnitContext(model: model, layer: try call.integer(2), settings: settings)
            let s = try StructuredPruning.scores(context, pruner)
            let t = Tensor(shape: [s.count])
            for (i, v) in s.enumerated() { t[i] = Float(v) }
            call.push(t)
            return 1
        },
    ]
}
