import CLua
import Engine

/// Pruning in Lua:
///   wb.pruners() -> names
///   wb.prune(model, layer, fraction [, opts]) -> retained fraction of the layer, details
///   wb.pruneGlobal(model, {layers}, fraction [, opts]) -> retained fraction of those layers,
///     {{layer =, weights =, pruned =}, ...} (opts.caps: the most of each layer to prune)
///   wb.sparsity(model) -> the per-layer table (layer, type, weights, kept, kept%) as text,
///     {{layer =, type =, weights =, kept =}, ...}
///   wb.scores(model, layer [, opts]) -> the pruner's score tensor
///   wb.registerPruner(name, function(ctx) return scores end [, {normalization = 'mean'}])
///   (with {structure = 'unit'}: a structured criterion, one score per output unit, for
///   wb.pruneStructured: StructuredBindings.swift)
/// opts: pruner ('mag'), data (scoring set, a dataset), seed (0), batchSize (128),
/// options ({hessian = 'fisher', lambda = 1e-5, epochs = 10, lr = 1000, momentum = 0.9,
/// normalization = 'mean', rank = 'abs', accumulate = 'batch'}: see PrunerOptions).
/// A criterion written in Lua receives a context `ctx` with fields `layer`, `module`,
/// `weight` (the weights), `mask` and methods `ctx:gradient()`, `ctx:hessian()`,
/// `ctx:loss()`, `ctx:inputSecondMoment()`, `ctx:scoringSet()`; it returns one score per
/// weight (lowest scores are pruned).
public enum PrunerBindings: LuaBindingArea {
    static let contextClass = "wb.PruningContext"
    static let registryKey = "wb.pruners"

    public static func install(in lua: LuaRuntime) throws {
        lua.context.userInfo[registryKey] = PrunerRegistry()
        lua.register(LuaClass(name: contextClass, methods: contextMethods, getField: contextField))
        lua.register(library: "wb", functions)
    }

    static func registry(_ call: LuaCall) -> PrunerRegistry {
        call.context.userInfo[registryKey] as! PrunerRegistry
    }

    static let pruneOptions = ["pruner", "data", "seed", "batchSize", "options"]

    /// The pruner and settings an options table at argument `i` asks for.
    static func settings(_ call: LuaCall, _ i: Int, extra: [String] = []) throws -> (Pruner, PruningSettings) {
        let o = try LuaOptions(call, i, allowed: pruneOptions + extra)
        let pruner = try registry(call).pruner(named: try o.string("pruner") ?? "mag")
        var options = PrunerOptions()
        if let idx = try o.tableIndex("options") {
            defer { wb_pop(call.L, 1) }
            for (k, v) in try call.stringPairs(idx) { try options.set(k, v) }
        }
        let settings = PruningSettings(
            scoringSet: try o.object("data", DatasetBindings.className, expected: "a dataset (wb.loadData)"),
            batchSize: try o.integer("batchSize", default: 128, atLeast: 1),
            seed: UInt64(truncatingIfNeeded: try o.integer("seed", default: 0)),
            options: options)
        return (pruner, settings)
    }

