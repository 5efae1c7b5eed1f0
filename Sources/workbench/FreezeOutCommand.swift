import ArgumentParser
import Bridge
import Engine
import Foundation

/// `workbench freezeout [--t_0 0.8] [--how_scale cubic] [--scale_lr true] ...`: FreezeOut
/// training (Brock et al. 2017) with the original's flag names, handed as the table `opt` to
/// scripts/freezeout.lua, which runs the flow (scripts/lib/freezeout.lua). Every flag is
/// checked before any work; booleans are read as booleans (`--scale_lr false` is false).
struct FreezeOutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freezeout",
        abstract: "Train with FreezeOut: anneal each layer's learning rate to 0, then freeze it (docs/freezeout.md).",
        discussion: """
        Each layer (a module with weights, convolution or linear, with the activation, pooling, \
        batch norm after it) has its own SGD group. Layer i of 0..L gets the freeze point \
        t_i = f(t_0 + (1 - t_0) i/L), f = x, x^2 or x^3 (--how_scale), and before iteration j \
        of J (J = epochs x batches per epoch) the rate a_i(j) = 1/2 a_i(0) (1 + cos(pi j/(t_i J))), \
        a_i(0) = lr/t_i with --scale_lr true, else lr. From j >= t_i J on the layer is frozen \
        (no gradient, no optimiser work, evaluation mode) and the backward pass stops above it. \
        The classifier (t_L = 1) is never frozen. --t_0 1 is the baseline: no freezing, every \
        layer on the same cosine. Prints "Estimated speedup is X%." (1 - C_f/C, C = 2 sum c_i, \
        C_f = sum c_i + sum c_i t_i, c_i the layer's forward FLOPs) and "Currently have N \
        active layers" when a layer freezes; writes <out>/logs/<name>_log.jsonl (epoch, \
        train_loss, val_loss, val_err on the test set, _stamp) and <out>/<name>.safetensors.

        Defaults as the original's (SGD with Nesterov momentum 0.9, weight decay 1e-4 per \
        group, lr 0.1, batch 50, t_0 0.8, cubic, scaled), with 10 epochs and the reference \
        LeNet-5 on Fashion-MNIST; lr 0.1 trains the tanh LeNets here (docs/freezeout.md).

        Examples:
          workbench freezeout
              reference LeNet-5, Fashion-MNIST, 10 epochs, t_0 0.8 cubic scaled
          workbench freezeout --t_0 0.5 --how_scale linear --scale_lr false
              unscaled linear from t_0 0.5
          workbench freezeout --t_0 1 --name baseline
              the baseline: no freezing, the same cosine schedule
          workbench freezeout --model lenet300-100 --epochs 20 --const_time
              LeNet-300-100, run longer by the estimated saving
          workbench freezeout --model my-net.lua --data mnist --train_size 5000 --threads 1
              a model file of your own on 5,000 MNIST images
        """
    )

    @Option(name: [.customLong("t_0"), .customLong("t0")], parsing: .unconditional,
            help: ArgumentHelp("Freeze point of the first layer before scaling, in (0, 1] (1: no freezing).", valueName: "t_0"))
    var t0Text = NumberText(0.8)
    @Option(name: [.customLong("how_scale"), .customLong("how-scale")],
            help: ArgumentHelp("How the freeze points grow over the layers: linear, squared or cubic.", valueName: "how_scale"))
    var howScale: String = "cubic"
    @Option(name: [.customLong("scale_lr"), .customLong("scale-lr")],
            help: ArgumentHelp("Start layer i at lr/t_i (true) or at lr (false).", valueName: "true|false"))
    var scaleLRText = BooleanText(true)
    @Flag(name: [.customLong("const_time"), .customLong("const-time")],
          help: "Run epochs/(1 - estimated speedup) epochs (rounded to the nearest), about the baseline's time.")
    var constTime = false
    @Option(name: .customLong("epochs"), parsing: .unconditional,
            help: ArgumentHelp("Training epochs, \(Self.epochs.lowerBound)...\(Self.epochs.upperBound).", valueName: "N"))
    var epochsText = NumberText(10)
    @Option(name: .customLong("model"),
            help: ArgumentHelp("A model of scripts/models/ (lenet5, lenet5-classic, lenet300-100, convnet-bn) or a FILE.lua returning an nn.Sequential.", valueName: "NAME|FILE.lua"))
    var model: String = "lenet5"
    @Option(name: .customLong("data"),
            help: "Dataset: fashion-mnist, mnist (data/mnist/), cifar10 (data/cifar-10-batches-bin/), or a folder.")
    var data: String = "fashion-mnist"
    @Option(name: [.customLong("batch_size"), .customLong("batch-size")], parsing: .unconditional,
            help: ArgumentHelp("Minibatch size, \(Limits.batchSize.lowerBound)...\(Limits.batchSize.upperBound).", valueName: "N"))
    var batchSizeText = NumberText(50)
    @Option(name: .customLong("lr"), parsing: .unconditional,
            help: ArgumentHelp("Base learning rate, in (0, \(Int(Limits.maxLearningRate))].", valueName: "lr"))
    var lrText = NumberText(0.1)
    @Option(name: .customLong("momentum"), parsing: .unconditional,
            help: ArgumentHelp("Nesterov momentum, in [0, 1) (0: plain SGD).", valueName: "m"))
    var momentumText = NumberText(0.9)
    @Option(name: [.customLong("weight_decay"), .customLong("weight-decay")], parsing: .unconditional,
            help: ArgumentHelp("Weight decay of every group, in [0, 1].", valueName: "wd"))
    var weightDecayText = NumberText(0.0001)
    @Option(name: .customLong("seed"), parsing: .unconditional,
            help: ArgumentHelp("Random seed (initial weights, shuffling), 0...2^53-1.", valueName: "S"))
    var seedText = NumberText(0)
    @Option(name: .customLong("name"),
            help: ArgumentHelp("Names the log and the model (default: <model>_ice<100 t_0>_<how_scale><Scaled|Unscaled>_seed<S>_epochs<N>).", valueName: "NAME"))
    var name: String?
    @Option(name: [.customLong("train_size"), .customLong("train-size")], parsing: .unconditional,
            help: ArgumentHelp("Use the first N training images, 0...\(Limits.subsetSize.upperBound) (0: all).", valueName: "N"))
    var trainSizeText = NumberText(0)
    @Option(name: [.customLong("test_size"), .customLong("test-size")], parsing: .unconditional,
            help: ArgumentHelp("Use the first N test images, 0...\(Limits.subsetSize.upperBound) (0: all).", valueName: "N"))
    var testSizeText = NumberText(0)
    @Option(name: .customLong("out"), help: ArgumentHelp("Output folder: <out>/logs/<name>_log.jsonl and <out>/<name>.safetensors.", valueName: "DIR"))
    var out: String = "out/freezeout"
    @OptionGroup var engine: ThreadOptions
    @OptionGroup var tensorBoard: TensorBoardOptions

    static let epochs = 1...10_000

    // The values: validate() has checked that these succeed.
    var t0: Double { (try? t0Text.real("--t_0", "", { _ in true })) ?? 0.8 }
    var scaleLR: Bool { (try? scaleLRText.value("--scale_lr")) ?? true }
    var epochs: Int { (try? epochsText.integer("--epochs", in: Self.epochs)) ?? 10 }
    var batchSize: Int { (try? batchSizeText.integer("--batch_size", in: Limits.batchSize)) ?? 50 }
    var lr: Double { (try? lrText.real("--lr", "", { _ in true })) ?? 0.1 }
    var momentum: Double { (try? momentumText.real("--momentum", "", { _ in true })) ?? 0.9 }
    var weightDecay: Double { (try? weightDecayText.real("--weight_decay", "", { _ in true })) ?? 1e-4 }
    var seed: Int { (try? seedText.integer("--seed", in: Limits.seed)) ?? 0 }
    var trainSize: Int { (try? trainSizeText.integer("--train_size", in: Limits.subsetSize)) ?? 0 }
    var testSize: Int { (try? testSizeText.integer("--test_size", in: Limits.subsetSize)) ?? 0 }

    mutating func validate() throws {
        _ = try t0Text.real("--t_0", "in (0, 1]") { $0 > 0 && $0 <= 1 }
        if FreezeOut.Scaling(rawValue: howScale) == nil {
            throw ValidationError("--how_scale must be linear, squared or cubic, got \(howScale)")
        }
        _ = try scaleLRText.value("--scale_lr")
        _ = try epochsText.integer("--epochs", in: Self.epochs)
        _ = try batchSizeText.integer("--batch_size", in: Limits.batchSize)
        _ = try lrText.real("--lr", "a finite learning rate in (0, \(Int(Limits.maxLearningRate))]") { $0 > 0 && $0 <= Limits.maxLearningRate }
        _ = try momentumText.real("--momentum", "in [0, 1)") { $0 >= 0 && $0 < 1 }
        _ = try weightDecayText.real("--weight_decay", "in [0, 1]") { $0 >= 0 && $0 <= 1 }
        _ = try seedText.integer("--seed", in: Limits.seed)
        _ = try trainSizeText.integer("--train_size", in: Limits.subsetSize, note: " (0: all)")
        _ = try testSizeText.integer("--test_size", in: Limits.subsetSize, note: " (0: all)")
        if let name, name.isEmpty || name.contains("/") {
            throw ValidationError("--name must be a non-empty name without '/', got '\(name)'")
        }
        if model.isEmpty { throw ValidationError("--model must name a model of scripts/models/ or a .lua file") }
        try engine.check()
        try tensorBoard.check()
    }

    /// The options as the Lua flow sees them (`opt.t_0`, `opt.scale_lr`, ...); `run()` adds `name`.
    var options: [String: LuaValue] {
        var o: [String: LuaValue] = [
            "t_0": .number(t0), "how_scale": .string(howScale), "scale_lr": .boolean(scaleLR), "const_time": .boolean(constTime),
            "epochs": .number(Double(epochs)), "model": .string(model), "data": .string(data),
            "batch_size": .number(Double(batchSize)), "lr": .number(lr), "momentum": .number(momentum),
            "weight_decay": .number(weightDecay), "seed": .number(Double(seed)),
            "train_size": .number(Double(trainSize)), "test_size": .number(Double(testSize)),
            "out": .string(out), "threads": .number(Double(engine.threads)),
        ]
        tensorBoard.add(to: &o)
        return o
    }

    /// --name, or the original's naming: <model>_ice<100 t_0>_<how_scale><Scaled|Unscaled>_seed<S>_epochs<N>
    /// (as `freezeout.defaultName` in scripts/lib/freezeout.lua).
    var runName: String {
        if let name { return name }
        let base = model.hasSuffix(".lua") ? String((model.split(separator: "/").last ?? "model").dropLast(4)) : model
        return "\(base)_ice\(Int((100 * t0).rounded()))_\(howScale)\(scaleLR ? "Scaled" : "Unscaled")_seed\(seed)_epochs\(epochs)"
    }

    /// A model of scripts/models/ by name, or a .lua file: refused before any work when missing.
    static func checkModel(_ model: String, scripts: String) throws {
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        if model.hasSuffix(".lua") {
            guard fm.fileExists(atPath: model, isDirectory: &isFolder), !isFolder.boolValue else {
                throw CLIError("--model \(model): no such file")
            }
            return
        }
        let folder = scripts + "/models"
        let known = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".lua") }
            .map { String($0.dropLast(4)) }.sorted()
        guard known.contains(model) else {
            throw CLIError("unknown model '\(model)'; known: \(known.joined(separator: ", ")) (scripts/models/), or a FILE.lua")
        }
    }

    func run() throws {
        engine.apply()
        try runReportingErrors {
            let lua = try LuaRuntime()
            guard let scripts = lua.context.scriptsDirectory else {
                throw CLIError("cannot find the scripts/ folder (with scripts/freezeout.lua); run from the repository or set WORKBENCH_SCRIPTS")
            }
            try Self.checkModel(model, scripts: scripts)
            let lock = try RunLock.acquire(folder: out, name: runName, what: (out.isEmpty || out == "." ? "" : out + "/") + runName + ".*",
                                           flag: "--out", hint: "another --name or --out")
            defer { lock.release() }
            var o = options
            o["name"] = .string(runName)
            lua.setGlobal("opt", .record(o))
            try lua.run(file: scripts + "/freezeout.lua")
        }
    }
}
