import ArgumentParser
import Bridge
import Engine
import Foundation

/// `workbench [prune] FLAGS`: the reference tool's command line, flag for flag (Torch CmdLine
/// style: single dash), handed as the table `opt` to scripts/main.lua, which runs the flow.
/// `Workbench`'s default subcommand: `workbench -l 8 -p 0.7 -reTrain` runs it. Its help is
/// the tool's help (`Workbench.helpText`), so it keeps the tool's overview and usage line, and
/// it is not listed among the subcommands.
struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: Workbench.abstract,
        usage: "workbench <options> <subcommand>",
        discussion: """
        Without a subcommand, runs the 2016 Torch7 pruner's flow (scripts/main.lua) with its \
        single-dash flags, listed below. Layer indices are positions in the model's \
        nn.Sequential, from 1 (in the reference LeNet-5, layer 8 is Linear(2400, 120)). With \
        -l 0 the layers and fractions come from inp/<model>.conf: two CSV lines, the layer \
        indices and the fraction to prune for each (e.g. 1,4,8,10,12 then 0.5,0.7,0.95,0.7,0.5). \
        Step i of -iPruning n prunes p/n*i of the layer (weights already pruned count). The \
        test error is printed after pruning and after retraining; <logDir>/<jobID>.plotlog \
        gets LayerNo,Retained%,TestError per step, <logDir>/<jobID>.opts the options, and the \
        pruned model goes to out/<model>.safetensors.

        Every numeric flag is checked against the range given in its help before any work \
        (negative numbers are read as numbers: -threads -3 is refused as out of range). The \
        folders a run writes (-logDir, -out, and -inp with -train) are created and checked \
        writable before the data is loaded. A run locks what it writes (its -jobID's logs, \
        its model file): a second run into the same files is refused, naming the first one's \
        pid; the locks go with the process, so a killed run leaves none behind. -luaMemory \
        caps the Lua interpreter's own memory (tensors are not counted) and -luaTimeout stops \
        a script that runs too long (e.g. a -prunerFile that never returns). Training that \
        diverges (NaN or infinite weights) stops the run; no such model is written.

        Examples:
          workbench -l 8 -p 0.7 -reTrain
              prune 70% of layer 8 of inp/lenet5.safetensors, test, retrain, test
          workbench -iPruning 10 -reTrain -nEpochs 3 -l 8 -p 0.7
              iterative pruning: 10 steps of 7%, 3 retraining epochs each
          workbench -reLoad -iPruning 20 -l 8 -p 1
              sensitivity data: one-shot pruning at 5%, 10%, ... 100%
          workbench
              layers and fractions from inp/lenet5.conf
          workbench -acctradeoff 1 -iPruning 10 -reTrain -l 10 -p 1
              stop pruning layer 10 once its error grows by more than 1 point
          workbench -global -p 0.917 -conf inp/lenet5-han2015.conf -pruneSchedule 0.46,0.72,0.85,0.9,0.93,0.95,0.965,0.978,0.99,1 -reTrain -nEpochs 1 -LRretrain 0.004 -LRdecaySteps -weightDecay 0.0003 -finalEpochs 25 -LRfinal 0.005 -LRdecayFinal
              Han et al. 2015's recipe: the layers ranked together to 91.7% under the .conf's caps, retraining at reduced rates decaying to 0 (12.0x at 8.51%, docs/recipes.md)
          workbench -l 8 -p 0.9 -pruner taylor2 -prunerOptions hessian=fisher
              another criterion (mag, taylor1, taylor2, taylor12, l1, l2, emp, random)
          workbench -structure unit -l 4 -p 0.5 -pruner taylor -reTrain
              remove half of conv2's filters (and fc1's inputs that read them), retrain
          workbench -l 8 -p 0.9 -pruner mycrit -prunerFile my-criterion.lua
              a criterion written in Lua (wb.registerPruner)
          workbench -test
              total compression and error of out/lenet5.safetensors
          workbench -train -nEpochs 20
              train scripts/models/lenet5.lua into inp/lenet5.safetensors
          workbench run scripts/examples/prune-fc-iteratively.lua
              run a Lua script (see docs/lua-api.md)
          workbench bench
              speed and memory of the engine on this machine
        """,
        shouldDisplay: false
    )

    // The reference tool's flags, with its defaults. Numeric flags keep their text and are
    // checked in validate() (NumberText): ranges, finiteness, negative numbers as numbers.
    @Option(name: .customShort("l"), parsing: .unconditional,
            help: ArgumentHelp("Index of the layer to prune, 0...\(Limits.layer.upperBound); 0 reads inp/<model>.conf.", valueName: "l"))
    var lText = NumberText(0)
    @Option(name: .customShort("p"), parsing: .unconditional,
            help: ArgumentHelp("Fraction of the layer's weights to prune, in [0, 1] (0.7 prunes 70%).", valueName: "p"))
    var pText = NumberText(0)
    @Flag(name: .customLong("reTrain", withSingleDash: true), help: "Retrain after each pruning step.")
    var reTrain = false
    @Option(name: .customLong("nEpochs", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("Retraining epochs per step (with -train: training epochs), \(Limits.epochs.lowerBound)...\(Limits.epochs.upperBound).",
                               valueName: "nEpochs"))
    var nEpochsText = NumberText(1)
    @Option(name: [.customLong("iPruning", withSingleDash: true), .customLong("iPrunning", withSingleDash: true)],
            parsing: .unconditional,
            help: ArgumentHelp("Number of steps to reach -p, \(Limits.iterations.lowerBound)...\(Limits.iterations.upperBound) (also spelled -iPrunning).",
                               valueName: "iPruning"))
    var iPruningText = NumberText(1)
    @Flag(name: .customLong("reLoad", withSingleDash: true), help: "Reload the original model after each step (sensitivity data).")
    var reLoad = false
    @Option(name: .customLong("acctradeoff", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("Stop pruning a layer once its test error exceeds the initial error by more than this many points, in [0, \(Int(Limits.maxAccTradeoff))].",
                               valueName: "acctradeoff"))
    var acctradeoffText = NumberText(100)
    @Option(name: .customLong("pruner", withSingleDash: true),
            help: "Pruning criterion: mag, taylor1, taylor2, taylor12, l1, l2, emp, random, or one registered by -prunerFile.")
    var pruner: String = "mag"
    @Option(name: .customLong("structure", withSingleDash: true),
            help: "What a step removes: weight (masks), or unit (whole neurons and filters, physically: the fraction counts units; -pruner l1 (mag), l2, activation, taylor, loss).")
    var structure: String = "weight"
    @Option(name: .customLong("model", withSingleDash: true),
            help: "Model name: inp/<model>.safetensors, inp/<model>.conf, scripts/models/<model>.lua.")
    var model: String = "lenet5"
    @Option(name: .customLong("data", withSingleDash: true),
            help: "Dataset: fashion-mnist, mnist (data/mnist/), cifar10 (data/cifar-10-batches-bin/), or a folder.")
    var data: String = "fashion-mnist"
    @Option(name: .customLong("batchsize", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("Minibatch size, \(Limits.batchSize.lowerBound)...\(Limits.batchSize.upperBound).", valueName: "batchsize"))
    var batchsizeText = NumberText(128)
    @Option(name: .customLong("LR", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("Learning rate, in (0, \(Int(Limits.maxLearningRate))].", valueName: "LR"))
    var LRText = NumberText(0.01)
    @Option(name: .customLong("momentum", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("Momentum, in [0, 1).", valueName: "momentum"))
    var momentumText = NumberText(0.9)
    @Option(name: .customLong("manualSeed", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("Random seed, 0...2^53-1.", valueName: "manualSeed"))
    var manualSeedText = NumberText(0)
    @Option(name: .customLong("logDir", withSingleDash: true), help: "Folder for the .plotlog and .opts files.")
    var logDir: String = "logs"
    @Option(name: .customLong("jobID", withSingleDash: true),
            help: "Names the log files; two runs at once need different -jobID (or -logDir).")
    var jobID: String = "localMain"
    @Flag(name: .customLong("verbose", withSingleDash: true), help: "Per-batch lines instead of a progress bar.")
    var verbose = false
    @Flag(name: .customLong("test", withSingleDash: true), help: "Load out/<model>.safetensors, print total compression and error, exit.")
    var test = false
    @Flag(name: .customLong("train", withSingleDash: true),
          help: "Train scripts/models/<model>.lua from scratch (-nEpochs, -LR) and write inp/<model>.safetensors.")
    var train = false
    @Flag(name: .customLong("cuda", withSingleDash: true), help: "Not supported: the workbench runs on the CPU.")
    var cuda = false

    // Beyond the reference.
    @OptionGroup var engine: ThreadOptions
    @Option(name: .customLong("scoreSize", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("Images in the pruners' scoring set (a seeded subset of the training data), \(Limits.scoreSize.lowerBound)...\(Limits.scoreSize.upperBound).",
                               valueName: "scoreSize"))
    var scoreSizeText = NumberText(1000)
    @Option(name: .customLong("scoreSet", withSingleDash: true), help: "Scoring set drawn from: train or test.")
    var scoreSet: String = "train"
    @Option(name: .customLong("prunerOptions", withSingleDash: true),
            help: "Pruner settings as name=value pairs, e.g. hessian=fisher,lambda=0.001 (see docs/pruners.md).")
    var prunerOptions: String = ""
    @Option(name: .customLong("prunerFile", withSingleDash: true),
            help: "A Lua file that registers pruning criteria with wb.registerPruner (then use -pruner NAME).")
    var prunerFile: String?
    @Option(name: .customLong("trainSize", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("Use the first N training images, 0...\(Limits.subsetSize.upperBound) (0: all).", valueName: "trainSize"))
    var trainSizeText = NumberText(0)
    @Option(name: .customLong("testSize", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("Use the first N test images, 0...\(Limits.subsetSize.upperBound) (0: all).", valueName: "testSize"))
    var testSizeText = NumberText(0)
    @Option(name: .customLong("inp", withSingleDash: true), help: "Folder of the shipped models and .conf files.")
    var inp: String = "inp"
    @Option(name: .customLong("out", withSingleDash: true), help: "Folder the pruned model is written to.")
    var out: String = "out"
    @OptionGroup var luaLimits: LuaLimitOptions
    @OptionGroup var tensorBoard: TensorBoardOptions
    @OptionGroup var recipe: RecipeOptions

    // The numeric flags' values: validate() has checked that these succeed.
    var l: Int { (try? lText.integer("-l", in: Limits.layer)) ?? 0 }
    var p: Double { (try? pText.real("-p", "", { _ in true })) ?? 0 }
    var nEpochs: Int { (try? nEpochsText.integer("-nEpochs", in: Limits.epochs)) ?? 1 }
    var iPruning: Int { (try? iPruningText.integer("-iPruning", in: Limits.iterations)) ?? 1 }
    var acctradeoff: Double { (try? acctradeoffText.real("-acctradeoff", "", { _ in true })) ?? 100 }
    var batchsize: Int { (try? batchsizeText.integer("-batchsize", in: Limits.batchSize)) ?? 128 }
    var LR: Double { (try? LRText.real("-LR", "", { _ in true })) ?? 0.01 }
    var momentum: Double { (try? momentumText.real("-momentum", "", { _ in true })) ?? 0.9 }
    var manualSeed: Int { (try? manualSeedText.integer("-manualSeed", in: Limits.seed)) ?? 0 }
    var scoreSize: Int { (try? scoreSizeText.integer("-scoreSize", in: Limits.scoreSize)) ?? 1000 }
    var trainSize: Int { (try? trainSizeText.integer("-trainSize", in: Limits.subsetSize)) ?? 0 }
    var testSize: Int { (try? testSizeText.integer("-testSize", in: Limits.subsetSize)) ?? 0 }

    mutating func validate() throws {
        if cuda { throw ValidationError("-cuda: there is no GPU support; the workbench runs on the CPU (-threads N).") }
        _ = try lText.integer("-l", in: Limits.layer, note: " (a layer index, or 0 to read inp/\(model).conf)")
        _ = try pText.real("-p", "a fraction in [0, 1]") { (0...1).contains($0) }
        _ = try nEpochsText.integer("-nEpochs", in: Limits.epochs)
        _ = try iPruningText.integer("-iPruning", in: Limits.iterations)
        _ = try acctradeoffText.real("-acctradeoff", "a finite number of error points in [0, \(Int(Limits.maxAccTradeoff))]") {
            $0 >= 0 && $0 <= Limits.maxAccTradeoff
        }
        _ = try batchsizeText.integer("-batchsize", in: Limits.batchSize)
        _ = try LRText.real("-LR", "a finite learning rate in (0, \(Int(Limits.maxLearningRate))]") { $0 > 0 && $0 <= Limits.maxLearningRate }
        _ = try momentumText.real("-momentum", "in [0, 1)") { $0 >= 0 && $0 < 1 }
        _ = try manualSeedText.integer("-manualSeed", in: Limits.seed)
        try engine.check()
        _ = try scoreSizeText.integer("-scoreSize", in: Limits.scoreSize)
        if !["weight", "unit"].contains(structure) { throw ValidationError("-structure must be weight or unit, got \(structure)") }
        if !["train", "test"].contains(scoreSet) { throw ValidationError("-scoreSet must be train or test, got \(scoreSet)") }
        _ = try trainSizeText.integer("-trainSize", in: Limits.subsetSize, note: " (0: all)")
        _ = try testSizeText.integer("-testSize", in: Limits.subsetSize, note: " (0: all)")
        if jobID.isEmpty || jobID.contains("/") { throw ValidationError("-jobID must be a non-empty name without '/', got '\(jobID)'") }
        try luaLimits.check()
        try tensorBoard.check()
        try recipe.check(iPruning: iPruning)
        if structure == "unit" && recipe.global {
            throw ValidationError("-global ranks weights across layers; with -structure unit each layer's units are ranked on their own: give one of them")
        }
        if test && train { throw ValidationError("-test and -train exclude each other") }
    }

    /// The options as the Lua flow sees them (`opt.l`, `opt.reTrain`, ...).
    var options: [String: LuaValue] {
        var o: [String: LuaValue] = [
            "l": .number(Double(l)), "p": .number(p), "reTrain": .boolean(reTrain), "nEpochs": .number(Double(nEpochs)),
            "iPruning": .number(Double(iPruning)), "reLoad": .boolean(reLoad), "acctradeoff": .number(acctradeoff),
            "pruner": .string(pruner), "structure": .string(structure), "model": .string(model), "data": .string(data),
            "batchsize": .number(Double(batchsize)), "LR": .number(LR), "momentum": .number(momentum),
            "manualSeed": .number(Double(manualSeed)), "logDir": .string(logDir), "jobID": .string(jobID),
            "verbose": .boolean(verbose), "test": .boolean(test), "train": .boolean(train),
            "threads": .number(Double(engine.threads)), "scoreSize": .number(Double(scoreSize)), "scoreSet": .string(scoreSet),
            "prunerOptions": .string(prunerOptions),
            "trainSize": .number(Double(trainSize)), "testSize": .number(Double(testSize)),
            "inp": .string(inp), "out": .string(out),
            "luaMemory": .number(Double(luaLimits.memoryMB)), "luaTimeout": .number(luaLimits.timeout),
        ]
        if let prunerFile { o["prunerFile"] = .string(prunerFile) }
        tensorBoard.add(to: &o)
        recipe.add(to: &o)
        return o
    }

    /// The run's locks, taken before any work: the logs of -jobID in -logDir and the model
    /// file the run writes (out/<model>, or inp/<model> with -train). Taking them also checks
    /// that those folders can be written.
    func acquireLocks() throws -> [RunLock] {
        func shown(_ folder: String, _ file: String) -> String {
            folder.isEmpty || folder == "." ? file : (folder as NSString).appendingPathComponent(file)
        }
        let modelFile = model + ".safetensors"
        if test { return [] }
        if train {
            return [try RunLock.acquire(folder: inp, name: modelFile, what: shown(inp, modelFile), flag: "-inp",
                                        hint: "another -model or -inp")]
        }
        let logs = try RunLock.acquire(folder: logDir, name: jobID, what: shown(logDir, jobID + ".*"), flag: "-logDir",
                                       hint: "-jobID")
        do {
            let model = try RunLock.acquire(folder: out, name: modelFile, what: shown(out, modelFile), flag: "-out",
                                            hint: "another -out")
            return [logs, model]
        } catch {
            logs.release()
            throw error
        }
    }

    func run() throws {
        engine.apply()
        try runReportingErrors {
            let locks = try acquireLocks()
            defer { locks.forEach { $0.release() } }
            let lua = try LuaRuntime()
            luaLimits.apply(to: lua)
            guard let scripts = lua.context.scriptsDirectory else {
                throw CLIError("cannot find the scripts/ folder (with scripts/main.lua); run from the repository or set WORKBENCH_SCRIPTS")
            }
            lua.setGlobal("opt", .record(options))
            try lua.run(file: scripts + "/main.lua")
        }
    }
}
