import CLua
import Engine
import Foundation

/// The workbench API in Lua (`wb`): models from files, training and testing with callbacks,
/// compression. Pruning is in PrunerBindings.swift, datasets in DatasetBindings.swift.
public enum WorkbenchBindings: LuaBindingArea {
    public static func install(in lua: LuaRuntime) throws {
        lua.register(LuaClass(name: layerInputsClass, methods: [:], metamethods: [
            "__tostring": { call in
                let x: LayerInputs = try call.requireObject(1, layerInputsClass, expected: "layer inputs")
                call.push("wb.LayerInputs(\(x.name): \(x.count) images as the input of layer \(x.layer))")
                return 1
            },
            "__len": { call in
                call.push((try call.requireObject(1, layerInputsClass, expected: "layer inputs") as LayerInputs).count)
                return 1
            },
        ]))
        lua.register(library: "wb", functions)
    }

    /// `wb.layerInputs(model, data, layer)`'s objects (Engine `LayerInputs`).
    static let layerInputsClass = "wb.LayerInputs"

    static func sequential(_ call: LuaCall, _ i: Int) throws -> Sequential {
        let m: Module = try call.requireObject(i, ModuleBindings.className, expected: "nn.Sequential model")
        guard let s = m as? Sequential else { throw call.argumentError(i, "expected an nn.Sequential model, got \(m.typeName)") }
        return s
    }

    /// The most engine threads a script (or the command line) may ask for.
    public static let maxThreads = Parallel.maxThreads

    static let trainOptions = ["epochs", "lr", "momentum", "dampening", "nesterov", "weightDecay", "batchSize", "seed",
                               "optimizer", "progress", "verbose", "onBatch", "onEpoch", "beta1", "beta2", "epsilon"]