    static let functions: [String: LuaFunction] = [
        // wb.layers(model): the modules layer numbers name (the leaf modules, containers
        // flattened depth first: docs/containers.md) and their Torch paths ('3.1.2')
        "layers": { call in
            let model = try ModuleBindings.module(call, 1)
            let leaves = leafModules(model)
            try call.pushArray(leaves) { call.push($0) }
            try call.pushArray((0..<leaves.count).map { Pruning.layerPath(of: model, layer: $0 + 1) ?? "" }) { call.push($0) }
            return 2
        },
        "pruners": { call in
            try call.pushArray(registry(call).names) { call.push($0) }
            return 1
        },
        "prune": { call in
            let model = try WorkbenchBindings.sequential(call, 1)
            let layer = try call.integer(2)
            let fraction = try call.number(3)
            let (pruner, settings) = try settings(call, 4)
            let r = try Pruning.prune(model: model, layer: layer, fraction: fraction, pruner: pruner, settings: settings)
            call.push(r.retainedFraction)
            LuaValue.record([
                "pruned": .number(Double(r.prunedCount)), "weights": .number(Double(r.weightCount)),
                "seconds": .number(r.seconds), "scoringSeconds": .number(r.scoringSeconds),
                "pruner": .string(r.pruner),
            ]).push(call.L)
            return 2
        },
        "pruneGlobal": { call in
            let model = try WorkbenchBindings.sequential(call, 1)
            let layers = try call.integerArray(2)
            let fraction = try call.number(3)
            let (pruner, settings) = try settings(call, 4, extra: ["caps"])
            var caps: [Double]?
            if let i = try LuaOptions(call, 4, allowed: pruneOptions + ["caps"]).tableIndex("caps") {
                defer { wb_pop(call.L, 1) }
                caps = try call.numberArray(i)
            }
            let r = try Pruning.pruneGlobally(model: model, layers: layers, fraction: fraction, pruner: pruner,
                                              settings: settings, caps: caps)
            call.push(1 - r.prunedFraction)
            try call.pushArray(r.layers) { l in
                LuaValue.record(["layer": .number(Double(l.layer)), "weights": .number(Double(l.weightCount)),
                                 "pruned": .number(Double(l.prunedCount))]).push(call.L)
            }
            return 2
        },
        "sparsity": { call in
            let report = SparsityReport(try WorkbenchBindings.sequential(call, 1))
            call.push(report.table)
            try call.pushArray(report.rows) { r in
                LuaValue.record(["layer": .number(Double(r.layer)), "type": .string(r.type),
                                 "weights": .number(Double(r.weights)), "kept": .number(Double(r.kept))]).push(call.L)
            }
            return 2
        },
        "scores": { call in
            let model = try WorkbenchBindings.sequential(call, 1)
            let (pruner, settings) = try settings(call, 3)
            call.push(try Pruning.scores(model: model, layer: try call.integer(2), pruner: pruner, settings: settings))
            return 1
        },
        "registerPruner": { call in
            let name = try call.string(1)
            guard call.type(2) == LUA_TFUNCTION else { throw call.typeError(2, expected: "function") }
            let o = try LuaOptions(call, 3, allowed: ["normalization", "replace", "structure"])
            switch try o.string("structure") ?? "weight" {
            case "weight": break
            case "unit":
                try StructuredBindings.register(call, name: name, function: LuaReference(call, 2),
                                                replacing: try o.boolean("replace", default: false))
                return 0
            case let s: throw call.error("structure must be 'weight' or 'unit', got '\(s)'")
            }
            var normalization = ScoreNormalization.mean
            if let n = try o.string("normalization") {
                guard let v = ScoreNormalization(rawValue: n) else {
                    throw call.error("normalization must be one of \(ScoreNormalization.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                normalization = v
            }
            let function = LuaReference(call, 2)
            try registry(call).register(name: name, globalNormalization: normalization,
                                        replacing: try o.boolean("replace", default: false)) { ctx in
                try function.callReturningTensor(name: name, argument: ctx, className: contextClass)
            }
            return 0
        },
    ]

    static func context(_ call: LuaCall) throws -> PruningContext {
        try call.requireObject(1, contextClass, expected: "pruning context")
    }

    static let contextMethods: [String: LuaFunction] = [
        "gradient": { call in call.push(try context(call).gradient()); return 1 },
        "hessian": { call in call.push(try context(call).hessianDiagonal()); return 1 },
        "loss": { call in call.push(try context(call).meanLoss()); return 1 },
        "inputSecondMoment": { call in call.push(try context(call).inputSecondMoment()); return 1 },
        "scoringSet": { call in
            let c = try context(call)
            if let s = c.scoringSet { call.pushObject(s, className: DatasetBindings.className) } else { call.pushNil() }
            return 1
        },
    ]

    static let contextField: LuaFunction = { call in
        let c = try context(call)
        switch try call.string(2) {
        case "layer": call.push(c.layer)
        case "module": call.push(c.module)
        case "model": call.push(c.model as Module)
        case "weight": call.push(c.weight.value)
        case "mask": call.push(c.weight.mask)
        case "seed": call.push(Int(truncatingIfNeeded: c.seed))
        default: return 0
        }
        return 1
    }
}
