import CLua
import Engine

/// The open training loop in Lua: optimisers over parameter groups (`wb.SGD`, `wb.Adam`),
/// their groups (`opt:group(i).lr = ...`), and a trainer that lives across calls
/// (`wb.Trainer`) with hooks, step counts, learning-rate schedules and penalties (in
/// `PenaltyBindings.swift`). Each binding checks its arguments and calls the Engine's
/// `SGD`/`Adam`, `ParameterGroup`, `Trainer`, `LearningRateScheduler` and `Penalty`. Indices a script sees are 1-based (groups, steps, epochs, elements).
public enum TrainerBindings: LuaBindingArea {
    static let optimizerClass = "wb.Optimizer"
    static let groupClass = "wb.ParameterGroup"
    static let trainerClass = "wb.Trainer"

    public static func install(in lua: LuaRuntime) throws {
        lua.register(LuaClass(name: optimizerClass, methods: optimizerMethods, metamethods: [
            "__tostring": { call in call.push(describe(try optimizer(call, 1))); return 1 },
        ]))
        lua.register(LuaClass(name: groupClass, getField: groupField, setField: setGroupField))
        lua.register(LuaClass(name: trainerClass, methods: trainerMethods.merging(trainerPenaltyMethods) { a, _ in a },
                              getField: trainerField, setField: setTrainerField))
        installPenalties(in: lua)
        lua.register(library: "wb", [
            // wb.SGD{lr = 0.01, momentum = 0, dampening = 0, nesterov = false, weightDecay = 0,
            //        learningRateDecay = 0, groups = {{modules = {...}, lr = ...}, ...}}
            "SGD": { call in
                let o = try LuaOptions(call, 1, allowed: sgdSettings + ["learningRateDecay", "groups"])
                let defaults = try group(o, parameters: [], fallback: ParameterGroup([], learningRate: 0.01))
                let sgd = SGD(learningRate: defaults.learningRate, momentum: defaults.momentum, dampening: defaults.dampening,
                              nesterov: defaults.nesterov, weightDecay: defaults.weightDecay,
                              learningRateDecay: Float(try finite(o, "learningRateDecay", 0)))
                sgd.groups = try groups(call, o, allowed: sgdSettings, defaults: defaults)
                call.pushObject(sgd, className: optimizerClass)
                return 1
            },
            // wb.Adam{lr = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay = 0, groups = {...}}
            "Adam": { call in
                let o = try LuaOptions(call, 1, allowed: adamSettings + ["groups"])
                let defaults = try group(o, parameters: [], fallback: ParameterGroup([], learningRate: 0.001))
                let adam = Adam(learningRate: defaults.learningRate, beta1: defaults.beta1, beta2: defaults.beta2,
                                epsilon: defaults.epsilon, weightDecay: defaults.weightDecay)
                adam.groups = try groups(call, o, allowed: adamSettings, defaults: defaults)
                call.pushObject(adam, className: optimizerClass)
                return 1
            },
            // wb.Trainer{model = net, optimizer = opt, criterion = nn.CrossEntropyCriterion(),
            //            batchSize = 128, seed = 0, progress = false}
            "Trainer": { call in
                let o = try LuaOptions(call, 1, allowed: ["model", "optimizer", "criterion", "batchSize", "seed", "progress"])
                guard let model: Module = try o.object("model", ModuleBindings.className, expected: "an nn.Sequential model") else {
                    throw call.error("wb.Trainer needs a model: wb.Trainer{model = net, optimizer = wb.SGD{lr = 0.01}}")
                }
                guard let sequential = model as? Sequential else { throw call.error("the model must be an nn.Sequential, got \(model.typeName)") }
                let given: AnyObject? = try o.object("optimizer", optimizerClass, expected: "an optimiser (wb.SGD or wb.Adam)")
                let optimizer = (given as? Optimizer) ?? SGD(learningRate: 0.01, momentum: 0.9)
                // (Typed apart from the default, so that any criterion class is accepted.)
                let chosen: Criterion? = try o.object("criterion", CriterionBindings.className, expected: "an nn criterion")
                let criterion = chosen ?? CrossEntropyCriterion()
                let trainer = Trainer(model: sequential, criterion: criterion, optimizer: optimizer,
                                      batchSize: try o.integer("batchSize", default: 128, atLeast: 1),
                                      seed: UInt64(truncatingIfNeeded: try o.integer("seed", default: 0, atLeast: 0)),
                                      showProgress: try o.boolean("progress", default: false))
                call.pushObject(LuaTrainer(trainer), className: trainerClass)
                return 1
            },
        ])
    }

