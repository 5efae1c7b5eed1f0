import ArgumentParser
import Bridge
import Engine
import Foundation
import RunConfig

/// `workbench sparse-train [flags]`: dynamic sparse training and its peers at one parameter
/// budget, with the flags of IntelAI/dynamic-reparameterization's main.py (Mostafa & Wang,
/// ICML 2019), their names and defaults: DSR (`--rewire --threshold-prune --rewire-scaling`),
/// SET (`--rewire`), DeepR (`--DeepR`), static random sparse (no method flag), tied weights
/// (`--tied`), gradual magnitude pruning from dense (`--prune`, `--cubic-prune-schedule`),
/// and the thin dense baseline (`--thin-dense`, the workbench's). The flags are checked here
/// (`SparseTrainOptions`: ranges, combinations, the schedule file with `FILE:LINE` errors),
/// then handed as the table `opt` to scripts/sparse-train.lua, which runs the method
/// (scripts/lib/sparsetrain/, docs/sparse-train.md).
struct SparseTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sparse-train",
        abstract: "Dynamic sparse training (DSR, SET, DeepR), static sparse, tied weights, gradual pruning (docs/sparse-train.md).",
        discussion: """
        The flags of the original main.py (IntelAI/dynamic-reparameterization), with its \
        names and defaults; a few of the workbench's own are marked [workbench]. Schedules of \
        the learning rate, the rewire period and DeepR's temperature come from --schedule-file \
        (YAML, `- EPOCH : VALUE` lists; inp/sparse-train/). Writes <runs>/<model>_<job-idx> \
        (with _target_<fc>,<conv> for --prune) as .safetensors (the model, masks included) and \
        .json (per-epoch train/val/test loss, top-1, top-5, model size, per-layer density, the \
        arguments), and <...>_initial.* before training.

        Models: mnist_mlp (784-300-100-10, its Linears sparse, --initial-sparsity-fc) and \
        cifar10_WideResNet (WRN---layers---widen-factor on CIFAR-10, its 3x3 block \
        convolutions sparse at --initial-sparsity-conv, masked per --sub-kernel-granularity).

        Methods:
          (no method flag)
              static random sparse at --initial-sparsity-fc (0.98; the WRN: --initial-sparsity-conv, 0.5)
          --rewire
              SET: each layer prunes and regrows --rewire-fraction of its weights
          --rewire --threshold-prune --rewire-scaling
              DSR: adaptive global threshold, regrowth shared across layers
          --DeepR [--L1-loss-coeff C]
              DeepR: gradient noise, sign flips deactivate, random reactivation
          --tied
              tied weights (HashedNet-like), as many values as the budget
          --prune [--cubic-prune-schedule]
              gradual magnitude pruning from dense to --prune-target-sparsity-fc
          --initial-sparsity-fc 0 | --thin-dense
              the dense net | a dense net as small as the budget [workbench]

        Examples:
          workbench sparse-train --rewire --threshold-prune --rewire-scaling \\
              --weight-decay 0 --L1-loss-coeff 1e-4 --data fashion-mnist
          workbench sparse-train --data fashion-mnist --epochs 20 --rewire \\
              --schedule-file inp/sparse-train/cpu_schedule.yaml
          workbench sparse-train --prune --prune-iterations 10 --post-prune-epochs 10 \\
              --start-pruning-after-epoch 1 --prune-epoch-frequency 1
          workbench sparse-train --model cifar10_WideResNet --layers 10 --widen-factor 1 \\
              --initial-sparsity-conv 0.8 --rewire --threshold-prune --rewire-scaling
        """
    )

    @Option(name: .customLong("epochs"), parsing: .unconditional, help: ArgumentHelp("number of total epochs to run (default: 100)", valueName: "EPOCHS"))
    var epochs = NumberText(100)
    @Option(name: .customLong("start-epoch"), parsing: .unconditional, help: ArgumentHelp("manual epoch number (useful on restarts) (default: 0)", valueName: "START_EPOCH"))
    var startEpoch = NumberText(0)
    @Option(name: .customLong("model"), help: ArgumentHelp("network name: mnist_mlp, cifar10_WideResNet, imagenet_resnet50 (default: mnist_mlp)", valueName: "MODEL"))
    var model = "mnist_mlp"
    @Option(name: [.customShort("b"), .customLong("batch-size")], parsing: .unconditional, help: ArgumentHelp("mini-batch size (default: 100)", valueName: "BATCH_SIZE"))
    var batchSize = NumberText(100)
    @Option(name: [.customLong("lr"), .customLong("learning-rate")], parsing: .unconditional,
            help: ArgumentHelp("initial learning rate, used where the schedule file has no lr_schedule (default: 0.1)", valueName: "LR"))
    var lr = NumberText(0.1)
    @Option(name: .customLong("momentum"), parsing: .unconditional, help: ArgumentHelp("momentum (default: 0.9)", valueName: "MOMENTUM"))
    var momentum = NumberText(0.9)
    @Option(name: .customLong("nesterov"), help: ArgumentHelp("nesterov momentum, true or false (default: true)", valueName: "NESTEROV"))
    var nesterov = BooleanText(true)
    @Option(name: [.customLong("weight-decay"), .customLong("wd")], parsing: .unconditional, help: ArgumentHelp("weight decay (default: 1e-4)", valueName: "WEIGHT_DECAY"))
    var weightDecay = NumberText(0.0001)
    @Option(name: .customLong("L1-loss-coeff"), parsing: .unconditional, help: ArgumentHelp("Lasso coefficient (default: 0.0)", valueName: "L1_LOSS_COEFF"))
    var l1 = NumberText(0)
    @Option(name: [.customLong("print-freq"), .customShort("p")], parsing: .unconditional,
            help: ArgumentHelp("print frequency in iterations of DeepR's pruning lines (default: 10)", valueName: "PRINT_FREQ"))
    var printFreq = NumberText(10)
    @Option(name: .customLong("layers"), parsing: .unconditional, help: ArgumentHelp("total number of layers for wide resnet (default: 28)", valueName: "LAYERS"))
    var layers = NumberText(28)
    @Option(name: .customLong("start-pruning-after-epoch"), parsing: .unconditional, help: ArgumentHelp("Epoch after which to start pruning (default: 20)", valueName: "N"))
    var startPruning = NumberText(20)
    @Option(name: .customLong("prune-epoch-frequency"), parsing: .unconditional, help: ArgumentHelp("Intervals between prunes (default: 2)", valueName: "N"))
    var pruneFrequency = NumberText(2)
    @Option(name: .customLong("prune-target-sparsity-fc"), parsing: .unconditional,
            help: ArgumentHelp("Target sparsity when pruning fully connected layers (default: 0.98; 0 for cifar10_WideResNet, whose Linear is dense)", valueName: "S"))
    var targetFC: NumberText?
    @Option(name: .customLong("prune-target-sparsity-conv"), parsing: .unconditional, help: ArgumentHelp("Target sparsity when pruning conv layers (default: 0.5)", valueName: "S"))
    var targetConv = NumberText(0.5)
    @Option(name: .customLong("prune-iterations"), parsing: .unconditional,
            help: ArgumentHelp("Number of prunes. 1 for a single prune, larger than 1 for gradual pruning (default: 1)", valueName: "N"))
    var pruneIterations = NumberText(1)
    @Option(name: .customLong("post-prune-epochs"), parsing: .unconditional, help: ArgumentHelp("Epochs to train after pruning is done (default: 10)", valueName: "N"))
    var postPruneEpochs = NumberText(10)
    @Option(name: .customLong("n-prune-params"), parsing: .unconditional,
            help: ArgumentHelp("Number of parameters to re-allocate per re-allocation iteration (default: 600)", valueName: "N"))
    var nPruneParams = NumberText(600)
    @Flag(name: .customLong("threshold-prune"), help: "Prune based on a global threshold and not a fraction (default: False)")
    var thresholdPrune = false
    @Flag(name: .customLong("prune"), help: "whether to use pruning or not (default: False)")
    var prune = false
    @Flag(name: .customLong("validate-set"), help: "whether to use a validation set to select epoch with best accuracy or not (default: False)")
    var validateSet = false
    @Flag(name: .customLong("rewire-scaling"), help: "Move weights between layers during parameter re-allocation (default: False)")
    var rewireScaling = false
    @Flag(name: .customLong("tied"), help: "whether to use tied weights instead of sparse ones (default: False)")
    var tied = false
    @Flag(name: .customLong("rescale-tied-gradient"), help: "whether to divide the gradient of tied weights by the number of their repetitions (default: False)")
    var rescaleTiedGradient = false
    @Flag(name: .customLong("rewire"), help: "whether to run parameter re-allocation (default: False)")
    var rewire = false
    @Flag(name: .customLong("no-validate-train"), help: "whether to run validation on training set (default: False)")
    var noValidateTrain = false
    @Flag(name: .customLong("DeepR"), help: "Train using deepR. prune and re-allocated weights that cross zero every iteration (default: False)")
    var deepR = false
    @Option(name: .customLong("DeepR_eta"), parsing: .unconditional, help: ArgumentHelp("eta coefficient for DeepR (default: 0.001)", valueName: "DEEPR_ETA"))
    var deepREta = NumberText(0.001)
    @Option(name: .customLong("stop-rewire-epoch"), parsing: .unconditional, help: ArgumentHelp("Epoch after which to stop rewiring (default: 1000)", valueName: "N"))
    var stopRewireEpoch = NumberText(1000)
    @Flag(name: .customLong("no-batch-norm"), help: "no batch normalization in the mnist_mlp network (default: False)")
    var noBatchNorm = false
    @Option(name: .customLong("rewire-fraction"), parsing: .unconditional, help: ArgumentHelp("Fraction of weight to rewire (default: 0.1)", valueName: "F"))
    var rewireFraction = NumberText(0.1)
    @Option(name: .customLong("sub-kernel-granularity"), parsing: .unconditional, help: ArgumentHelp("prune granularity (default: 2)", valueName: "N"))
    var subKernelGranularity = NumberText(2)
    @Flag(name: .customLong("cubic-prune-schedule"), help: "Use sparsity schedule following a cubic function as in Zhu et al. 2018 (instead of an exponential function). (default: False)")
    var cubicPruneSchedule = false
    @Flag(name: .customLong("sparse-resnet-downsample"), help: "Use sub-kernel granularity while rewiring (default: False); here: cifar10_WideResNet's 1x1 shortcut convolutions are sparse too")
    var sparseResnetDownsample = false
    @Flag(name: .customLong("conv-group-lasso"), help: "Use group lasso to penalize an entire kernel patch (default: False)")
    var convGroupLasso = false
    @Flag(name: .customLong("big-new-weights"), help: "Use weights initialized from the initial distribution for the new connections instead of zeros (default: False)")
    var bigNewWeights = false
    @Option(name: .customLong("widen-factor"), parsing: .unconditional, help: ArgumentHelp("widen factor for wide resnet (default: 10)", valueName: "WIDEN_FACTOR"))
    var widenFactor = NumberText(10)
    @Option(name: .customLong("initial-sparsity-conv"), parsing: .unconditional, help: ArgumentHelp("Initial sparsity of conv layers (default: 0.5; 0 with --prune)", valueName: "S"))
    var initialSparsityConv: NumberText?
    @Option(name: .customLong("initial-sparsity-fc"), parsing: .unconditional,
            help: ArgumentHelp("Initial sparsity for fully connected layers (default: 0.98; 0 with --prune and for cifar10_WideResNet, whose Linear is dense)", valueName: "S"))
    var initialSparsityFC: NumberText?
    @Option(name: .customLong("job-idx"), parsing: .unconditional, help: ArgumentHelp("job index provided by the job manager (default: 0)", valueName: "JOB_IDX"))
    var jobIdx = NumberText(0)
    @Flag(name: .customLong("no-augment"), help: "whether to use standard data augmentation (default: use data augmentation: CIFAR-10's reflection-padded random crop and horizontal flip; none for MNIST)")
    var noAugment = false
    @Option(name: .customLong("data"), help: ArgumentHelp("dataset: mnist (default for mnist_mlp), fashion-mnist, cifar10 (default for cifar10_WideResNet), or a folder", valueName: "DIR"))
    var data: String?
    @Option(name: [.customShort("j"), .customLong("workers")], parsing: .unconditional, help: ArgumentHelp("number of data loading workers (default: 8; accepted, the engine uses --threads)", valueName: "N"))
    var workers = NumberText(8)
    @Option(name: .customLong("copy-mask-from"), help: ArgumentHelp("checkpoint from which to copy mask data (default: none)", valueName: "FILE"))
    var copyMaskFrom = ""
    @Option(name: .customLong("resume"), help: ArgumentHelp("path to latest checkpoint (default: none)", valueName: "FILE"))
    var resume = ""
    @Option(name: .customLong("schedule-file"), help: ArgumentHelp("yaml file containing learning rate schedule and rewire period schedule (default: inp/sparse-train/mnist_schedule.yaml; wrnet_schedule.yaml for cifar10_WideResNet)", valueName: "FILE"))
    var scheduleFile: String?
    @Option(name: .customLong("name"), help: ArgumentHelp("name of experiment (default: WideResNet-28-10), recorded in the JSON", valueName: "NAME"))
    var name = "WideResNet-28-10"

    // The workbench's own flags.
    @Flag(name: .customLong("thin-dense"), help: "[workbench] a dense mnist_mlp whose hidden layers are narrowed to about the weights of --initial-sparsity-fc")
    var thinDense = false
    @Option(name: .customLong("seed"), parsing: .unconditional, help: ArgumentHelp("[workbench] random seed (masks, weights, order), 0...2^53-1 (default: 0)", valueName: "S"))
    var seed = NumberText(0)
    @Option(name: .customLong("train-size"), parsing: .unconditional, help: ArgumentHelp("[workbench] use the first N training images (default: 0, all)", valueName: "N"))
    var trainSize = NumberText(0)
    @Option(name: .customLong("test-size"), parsing: .unconditional, help: ArgumentHelp("[workbench] use the first N test images (default: 0, all)", valueName: "N"))
    var testSize = NumberText(0)
    @Option(name: .customLong("runs-dir"), help: ArgumentHelp("[workbench] the output folder (default: runs)", valueName: "DIR"))
    var runsDir = "runs"
    @Flag(name: .customLong("no-progress"), help: "[workbench] no progress bar")
    var noProgress = false
    @OptionGroup var engine: ThreadOptions
    @OptionGroup var luaLimits: LuaLimitOptions
    @OptionGroup var tensorBoard: TensorBoardOptions

    func validate() throws {
        _ = try SparseTrainOptions(self, scheduleRequired: false)
        try tensorBoard.check()
        try engine.check()
        try luaLimits.check()
    }

    func run() throws {
        engine.apply()
        try runReportingErrors {
            let lua = try LuaRuntime()
            luaLimits.apply(to: lua)
            guard let scripts = lua.context.scriptsDirectory else {
                throw CLIError("cannot find the scripts/ folder (with scripts/sparse-train.lua); run from the repository or set WORKBENCH_SCRIPTS")
            }
            var options = try SparseTrainOptions(self, scheduleRequired: true, scriptsDirectory: scripts)
            options.values["threads"] = .number(Double(engine.threads))
            tensorBoard.add(to: &options.values)
            let base = options.runName
            let lock = try RunLock.acquire(folder: runsDir, name: base, what: (runsDir as NSString).appendingPathComponent(base) + ".*",
                                           flag: "--runs-dir", hint: "another --job-idx or --runs-dir")
            defer { lock.release() }
            lua.setGlobal("opt", .record(options.values))
            try lua.run(file: scripts + "/sparse-train.lua")
        }
    }
}
