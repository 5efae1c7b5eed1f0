import ArgumentParser
import Bridge
import Engine
import Foundation

/// `workbench sweep [--layers ...] [--levels ...] [--pruners ...] [--seeds ...]`: sensitivity
/// analysis, one cell per (pruner, layer, level, seed), run in this process (`--jobs 1`), in N
/// local worker processes (`--jobs N`, `SweepWorkers`) or as a Slurm job array (`--slurm`,
/// `SweepSlurm`), with the same numbers. The grid and each cell's work are in
/// scripts/sweep.lua; this command checks the flags, takes the folder's lock and runs the
/// processes (docs/sweep.md).
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Sensitivity sweep: prune each layer to each level, retrain, test; CSV and plots (docs/sweep.md).",
        discussion: """
        A cell loads the model, prunes one layer to one level with one pruner and seed (one-shot, \
        as -reLoad), retrains --retrain-epochs epochs (0: none) and tests on the test set. \
        Results: DIR/sensitivity.csv (parameter,sparsity,top1,top5,loss as Distiller writes \
        them, parameter the PyTorch state_dict key, then layer,pruner,seed,retrain_epochs, \
        error_before_retrain,seconds), DIR/<pruner>_seed<s>.plotlog (the reference tool's \
        LayerNo,Retained%,TestError), DIR/<pruner>.svg (top-1 accuracy against the fraction \
        pruned, one line per layer; a second panel after retraining) and DIR/index.html.

        Each cell's result is written atomically to DIR/cells/ as soon as it is done: running \
        the same command again skips the cells with a result and redoes those whose file is \
        missing or cut short. DIR/sweep.json keeps the settings; other settings into the same \
        DIR are refused. The numbers depend on the seeds and --threads-per-job, not on the mode.

        Examples:
          workbench sweep --layers 1,4,8,10,12 --levels 0.05:1:0.05 --jobs 2 --out out/sweep-oneshot
              one-shot sensitivity of every layer of inp/lenet5, 20 levels, 2 processes
          workbench sweep --levels 0.05:1:0.05 --retrain-epochs 3 --jobs 2 --out out/sweep-retrain
              the reference tool's sweep: 3 retraining epochs per cell
          workbench sweep --layers 8 --levels 0.5,0.9,0.95 --pruners mag,taylor2 --seeds 0,1,2 --out out/fc1
              two criteria, three seeds, on fc1
          workbench sweep --retrain-epochs 3 --slurm --cells-per-task 20 --time 2:00:00 --sbatch-arg=--partition=cpu --out out/s
              a job array on a cluster; then: workbench sweep --merge out/s
          workbench sweep --slurm --wait --out out/s
              submit, wait for the job, merge
        """
    )

    // The grid.
    @Option(name: .customLong("layers"), parsing: .unconditional, help: ArgumentHelp("Layers to prune, 1-based indices (default: every layer with weights).", valueName: "L,L,..."))
    var layers: String?
    @Option(name: .customLong("levels"), parsing: .unconditional,
            help: ArgumentHelp("Fractions of the layer to prune, in [0, 1]: START:STOP:STEP (STOP included) or a list.", valueName: "levels"))
    var levels = "0.05:1:0.05"
    @Option(name: .customLong("pruners"), help: ArgumentHelp("Pruning criteria (mag, taylor1, taylor2, taylor12, l1, l2, emp, random, or of --pruner-file).", valueName: "P,P,..."))
    var pruners = "mag"
    @Option(name: .customLong("seeds"), parsing: .unconditional, help: ArgumentHelp("Seeds: each cell's pruner scoring subset, random criteria and retraining order.", valueName: "S,S,..."))
    var seeds = "0"
    @Option(name: .customLong("retrain-epochs"), parsing: .unconditional,
            help: ArgumentHelp("Retraining epochs of each cell after pruning, \(Limits.epochs.lowerBound)...\(Limits.epochs.upperBound) (0: none).", valueName: "N"))
    var retrainEpochsText = NumberText(0)

    // The default flow's settings that apply to a cell.
    @Option(name: .customLong("model"), help: ArgumentHelp("Model name (<inp>/<model>.safetensors or .wbz) or a model file.", valueName: "NAME|FILE"))
    var model = "lenet5"
    @Option(name: .customLong("inp"), help: ArgumentHelp("Folder of the shipped models.", valueName: "DIR"))
    var inp = "inp"
    @Option(name: .customLong("data"), help: "Dataset: fashion-mnist, mnist (data/mnist/), cifar10 (data/cifar-10-batches-bin/), or a folder.")
    var data = "fashion-mnist"
    @Option(name: .customLong("train-size"), parsing: .unconditional,
            help: ArgumentHelp("Use the first N training images, 0...\(Limits.subsetSize.upperBound) (0: all).", valueName: "N"))
    var trainSizeText = NumberText(0)
    @Option(name: .customLong("test-size"), parsing: .unconditional,
            help: ArgumentHelp("Use the first N test images, 0...\(Limits.subsetSize.upperBound) (0: all).", valueName: "N"))
    var testSizeText = NumberText(0)
    @Option(name: .customLong("lr"), parsing: .unconditional,
            help: ArgumentHelp("Retraining learning rate, in (0, \(Int(Limits.maxLearningRate))].", valueName: "LR"))
    var lrText = NumberText(0.01)
    @Option(name: .customLong("momentum"), parsing: .unconditional, help: ArgumentHelp("Retraining momentum, in [0, 1).", valueName: "m"))
    var momentumText = NumberText(0.9)
    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: ArgumentHelp("Retraining weight decay, in [0, 1].", valueName: "wd"))
    var weightDecayText = NumberText(0)
    @Option(name: .customLong("batch-size"), parsing: .unconditional,
            help: ArgumentHelp("Minibatch size of retraining and scoring, \(Limits.batchSize.lowerBound)...\(Limits.batchSize.upperBound).", valueName: "N"))
    var batchSizeText = NumberText(128)
    @Option(name: .customLong("score-size"), parsing: .unconditional,
            help: ArgumentHelp("Images in the pruners' scoring set (a subset drawn with the cell's seed), \(Limits.scoreSize.lowerBound)...\(Limits.scoreSize.upperBound).", valueName: "N"))
    var scoreSizeText = NumberText(1000)
    @Option(name: .customLong("score-set"), help: ArgumentHelp("Scoring set drawn from: train or test.", valueName: "train|test"))
    var scoreSet = "train"
    @Option(name: .customLong("pruner-options"), help: ArgumentHelp("Pruner settings as name=value pairs, e.g. hessian=fisher (docs/pruners.md).", valueName: "k=v,..."))
    var prunerOptions = ""
    @Option(name: .customLong("pruner-file"), help: ArgumentHelp("A Lua file that registers criteria with wb.registerPruner.", valueName: "FILE.lua"))
    var prunerFile: String?

    // Where and how it runs.
    @Option(name: .customLong("out"), help: ArgumentHelp("The sweep's folder: cells, settings, CSV, plots.", valueName: "DIR"))
    var out = "out/sweep"
    @Option(name: .customLong("jobs"), parsing: .unconditional,
            help: ArgumentHelp("Local processes running cells, \(Self.jobRange.lowerBound)...\(Self.jobRange.upperBound) (1: this process).", valueName: "N"))
    var jobsText = NumberText(1)
    @Option(name: .customLong("threads-per-job"), parsing: .unconditional,
            help: ArgumentHelp("Engine threads of each process (and --cpus-per-task with --slurm), \(Limits.threads.lowerBound)...\(Limits.threads.upperBound).", valueName: "T"))
    var threadsText = NumberText(1)
    @OptionGroup var slurmOptions: SlurmOptions
    @Option(name: .customLong("merge"), help: ArgumentHelp("Collect the results of the sweep in DIR (after --slurm) into the CSV and plots.", valueName: "DIR"))
    var merge: String?

    // A process of the sweep started by the sweep itself.
    @Flag(name: .customLong("worker"), help: .hidden) var worker = false
    @Option(name: .customLong("task"), help: .hidden) var task: Int?
    @Option(name: .customLong("started"), help: .hidden) var started: Double?

    static let jobRange = 1...256

    var retrainEpochs: Int { (try? retrainEpochsText.integer("--retrain-epochs", in: Limits.epochs)) ?? 0 }
    var jobs: Int { (try? jobsText.integer("--jobs", in: Self.jobRange)) ?? 1 }
    var threads: Int { (try? threadsText.integer("--threads-per-job", in: Limits.threads)) ?? 1 }

    mutating func validate() throws {
        _ = try retrainEpochsText.integer("--retrain-epochs", in: Limits.epochs)
        _ = try trainSizeText.integer("--train-size", in: Limits.subsetSize, note: " (0: all)")
        _ = try testSizeText.integer("--test-size", in: Limits.subsetSize, note: " (0: all)")
        _ = try lrText.real("--lr", "a finite learning rate in (0, \(Int(Limits.maxLearningRate))]") { $0 > 0 && $0 <= Limits.maxLearningRate }
        _ = try momentumText.real("--momentum", "in [0, 1)") { $0 >= 0 && $0 < 1 }
        _ = try weightDecayText.real("--weight-decay", "in [0, 1]") { $0 >= 0 && $0 <= 1 }
        _ = try batchSizeText.integer("--batch-size", in: Limits.batchSize)
        _ = try scoreSizeText.integer("--score-size", in: Limits.scoreSize)
        if !["train", "test"].contains(scoreSet) { throw ValidationError("--score-set must be train or test, got \(scoreSet)") }
        _ = try jobsText.integer("--jobs", in: Self.jobRange)
        _ = try threadsText.integer("--threads-per-job", in: Limits.threads)
        if out.isEmpty { throw ValidationError("--out needs a folder name") }
        try slurmOptions.check()
        if slurmOptions.slurm && jobs > 1 { throw ValidationError("--slurm runs the cells as a job array: leave out --jobs") }
        if merge != nil && (slurmOptions.slurm || jobs > 1) { throw ValidationError("--merge DIR only collects results: leave out --slurm and --jobs") }
        if let prunerFile, !FileManager.default.fileExists(atPath: prunerFile) { throw ValidationError("--pruner-file \(prunerFile): no such file") }
    }

    /// The flags as scripts/sweep.lua reads them (`opt.levels`, `opt.retrainEpochs`, ...).
    func options(mode: String, folder: String) -> [String: LuaValue] {
        var o: [String: LuaValue] = [
            "mode": .string(mode), "out": .string(folder), "levels": .string(levels), "pruners": .string(pruners),
            "seeds": .string(seeds), "retrainEpochs": .number(Double(retrainEpochs)), "model": .string(model), "inp": .string(inp),
            "data": .string(data), "lr": .number((try? lrText.real("", "", { _ in true })) ?? 0.01),
            "momentum": .number((try? momentumText.real("", "", { _ in true })) ?? 0.9),
            "weightDecay": .number((try? weightDecayText.real("", "", { _ in true })) ?? 0),
            "trainSize": .number(Double((try? trainSizeText.integer("", in: Limits.subsetSize)) ?? 0)),
            "testSize": .number(Double((try? testSizeText.integer("", in: Limits.subsetSize)) ?? 0)),
            "batchSize": .number(Double((try? batchSizeText.integer("", in: Limits.batchSize)) ?? 128)),
            "scoreSize": .number(Double((try? scoreSizeText.integer("", in: Limits.scoreSize)) ?? 1000)),
            "scoreSet": .string(scoreSet), "prunerOptions": .string(prunerOptions), "threads": .number(Double(threads)),
            "terminal": .boolean(isatty(STDOUT_FILENO) != 0), "startClock": .number(Self.startClock),
            "cellsPerTask": .number(Double(slurmOptions.cellsPerTask)),
        ]
        if let layers { o["layers"] = .string(layers) }
        if let prunerFile { o["prunerFile"] = .string(prunerFile) }
        if let task { o["task"] = .number(Double(task)) }
        if let started { o["startedAgo"] = .number(max(0, Date().timeIntervalSince1970 - started)) }
        return o
    }

    /// When this process's command began, on `wb.clock()`'s clock.
    static let startClock = Double(DispatchTime.now().uptimeNanoseconds) / 1e9

    /// Runs scripts/sweep.lua in this process in `mode`; returns what the script returns.
    func script(_ mode: String, folder: String) throws -> [LuaValue] {
        let lua = try LuaRuntime()
        guard let scripts = lua.context.scriptsDirectory else {
            throw CLIError("cannot find the scripts/ folder (with scripts/sweep.lua); run from the repository or set WORKBENCH_SCRIPTS")
        }
        lua.setGlobal("opt", .record(options(mode: mode, folder: folder)))
        do {
            return try lua.run(file: scripts + "/sweep.lua")
        } catch let e as LuaError where e.cause == nil && e.message.range(of: #"^[^\s:]+\.lua:\d+:"#, options: .regularExpression) == nil {
            // The script's own messages (error(msg, 0): a flag, a file, a cell) are the whole
            // story; an error with a place in a script keeps its traceback.
            throw CLIError(e.message)
        }
    }

    func run() throws {
        _ = Self.startClock
        try runReportingErrors {
            if worker { _ = try script("worker", folder: out); return }
            if task != nil { _ = try script("task", folder: out); return }
            let folder = merge ?? out
            let existed = FileManager.default.fileExists(atPath: folder)
            let lock = try RunLock.acquire(folder: folder, name: "sweep", what: "the sweep in \(folder)", flag: "--out", hint: "another --out")
            defer {
                lock.release()
                if !existed { rmdir(folder) }   // a run refused before any work leaves no empty folder
            }
            if merge != nil { _ = try script("merge", folder: folder); return }
            if jobs == 1 && !slurmOptions.slurm { _ = try script("run", folder: folder); return }
            let plan = try script("plan", folder: folder)
            let pending = SweepPlan(plan)
            let scripts = try LuaRuntime().context.scriptsDirectory
            if slurmOptions.slurm {
                try SweepSlurm(options: slurmOptions, folder: folder, threads: threads, scripts: scripts).run(pending)
                if !slurmOptions.wait && !pending.cells.isEmpty { return }   // with every cell done, merge now
            } else if !pending.cells.isEmpty {
                try SweepWorkers(folder: folder, jobs: jobs).run(pending, scripts: scripts)
            }
            _ = try script("merge", folder: folder)
        }
    }
}

/// What the script's plan gives: the number of cells and those without a result (index, name).
struct SweepPlan {
    let total: Int
    let cells: [(index: Int, name: String)]

    init(_ values: [LuaValue]) {
        total = Int(values.first?.number ?? 0)
        let lines = (values.count > 1 ? values[1].string ?? "" : "").split(separator: "\n")
        cells = lines.compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let i = Int(parts[0]) else { return nil }
            return (i, String(parts[1]))
        }
    }
}