    static let sgdSettings = ["lr", "momentum", "dampening", "nesterov", "weightDecay"]
    static let adamSettings = ["lr", "beta1", "beta2", "epsilon", "weightDecay"]

    // MARK: - Optimisers and groups

    static func optimizer(_ call: LuaCall, _ i: Int) throws -> Optimizer {
        let o: AnyObject = try call.requireObject(i, optimizerClass, expected: "optimiser (wb.SGD or wb.Adam)")
        return o as! Optimizer   // only SGD and Adam are pushed under this class
    }

    static func describe(_ o: Optimizer) -> String {
        let name = o is Adam ? "wb.Adam" : "wb.SGD"
        return o.groups.isEmpty ? "\(name) (the whole model, lr \(o.defaults.learningRate))"
                                : "\(name) (\(o.groups.count) groups, lr \(o.groups.map { String($0.learningRate) }.joined(separator: ", ")))"
    }

    /// A number option, finite and >= 0.
    static func finite(_ o: LuaOptions, _ key: String, _ fallback: Double) throws -> Double {
        let x = try o.number(key, default: fallback)
        guard x.isFinite && x >= 0 else { throw o.call.error("option '\(key)' must be a finite number >= 0, got \(x)") }
        return x
    }

    /// A group of `parameters` with the settings of `o`, the others taken from `fallback`.
    static func group(_ o: LuaOptions, parameters: [Parameter], fallback f: ParameterGroup) throws -> ParameterGroup {
        ParameterGroup(parameters, learningRate: Float(try finite(o, "lr", Double(f.learningRate))),
                       momentum: Float(try finite(o, "momentum", Double(f.momentum))),
                       dampening: Float(try finite(o, "dampening", Double(f.dampening))),
                       nesterov: try o.boolean("nesterov", default: f.nesterov),
                       weightDecay: Float(try finite(o, "weightDecay", Double(f.weightDecay))),
                       beta1: Float(try finite(o, "beta1", Double(f.beta1))), beta2: Float(try finite(o, "beta2", Double(f.beta2))),
                       epsilon: Float(try finite(o, "epsilon", Double(f.epsilon))))
    }

    /// The `groups` option: a list of tables, each `{modules = {m1, m2, ...}, lr = ..., ...}`.
    static func groups(_ call: LuaCall, _ o: LuaOptions, allowed: [String], defaults: ParameterGroup) throws -> [ParameterGroup] {
        guard let list = try o.tableIndex("groups") else { return [] }
        defer { wb_pop(call.L, 1) }
        var out = [ParameterGroup]()
        let n = Int(lua_rawlen(call.L, Int32(list)))
        guard n > 0 else { throw call.error("option 'groups' must list at least one group") }
        for g in 1...n {
            guard lua_rawgeti(call.L, Int32(list), lua_Integer(g)) == LUA_TTABLE else {
                wb_pop(call.L, 1)
                throw call.error("group \(g) must be a table {modules = {...}, lr = ...}")
            }
            defer { wb_pop(call.L, 1) }
            let entry = Int(lua_gettop(call.L))
            let go = try LuaOptions(call, entry, allowed: allowed + ["modules"])
            guard let modules = try go.tableIndex("modules") else { throw call.error("group \(g) needs modules = {...}") }
            defer { wb_pop(call.L, 1) }
            var parameters = [Parameter]()
            for k in 1...max(1, Int(lua_rawlen(call.L, Int32(modules)))) {
                lua_rawgeti(call.L, Int32(modules), lua_Integer(k))
                defer { wb_pop(call.L, 1) }
                guard let m: Module = call.object(-1, ModuleBindings.className) else {
                    throw call.error("group \(g): modules[\(k)] must be an nn module, got \(call.typeName(-1))")
                }
                parameters += m.allParameters
            }
            out.append(try group(go, parameters: parameters, fallback: defaults))
        }
        return out
    }