    static let functions: [String: LuaFunction] = [
        // wb.threads([n]) -> n : sets (and gives) the engine's thread count.
        "threads": { call in
            if let n = try call.optionalInteger(1) {
                guard (1...maxThreads).contains(n) else {
                    throw call.argumentError(1, "thread count must be in 1...\(maxThreads), got \(n)")
                }
                Parallel.setThreads(n)
            }
            call.push(Parallel.threads)
            return 1
        },
        // wb.poolStalls() -> stalls, regionsAlone : the worker pool's parallel regions that
        // waited on a preempted worker, and the regions run on the calling thread alone after
        // one (the pool's back-off on a busy machine), so far in this process.
        "poolStalls": { call in
            let c = Parallel.poolCounts
            call.push(c.stalls)
            call.push(c.regionsAlone)
            return 2
        },
        // wb.loadModel(path) -> model (safetensors with the workbench architecture metadata)
        "loadModel": { call in
            call.push(try ModelFile.load(try call.string(1), types: call.context.moduleTypes) as Module)
            return 1
        },
        // wb.saveModel(model, path [, {key = 'value'}] [, {originals = true, floatMasks = true,
        // format = 'compressed', shareBits = B, convBits = B, linearBits = B}]) : atomic write;
        // originals: also the stored weights under each mask ("N.weight_orig"); floatMasks:
        // masks as float tensors "N.weight_mask" (else compact, in the metadata); format 'standard' (default) or
        // 'compressed' (docs/model-files.md), whose weights of convolutions (convBits) and
        // linear layers (linearBits; shareBits sets both) share 2^B values found by k-means
        "saveModel": { call in
            let m = try sequential(call, 1)
            let path = try call.string(2)
            var meta: [String: String] = [:]
            if call.isTable(3) {
                let L = call.L
                lua_pushnil(L)
                while lua_next(L, 3) != 0 {
                    defer { wb_pop(L, 1) }
                    guard lua_type(L, -2) == LUA_TSTRING, lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER else {
                        wb_pop(L, 1)
                        throw call.argumentError(3, "metadata must map strings to strings")
                    }
                    // lua_tolstring on a number key would confuse lua_next: keys are strings here.
                    meta[String(cString: wb_tostring(L, -2)!)] = String(cString: wb_tostring(L, -1)!)
                }
            }
            try LuaModules.checkRebuildable(m, for: "save")
            let o = try LuaOptions(call, 4, allowed: ["originals", "floatMasks", "format", "shareBits", "convBits", "linearBits"])
            let originals = try o.boolean("originals", default: false)
            let floatMasks = try o.boolean("floatMasks", default: false)
            func bits(_ key: String, _ fallback: Int?) throws -> Int? {
                guard let b = try o.number(key) else { return fallback }
                guard let i = Int(exactly: b), Codebook.bitRange.contains(i) else {
                    throw call.error("option '\(key)' must be an integer in \(Codebook.bitRange), got \(b)")
                }
                return i
            }
            let all = try bits("shareBits", nil)
            let conv = try bits("convBits", all), linear = try bits("linearBits", all)
            let format: ModelFile.Format
            switch try o.string("format") ?? "standard" {
            case "standard":
                guard conv == nil && linear == nil else { throw call.error("weight sharing (shareBits, convBits, linearBits) needs format = 'compressed'") }
                format = .standard
            case "compressed": format = .compressed(sharing: ModelFile.sharingPlan(m, convolution: conv, linear: linear))
            case let other: throw call.error("unknown format '\(other)' (standard or compressed)")
            }
            try ModelFile.save(m, to: path, metadata: meta, originals: originals, floatMasks: floatMasks, format: format)
            return 0
        },
        // wb.train(model, data, {epochs=1, lr=0.01, momentum=0.9, batchSize=128, seed=0, ...}) -> mean loss
        "train": { call in
            let model = try sequential(call, 1)
            let data = try DatasetBindings.dataset(call, 2)
            let o = try LuaOptions(call, 3, allowed: trainOptions)
            let epochs = try o.integer("epochs", default: 1, atLeast: 0)
            let optimizer: Optimizer
            switch try o.string("optimizer") ?? "sgd" {
            case "sgd":
                optimizer = SGD(learningRate: Float(try o.number("lr", default: 0.01)),
                                momentum: Float(try o.number("momentum", default: 0.9)),
                                dampening: Float(try o.number("dampening", default: 0)),
                                nesterov: try o.boolean("nesterov", default: false),
                                weightDecay: Float(try o.number("weightDecay", default: 0)))
            case "adam":
                optimizer = Adam(learningRate: Float(try o.number("lr", default: 0.001)),
                                 beta1: Float(try o.number("beta1", default: 0.9)),
                                 beta2: Float(try o.number("beta2", default: 0.999)),
                                 epsilon: Float(try o.number("epsilon", default: 1e-8)),
                                 weightDecay: Float(try o.number("weightDecay", default: 0)))
            case let other:
                throw call.error("unknown optimizer '\(other)' (sgd or adam)")
            }
            let verbose = try o.boolean("verbose", default: false)
            let trainer = Trainer(model: model, optimizer: optimizer,
                                  batchSize: try o.integer("batchSize", default: 128, atLeast: 1),
                                  seed: UInt64(truncatingIfNeeded: try o.integer("seed", default: 0)),
                                  showProgress: try o.boolean("progress", default: true) && !verbose)
            let onBatch = try o.function("onBatch"), onEpoch = try o.function("onEpoch")
            trainer.afterStep = { p in
                if verbose {
                    print(String(format: "epoch %d batch %d/%d loss %.4f", p.epoch, p.batch, p.batches, p.loss))
                }
                try onBatch?(progressTable(p))
            }
            if let onEpoch { trainer.afterEpoch = { p in try onEpoch(progressTable(p)) } }
            var loss: Float = .nan
            for _ in 0..<epochs { loss = try trainer.trainEpoch(data) }
            call.push(loss)
            return 1
        },
        // wb.test(model, data [, {batchSize=250, progress=false, topk=k}]) -> error %, mean loss
        // [, top-k error % (with topk: the class not among the k highest scores)]; data may be
        // wb.layerInputs(...): then only the modules from that layer on run
        "test": { call in
            let model: Module = try call.requireObject(1, ModuleBindings.className, expected: "nn module")
            let o = try LuaOptions(call, 3, allowed: ["batchSize", "progress", "topk"])
            let k = try o.number("topk") == nil ? nil : try o.integer("topk", default: 1, atLeast: 1)
            let e: Evaluation
            if let inputs: LayerInputs = call.object(2, layerInputsClass) {
                guard let s = model as? Sequential else { throw call.argumentError(1, "layer inputs are evaluated by an nn.Sequential model") }
                do { e = try inputs.evaluate(s, topK: k) } catch let error as EngineError { throw call.error(error.message) }
            } else {
                e = try evaluate(model, on: try DatasetBindings.dataset(call, 2), batchSize: try o.integer("batchSize", default: 250, atLeast: 1),
                                 showProgress: try o.boolean("progress", default: false), topK: k)
            }
            call.push(e.errorPercent)
            call.push(e.loss)
            if let topK = e.topKErrorPercent { call.push(topK); return 3 }
            return 2
        },
        // wb.describe(model [, {input = {C, H, W}, file = path}]) -> the per-layer table (weights,
        // nonzeros, density, bytes on disk, FLOPs dense and sparse) as text; file: count the
        // bytes of that model file (else of a lossless compressed file)
        "describe": { call in
            let model = try sequential(call, 1)
            let o = try LuaOptions(call, 2, allowed: ["input", "file"])
            var shape: [Int]?
            if let i = try o.tableIndex("input") {
                defer { wb_pop(call.L, 1) }
                shape = try call.integerArray(i)
                guard let s = shape, !s.isEmpty, s.count <= 3, s.allSatisfy({ (1...65536).contains($0) }) else {
                    throw call.error("option 'input' must be {C, H, W} or {features}, each in 1...65536")
                }
            }
            call.push(try ModelSummary(model, imageShape: shape, file: try o.string("file")).table)
            return 1
        },
        // wb.layerInputs(model, data, layer [, {batchSize = 250}]) -> the outputs of modules
        // 1..layer-1 for every batch of data, computed once: wb.test(m, inputs) then runs only
        // the modules from `layer` on (the same numbers as wb.test(m, data) when m's earlier
        // modules are those of `model`); data may be the layer inputs of an earlier layer of
        // `model`: then only the modules between them run
        "layerInputs": { call in
            let model = try sequential(call, 1)
            let layer = try call.integer(3)
            let o = try LuaOptions(call, 4, allowed: ["batchSize"])
            do {
                if let earlier: LayerInputs = call.object(2, layerInputsClass) {
                    call.pushObject(try LayerInputs(model, from: earlier, layer: layer), className: layerInputsClass)
                } else {
                    let data = try DatasetBindings.dataset(call, 2)
                    call.pushObject(try LayerInputs(model, data, layer: layer, batchSize: try o.integer("batchSize", default: 250, atLeast: 1)),
                                    className: layerInputsClass)
                }
            } catch let e as EngineError { throw call.error(e.message) }
            return 1
        },
        // wb.compression(model) -> fraction of all weights that are zero (the reference's Total Compression)
        "compression": { call in
            call.push(Pruning.totalCompression(try call.requireObject(1, ModuleBindings.className, expected: "nn module") as Module))
            return 1
        },
        // wb.weightCount(model) -> number of weights (biases not counted)
        "weightCount": { call in
            call.push(Pruning.weightCount(try call.requireObject(1, ModuleBindings.className, expected: "nn module") as Module))
            return 1
        },
        // wb.topkCorrect(scores, labels, k) -> how many rows of scores [n, classes] have their
        // 1-based label among the k largest scores (ties to the lower class)
        "topkCorrect": { call in
            let scores = try call.tensor(1), labels = try call.tensor(2).clone()
            labels.addScalar(-1)
            do { call.push(try topKCorrect(scores, labels, k: try call.integer(3, atLeast: 1))) } catch let e as EngineError {
                throw call.error(e.message)
            }
            return 1
        },
        // wb.mkdir(path) : creates the folder and its parents if missing
        "mkdir": { call in
            let path = try call.string(1)
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw call.error("cannot create folder \(path): \(error.localizedDescription)")
            }
            return 0
        },
        // wb.writeFile(path, text) : writes atomically (a temporary file, then rename)
        "writeFile": { call in
            try AtomicFile.write(Array(try call.string(2).utf8), to: try call.string(1))
            return 0
        },
        // wb.saveTensors(path, {{name, tensor}, ...} [, {key = 'value'}]) : a safetensors file of
        // those tensors in that order (float32, finite), written atomically
        "saveTensors": { call in
            let path = try call.string(1)
            guard call.isTable(2) else { throw call.argumentError(2, "expected a list of {name, tensor} pairs") }
            let L = call.L
            var tensors = [(name: String, tensor: Tensor)]()
            for k in stride(from: 1, through: Int(lua_rawlen(L, 2)), by: 1) {
                lua_rawgeti(L, 2, lua_Integer(k))
                defer { wb_pop(L, 1) }
                let pair = lua_gettop(L)
                guard lua_type(L, pair) == LUA_TTABLE else { throw call.argumentError(2, "entry \(k) is not a {name, tensor} pair") }
                lua_rawgeti(L, pair, 1)
                lua_rawgeti(L, pair, 2)
                defer { wb_pop(L, 2) }
                guard lua_type(L, -2) == LUA_TSTRING, let t: Tensor = call.object(Int(lua_gettop(L)), TensorBindings.className) else {
                    throw call.argumentError(2, "entry \(k) is not a {name, tensor} pair")
                }
                let name = String(cString: wb_tostring(L, -2)!)
                guard !tensors.contains(where: { $0.name == name }) else { throw call.argumentError(2, "tensor name '\(name)' given twice") }
                if let i = (0..<t.count).first(where: { !t.data[$0].isFinite }) {
                    throw call.error("cannot save \(path): tensor '\(name)' holds \(t.data[i]) at index \(i + 1)")
                }
                tensors.append((name, t))
            }
            var meta: [String: String] = [:]
            if call.isTable(3) {
                lua_pushnil(L)
                while lua_next(L, 3) != 0 {
                    defer { wb_pop(L, 1) }
                    guard lua_type(L, -2) == LUA_TSTRING, lua_type(L, -1) == LUA_TSTRING else {
                        wb_pop(L, 1)
                        throw call.argumentError(3, "metadata must map strings to strings")
                    }
                    meta[String(cString: wb_tostring(L, -2)!)] = String(cString: wb_tostring(L, -1)!)
                }
            }
            try AtomicFile.write(try SafetensorsFile.encode(tensors, metadata: meta), to: path)
            return 0
        },
        // wb.loadTensors(path) -> {name = tensor, ...}, {key = 'value'} : every tensor of a safetensors file
        "loadTensors": { call in
            let file = try SafetensorsFile(contentsOf: try call.string(1))
            var out: [String: LuaValue] = [:]
            for e in file.entries {
                guard let t = file.tensor(e.name) else { throw call.error("\(file.file): tensor '\(e.name)' is not float32") }
                out[e.name] = .tensor(t)
            }
            LuaValue.record(out).push(call.L)
            LuaValue.record(file.metadata.mapValues { .string($0) }).push(call.L)
            return 2
        },
        // wb.scriptsDirectory() -> the repository's scripts/ folder
        "scriptsDirectory": { call in
            guard let dir = call.context.scriptsDirectory else { throw call.error("the scripts/ folder was not found") }
            call.push(dir)
            return 1
        },
        // wb.clock() -> seconds (monotonic), for timing in scripts
        "clock": { call in
            call.push(Double(DispatchTime.now().uptimeNanoseconds) / 1e9)
            return 1
        },
    ]

    static func progressTable(_ p: TrainProgress) -> [String: LuaValue] {
        ["epoch": .number(Double(p.epoch)), "batch": .number(Double(p.batch)), "batches": .number(Double(p.batches)),
         "loss": .number(Double(p.loss)), "examples": .number(Double(p.examples))]
    }
}
