import ArgumentParser
import Bridge
import Engine
import Foundation

/// `workbench`: the reference tool's command line, flag for flag (Torch CmdLine style: single
/// dash), handed as the table `opt` to scripts/main.lua, which runs the flow; `run` runs any
/// Lua script, `bench` measures the engine.
struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workbench",
        abstract: "Prune, retrain, measure and compare neural networks on the CPU, scripted in Lua.",
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
          workbench -l 8 -p 0.9 -pruner taylor2 -prunerOptions hessian=fisher
              another criterion (mag, taylor1, taylor2, taylor12, l1, l2, emp, random)
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
        subcommands: [RunCommand.self, BenchCommand.self, FuzzCommand.self]
    )

    // The reference tool's flags, with its defaults.
    @Option(name: .customShort("l"), help: "Index of the layer to prune; 0 reads inp/<model>.conf.")
    var l: Int = 0
    @Option(name: .customShort("p"), help: "Fraction of the layer's weights to prune (0.7 prunes 70%).")
    var p: Double = 0
    @Flag(name: .customLong("reTrain", withSingleDash: true), help: "Retrain after each pruning step.")
    var reTrain = false
    @Option(name: .customLong("nEpochs", withSingleDash: true), help: "Retraining epochs per step (with -train: training epochs).")
    var nEpochs: Int = 1
    @Option(name: [.customLong("iPruning", withSingleDash: true), .customLong("iPrunning", withSingleDash: true)],
            help: "Number of steps to reach -p (also spelled -iPrunning).")
    var iPruning: Int = 1
    @Flag(name: .customLong("reLoad", withSingleDash: true), help: "Reload the original model after each step (sensitivity data).")
    var reLoad = false
    @Option(name: .customLong("acctradeoff", withSingleDash: true),
            help: "Stop pruning a layer once its test error exceeds the initial error by more than this many points.")
    var acctradeoff: Double = 100
    @Option(name: .customLong("pruner", withSingleDash: true),
            help: "Pruning criterion: mag, taylor1, taylor2, taylor12, l1, l2, emp, random, or one registered by -prunerFile.")
    var pruner: String = "mag"
    @Option(name: .customLong("model", withSingleDash: true),
            help: "Model name: inp/<model>.safetensors, inp/<model>.conf, scripts/models/<model>.lua.")
    var model: String = "lenet5"
    @Option(name: .customLong("data", withSingleDash: true),
            help: "Dataset: fashion-mnist, mnist (data/mnist/), cifar10 (data/cifar-10-batches-bin/), or a folder.")
    var data: String = "fashion-mnist"
    @Option(name: .customLong("batchsize", withSingleDash: true), help: "Minibatch size.")
    var batchsize: Int = 128
    @Option(name: .customLong("LR", withSingleDash: true), help: "Learning rate.")
    var LR: Double = 0.01
    @Option(name: .customLong("momentum", withSingleDash: true), help: "Momentum.")
    var momentum: Double = 0.9
    @Option(name: .customLong("manualSeed", withSingleDash: true), help: "Random seed.")
    var manualSeed: Int = 0
    @Option(name: .customLong("logDir", withSingleDash: true), help: "Folder for the .plotlog and .opts files.")
    var logDir: String = "logs"
    @Option(name: .customLong("jobID", withSingleDash: true), help: "Names the log files.")
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
    @Option(name: .customLong("threads", withSingleDash: true), help: "Threads for the engine.")
    var threads: Int = defaultThreads
    @Option(name: .customLong("scoreSize", withSingleDash: true),
            help: "Images in the pruners' scoring set (a seeded subset of the training data).")
    var scoreSize: Int = 1000
    @Option(name: .customLong("scoreSet", withSingleDash: true), help: "Scoring set drawn from: train or test.")
    var scoreSet: String = "train"
    @Option(name: .customLong("prunerOptions", withSingleDash: true),
            help: "Pruner settings as name=value pairs, e.g. hessian=fisher,lambda=0.001 (see docs/pruners.md).")
    var prunerOptions: String = ""
    @Option(name: .customLong("prunerFile", withSingleDash: true),
            help: "A Lua file that registers pruning criteria with wb.registerPruner (then use -pruner NAME).")
    var prunerFile: String?
    @Option(name: .customLong("trainSize", withSingleDash: true), help: "Use the first N training images (0: all).")
    var trainSize: Int = 0
    @Option(name: .customLong("testSize", withSingleDash: true), help: "Use the first N test images (0: all).")
    var testSize: Int = 0
    @Option(name: .customLong("inp", withSingleDash: true), help: "Folder of the shipped models and .conf files.")
    var inp: String = "inp"
    @Option(name: .customLong("out", withSingleDash: true), help: "Folder the pruned model is written to.")
    var out: String = "out"

    func validate() throws {
        if cuda { throw ValidationError("-cuda: there is no GPU support; the workbench runs on the CPU (-threads N).") }
        if l < 0 { throw ValidationError("-l must be a layer index (1, 2, ...) or 0 to read inp/\(model).conf, got \(l)") }
        if !(0...1).contains(p) { throw ValidationError("-p must be a fraction in [0, 1], got \(p)") }
        if nEpochs < 0 { throw ValidationError("-nEpochs must be 0 or more, got \(nEpochs)") }
        if iPruning < 1 { throw ValidationError("-iPruning must be 1 or more, got \(iPruning)") }
        if batchsize < 1 { throw ValidationError("-batchsize must be 1 or more, got \(batchsize)") }
        if threads < 1 { throw ValidationError("-threads must be 1 or more, got \(threads)") }
        if scoreSize < 1 { throw ValidationError("-scoreSize must be 1 or more, got \(scoreSize)") }
        if !["train", "test"].contains(scoreSet) { throw ValidationError("-scoreSet must be train or test, got \(scoreSet)") }
        if trainSize < 0 || testSize < 0 { throw ValidationError("-trainSize and -testSize must be 0 (all) or more") }
        if test && train { throw ValidationError("-test and -train exclude each other") }
    }

    /// The options as the Lua flow sees them (`opt.l`, `opt.reTrain`, ...).
    var options: [String: LuaValue] {
        var o: [String: LuaValue] = [
            "l": .number(Double(l)), "p": .number(p), "reTrain": .boolean(reTrain), "nEpochs": .number(Double(nEpochs)),
            "iPruning": .number(Double(iPruning)), "reLoad": .boolean(reLoad), "acctradeoff": .number(acctradeoff),
            "pruner": .string(pruner), "model": .string(model), "data": .string(data),
            "batchsize": .number(Double(batchsize)), "LR": .number(LR), "momentum": .number(momentum),
            "manualSeed": .number(Double(manualSeed)), "logDir": .string(logDir), "jobID": .string(jobID),
            "verbose": .boolean(verbose), "test": .boolean(test), "train": .boolean(train),
            "threads": .number(Double(threads)), "scoreSize": .number(Double(scoreSize)), "scoreSet": .string(scoreSet),
            "prunerOptions": .string(prunerOptions),
            "trainSize": .number(Double(trainSize)), "testSize": .number(Double(testSize)),
            "inp": .string(inp), "out": .string(out),
        ]
        if let prunerFile { o["prunerFile"] = .string(prunerFile) }
        return o
    }

    func run() throws {
        Parallel.setThreads(threads)
        try runReportingErrors {
            let lua = try LuaRuntime()
            guard let scripts = lua.context.scriptsDirectory else {
                throw CLIError("cannot find the scripts/ folder (with scripts/main.lua); run from the repository or set WORKBENCH_SCRIPTS")
            }
            lua.setGlobal("opt", .record(options))
            try lua.run(file: scripts + "/main.lua")
        }
    }
}