    static let optimizerMethods: [String: LuaFunction] = [
        // opt:group(i) -> the i-th group (1-based); opt:group() -> the settings used without groups
        "group": { call in
            let o = try optimizer(call, 1)
            if call.isNoneOrNil(2) { call.pushObject(o.defaults, className: groupClass); return 1 }
            let i = try call.integer(2, atLeast: 1)
            guard i <= o.groups.count else {
                throw call.argumentError(2, o.groups.isEmpty ? "this optimiser has no groups (opt:group() gives its settings)"
                                                            : "group \(i) does not exist (1...\(o.groups.count))")
            }
            call.pushObject(o.groups[i - 1], className: groupClass)
            return 1
        },
        // opt:size() -> the number of groups (0: the whole model)
        "size": { call in call.push(try optimizer(call, 1).groups.count); return 1 },
        // opt:resetState(module [, which = 'weight'] [, elements]): zero the state of the
        // module's weight (or bias) at `elements` (a 0/1 tensor of its size, or a table of
        // 1-based indices), or all of it
        "resetState": { call in
            let o = try optimizer(call, 1)
            let m: Module = try call.requireObject(2, ModuleBindings.className, expected: "nn module")
            var next = 3
            var which = "weight"
            if call.type(3) == LUA_TSTRING { which = try call.string(3); next = 4 }
            guard let p = which == "weight" ? m.weight : which == "bias" ? m.bias : nil else {
                throw call.argumentError(3, "\(m.description) has no \(which) (weight or bias)")
            }
            var elements: [Int]?
            if let t: Tensor = call.object(next, TensorBindings.className) {
                guard t.count == p.value.count else {
                    throw call.argumentError(next, "the element mask has \(t.count) entries, the \(which) \(p.value.count)")
                }
                elements = (0..<t.count).filter { t.data[$0] != 0 }
            } else if call.isTable(next) {
                elements = try call.integerArray(next).map { $0 - 1 }
            } else if !call.isNoneOrNil(next) {
                throw call.typeError(next, expected: "tensor or table of indices")
            }
            do { try o.resetState(of: p, elements: elements) } catch let e as EngineError { throw call.error(e.message) }
            lua_settop(call.L, 1)
            return 1
        },
        // opt:velocity(module [, which = 'weight']) -> a copy of SGD's velocity of the module's
        // weight (or bias), nil before its first step with momentum
        "velocity": { call in
            let (o, p, _) = try sgdParameter(call)
            guard let v = o.velocity(of: p) else { call.pushNil(); return 1 }
            call.push(v.clone())
            return 1
        },
        // opt:setVelocity(module, which, tensor | nil): SGD's velocity of the module's weight
        // (or bias) becomes a copy of the tensor (nil: none), as a checkpoint saved it
        "setVelocity": { call in
            let (o, p, next) = try sgdParameter(call)
            let v: Tensor? = call.isNoneOrNil(next) ? nil : try call.tensor(next)
            do { try o.setVelocity(of: p, to: v) } catch let e as EngineError { throw call.argumentError(next, e.message) }
            lua_settop(call.L, 1)
            return 1
        },
    ]

    /// The SGD optimiser at 1, the parameter named by (module at 2 [, 'weight' | 'bias' at 3]),
    /// and the index of the next argument.
    static func sgdParameter(_ call: LuaCall) throws -> (SGD, Parameter, Int) {
        guard let o = try optimizer(call, 1) as? SGD else { throw call.argumentError(1, "velocity is SGD's state; this optimiser is not wb.SGD") }
        let m: Module = try call.requireObject(2, ModuleBindings.className, expected: "nn module")
        var which = "weight", next = 3
        if call.type(3) == LUA_TSTRING { which = try call.string(3); next = 4 }
        guard let p = which == "weight" ? m.weight : which == "bias" ? m.bias : nil else {
            throw call.argumentError(3, "\(m.description) has no \(which) (weight or bias)")
        }
        return (o, p, next)
    }

    static func parameterGroup(_ call: LuaCall) throws -> ParameterGroup {
        try call.requireObject(1, groupClass, expected: "parameter group")
    }

    static let groupField: LuaFunction = { call in
        let g = try parameterGroup(call)
        switch try call.string(2) {
        case "lr": call.push(g.learningRate)
        case "momentum": call.push(g.momentum)
        case "dampening": call.push(g.dampening)
        case "nesterov": call.push(g.nesterov)
        case "weightDecay": call.push(g.weightDecay)
        case "beta1": call.push(g.beta1)
        case "beta2": call.push(g.beta2)
        case "epsilon": call.push(g.epsilon)
        case "size": call.push(g.parameters.count)
        default: return 0
        }
        return 1
    }

    static let setGroupField: LuaFunction = { call in
        let g = try parameterGroup(call)
        let key = try call.string(2)
        if key == "nesterov" { g.nesterov = try call.boolean(3, default: false); return 1 }
        let x = try call.number(3)
        guard x.isFinite && x >= 0 else { throw LuaArgumentError("\(key) must be a finite number >= 0, got \(x)") }
        switch key {
        case "lr": g.learningRate = Float(x)
        case "momentum": g.momentum = Float(x)
        case "dampening": g.dampening = Float(x)
        case "weightDecay": g.weightDecay = Float(x)
        case "beta1": g.beta1 = Float(x)
        case "beta2": g.beta2 = Float(x)
        case "epsilon": g.epsilon = Float(x)
        default: throw LuaArgumentError("a parameter group has no setting '\(key)' (lr, momentum, dampening, nesterov, weightDecay, beta1, beta2, epsilon)")
        }
        return 1
    }

    // MARK: - Trainer

    static func trainer(_ call: LuaCall) throws -> LuaTrainer {
        try call.requireObject(1, trainerClass, expected: "trainer (wb.Trainer)")
    }

    static let hookNames = ["beforeForward", "afterBackward", "afterStep", "afterEpoch"]

    static let trainerMethods: [String: LuaFunction] = [
        // trainer:epoch(data) -> mean loss
        "epoch": { call in
            let t = try trainer(call)
            call.push(try t.trainer.trainEpoch(try DatasetBindings.dataset(call, 2)))
            return 1
        },
        // trainer:steps(data, n [, {replacement = false}]) -> mean loss
        "steps": { call in
            let t = try trainer(call)
            let data = try DatasetBindings.dataset(call, 2)
            let n = try call.integer(3, atLeast: 0)
            let o = try LuaOptions(call, 4, allowed: ["replacement"])
            call.push(try t.trainer.steps(data, n, replacement: try o.boolean("replacement", default: false)))
            return 1
        },
        // trainer:schedule(kind [, {group = i, per = 'step', ...}]): kind 'constant', 'step'
        // {every, gamma}, 'multistep' {milestones, gamma}, 'exponential' {gamma}, 'cosine'
        // {total, floor = 0}, with warmup = w steps first; or a function(step, epoch) -> lr
        "schedule": { call in
            let t = try trainer(call)
            let o = try LuaOptions(call, 3, allowed: ["group", "per", "every", "gamma", "milestones", "total", "floor", "warmup", "base"])
            var schedule: Schedule
            if call.type(2) == LUA_TFUNCTION {
                let f = LuaReference(call, 2)
                schedule = .custom { step, epoch in try f.callReturningNumber(name: "schedule", [Double(step + 1), Double(epoch + 1)]) }
            } else {
                switch try call.string(2) {
                case "constant": schedule = .constant
                case "step": schedule = .step(every: try o.integer("every", default: 1, atLeast: 1), gamma: try finite(o, "gamma", 0.1))
                case "multistep":
                    var milestones = [Int]()
                    if let i = try o.tableIndex("milestones") { defer { wb_pop(call.L, 1) }; milestones = try call.integerArray(i) }
                    schedule = .multiStep(milestones: milestones, gamma: try finite(o, "gamma", 0.1))
                case "exponential": schedule = .exponential(gamma: try finite(o, "gamma", 0.1))
                case "cosine":
                    guard let total = try o.number("total") else { throw call.error("the cosine schedule needs total = its length in steps (or epochs)") }
                    schedule = .cosine(total: try o.integer("total", default: Int(total), atLeast: 1), floor: try finite(o, "floor", 0))
                case let other:
                    throw call.argumentError(2, "unknown schedule '\(other)' (constant, step, multistep, exponential, cosine, or a function)")
                }
            }
            let warmup = try o.integer("warmup", default: 0, atLeast: 0)
            if warmup > 0 { schedule = .warmup(steps: warmup, then: schedule) }
            let per: LearningRateScheduler.Unit
            switch try o.string("per") ?? "step" {
            case "step": per = .step
            case "epoch": per = .epoch
            case let other: throw call.error("per must be 'step' or 'epoch', got '\(other)'")
            }
            let groups = t.trainer.optimizer.groups
            let g: ParameterGroup
            if let i = try o.number("group") {
                guard let k = Int(exactly: i), k >= 1, k <= groups.count else {
                    throw call.error("group \(i) does not exist (the optimiser has \(groups.count) group\(groups.count == 1 ? "" : "s"))")
                }
                g = groups[k - 1]
            } else {
                guard groups.count <= 1 else { throw call.error("the optimiser has \(groups.count) groups: say which with {group = i}") }
                g = groups.first ?? t.trainer.optimizer.defaults
            }
            do {
                t.trainer.schedulers.append(try LearningRateScheduler(g, schedule: schedule, per: per,
                                                                      base: try o.number("base")))
            } catch let e as EngineError { throw call.error(e.message) }
            lua_settop(call.L, 1)
            return 1
        },
    ]

    static let trainerField: LuaFunction = { call in
        let t = try trainer(call)
        switch try call.string(2) {
        case "stepsDone": call.push(t.trainer.stepsDone)
        case "epochsDone": call.push(t.trainer.epochsDone)
        case "samplesSeen": call.push(t.trainer.samplesSeen)
        case "orderState": call.push(t.trainer.orderGenerator.stateText)   // the shuffling generator, 64 hex digits
        case "batchSize": call.push(t.trainer.batchSize)
        case "batchTargets":   // the current batch's labels, 1-based (a copy), for hooks
            let y = t.trainer.batchTargets.clone()
            y.addScalar(1)
            call.push(y)
        case "optimizer": call.pushObject(t.trainer.optimizer, className: optimizerClass)
        case "model": call.pushObject(t.trainer.model, className: ModuleBindings.className)
        case let key where hookNames.contains(key):
            guard let ref = t.hooks[key] else { return 0 }
            ref.push(on: call.L)
        default: return 0
        }
        return 1
    }

    static let setTrainerField: LuaFunction = { call in
        let t = try trainer(call)
        let key = try call.string(2)
        switch key {
        case let k where hookNames.contains(k):
            if call.isNoneOrNil(3) { t.setHook(k, nil); return 1 }
            guard call.type(3) == LUA_TFUNCTION else { throw LuaArgumentError("trainer.\(k) must be a function or nil") }
            t.setHook(k, LuaReference(call, 3))
        case "batchSize": t.trainer.batchSize = try call.integer(3, atLeast: 1)
        case "orderState":
            do { t.trainer.orderGenerator = try RandomGenerator(stateText: try call.string(3)) } catch let e as EngineError {
                throw LuaArgumentError("trainer.orderState: \(e.message)")
            }
        default:
            throw LuaArgumentError("a trainer has no field '\(key)' to set (hooks: \(hookNames.joined(separator: ", ")); batchSize, orderState)")
        }
        return 1
    }
}

/// A `Trainer` and the Lua functions its hooks call (kept in the registry while set).
final class LuaTrainer {
    let trainer: Trainer
    private(set) var hooks: [String: LuaReference] = [:]

    init(_ trainer: Trainer) { self.trainer = trainer }

    func setHook(_ name: String, _ ref: LuaReference?) {
        hooks[name] = ref
        let call: ((TrainProgress) throws -> Void)? = ref.map { r in { p in try r.call(name: name, Self.progressTable(p)) } }
        switch name {
        case "beforeForward": trainer.beforeForward = call
        case "afterBackward": trainer.afterBackward = call
        case "afterStep": trainer.afterStep = call
        default: trainer.afterEpoch = call
        }
    }

    /// What a hook receives: epoch, batch, batches, loss, examples as `wb.train`'s callbacks,
    /// plus `step` (this step's number, from 1), `samples` (examples trained on before it) and,
    /// after the forward pass, `wrong` (the batch's misclassified examples).
    private static func progressTable(_ p: TrainProgress) -> [String: LuaValue] {
        var t = WorkbenchBindings.progressTable(p).merging(["step": .number(Double(p.step + 1)), "samples": .number(Double(p.samples))]) { a, _ in a }
        if let w = p.wrong { t["wrong"] = .number(Double(w)) }
        return t
    }
}
