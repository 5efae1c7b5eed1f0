import ArgumentParser
import Bridge
import Foundation
import RunConfig

/// The flags of `workbench sparse-train`, checked (each value in its range, the combinations
/// that make one method, the schedule file), as the table `opt` scripts/sparse-train.lua reads:
/// the original's argparse names (`opt.initial_sparsity_fc`, `opt.DeepR_eta`, ...), plus
/// `method` (dense, static, set, dsr, deepr, tied, prune, thin-dense), `schedule` (the checked
/// file's path), `run_name` and the workbench's own (`seed`, `train_size`, `runs_dir`, ...).
struct SparseTrainOptions {
    var values: [String: LuaValue] = [:]
    /// `<model>_<job_idx>` (`_target_<fc>,<conv>` with --prune), the original's file name.
    var runName = ""

    static let models = ["mnist_mlp", "cifar10_WideResNet", "imagenet_resnet50"]

    init(_ c: SparseTrainCommand, scheduleRequired: Bool, scriptsDirectory: String? = nil) throws {
        func int(_ t: NumberText, _ flag: String, _ r: ClosedRange<Int>) throws -> Int {
            let v = try t.integer(flag, in: r)
            values[Self.key(flag)] = .number(Double(v))
            return v
        }
        func real(_ t: NumberText, _ flag: String, _ text: String, _ ok: @escaping (Double) -> Bool) throws -> Double {
            let v = try t.real(flag, text, ok)
            values[Self.key(flag)] = .number(v)
            return v
        }
        func flag(_ b: Bool, _ name: String) -> Bool { values[Self.key(name)] = .boolean(b); return b }
        let fraction = "in [0, 1)"

        guard Self.models.contains(c.model) else {
            throw ValidationError("--model must be one of \(Self.models.joined(separator: ", ")), got \(c.model)")
        }
        if c.model == "imagenet_resnet50" {
            throw ValidationError("--model imagenet_resnet50 needs an ImageNet loader and ResNet-50's bottleneck blocks, which the workbench does not have (issue 15 built the residual containers); mnist_mlp and cifar10_WideResNet run")
        }
        // The wide ResNet: sparse convolutions, a dense Linear (as the original's).
        let wrn = c.model == "cifar10_WideResNet"
        values["model"] = .string(c.model)
        let epochs = try int(c.epochs, "--epochs", 1...100_000)
        let start = try int(c.startEpoch, "--start-epoch", 0...100_000)
        _ = try int(c.batchSize, "--batch-size", Limits.batchSize)
        _ = try real(c.lr, "--lr", "a learning rate in [0, 10]") { $0 >= 0 && $0 <= 10 }
        _ = try real(c.momentum, "--momentum", fraction) { $0 >= 0 && $0 < 1 }
        let nesterov = try c.nesterov.value("--nesterov")
        values["nesterov"] = .boolean(nesterov)
        if nesterov && values["momentum"].map({ if case .number(let m) = $0 { return m == 0 }; return false }) == true {
            throw ValidationError("--nesterov true needs a momentum > 0 (as PyTorch's SGD): give --momentum or --nesterov false")
        }
        _ = try real(c.weightDecay, "--weight-decay", "in [0, 1]") { $0 >= 0 && $0 <= 1 }
        let l1Coefficient = try real(c.l1, "--L1-loss-coeff", "in [0, 1]") { $0 >= 0 && $0 <= 1 }
        _ = try int(c.printFreq, "--print-freq", 1...1_000_000_000)
        let depth = try int(c.layers, "--layers", 10...1000)
        if wrn && (depth - 4) % 6 != 0 {
            throw ValidationError("--layers must be 6n+4 for a wide ResNet (10, 16, 22, 28, 40, ...: n blocks per stage of 2 convolutions, plus the first convolution, the Linear and 2 shortcuts), got \(depth)")
        }
        let startPruning = try int(c.startPruning, "--start-pruning-after-epoch", 0...100_000)
        let frequency = try int(c.pruneFrequency, "--prune-epoch-frequency", 1...100_000)
        let targetFC = try (c.targetFC ?? NumberText(wrn ? 0 : 0.98))
            .real("--prune-target-sparsity-fc", fraction) { $0 >= 0 && $0 < 1 }
        values["prune_target_sparsity_fc"] = .number(targetFC)
        let targetConv = try real(c.targetConv, "--prune-target-sparsity-conv", fraction) { $0 >= 0 && $0 < 1 }
        let iterations = try int(c.pruneIterations, "--prune-iterations", 1...10_000)
        let post = try int(c.postPruneEpochs, "--post-prune-epochs", 0...100_000)
        _ = try int(c.nPruneParams, "--n-prune-params", 1...1_000_000_000)
        let threshold = flag(c.thresholdPrune, "--threshold-prune")
        let prune = flag(c.prune, "--prune")
        _ = flag(c.validateSet, "--validate-set")
        let scaling = flag(c.rewireScaling, "--rewire-scaling")
        let tied = flag(c.tied, "--tied")
        let rescale = flag(c.rescaleTiedGradient, "--rescale-tied-gradient")
        let rewire = flag(c.rewire, "--rewire")
        _ = flag(c.noValidateTrain, "--no-validate-train")
        let deepR = flag(c.deepR, "--DeepR")
        _ = try real(c.deepREta, "--DeepR_eta", "> 0 and <= 10") { $0 > 0 && $0 <= 10 }
        _ = try int(c.stopRewireEpoch, "--stop-rewire-epoch", 0...1_000_000)
        _ = flag(c.noBatchNorm, "--no-batch-norm")
        _ = try real(c.rewireFraction, "--rewire-fraction", "in (0, 1)") { $0 > 0 && $0 < 1 }
        let granularity = try int(c.subKernelGranularity, "--sub-kernel-granularity", 1...1_000)
        if wrn && granularity > 4 {
            throw ValidationError("--sub-kernel-granularity must be in 1...4 for cifar10_WideResNet, got \(granularity): a convolution's mask covers the first N of its weight's 4 dimensions [out, in, kh, kw] (4: each weight, 3: kernel rows, 2: kernel patches, 1: filters)")
        }
        let cubic = flag(c.cubicPruneSchedule, "--cubic-prune-schedule")
        let downsample = flag(c.sparseResnetDownsample, "--sparse-resnet-downsample")
        let groupLasso = flag(c.convGroupLasso, "--conv-group-lasso")
        let big = flag(c.bigNewWeights, "--big-new-weights")
        let widen = try real(c.widenFactor, "--widen-factor", "in (0, 100]") { $0 > 0 && $0 <= 100 }
        if wrn && (16 * widen).rounded(.toNearestOrEven) < 1 {
            throw ValidationError("--widen-factor \(c.widenFactor.text) leaves the wide ResNet's first stage without planes (round(16·k) = 0): give at least 0.0625")
        }
        let sparsityConv = try (c.initialSparsityConv ?? NumberText(prune ? 0 : 0.5))
            .real("--initial-sparsity-conv", fraction) { $0 >= 0 && $0 < 1 }
        values["initial_sparsity_conv"] = .number(sparsityConv)
        let sparsityFC = try (c.initialSparsityFC ?? NumberText(prune || wrn ? 0 : 0.98))
            .real("--initial-sparsity-fc", fraction) { $0 >= 0 && $0 < 1 }
        values["initial_sparsity_fc"] = .number(sparsityFC)
        if wrn && (sparsityFC != 0 || targetFC != 0) {
            throw ValidationError("\(sparsityFC != 0 ? "--initial-sparsity-fc \(sparsityFC)" : "--prune-target-sparsity-fc \(targetFC)"): cifar10_WideResNet's Linear is dense, as the original's (its DynamicLinear is commented out in model.py); leave it out or give 0, and set the convolutions' with --initial-sparsity-conv / --prune-target-sparsity-conv")
        }
        // The sparse layers' sparsity: the convolutions' in the wide ResNet, the Linears' in mnist_mlp.
        let sparsity = wrn ? sparsityConv : sparsityFC
        let sparsityFlag = wrn ? "--initial-sparsity-conv" : "--initial-sparsity-fc"
        let target = wrn ? targetConv : targetFC
        let targetFlag = wrn ? "--prune-target-sparsity-conv" : "--prune-target-sparsity-fc"
        let job = try int(c.jobIdx, "--job-idx", 0...Limits.seed.upperBound)
        values["augment"] = .boolean(!c.noAugment)
        _ = try int(c.workers, "--workers", 0...1024)
        _ = try int(c.seed, "--seed", Limits.seed)
        _ = try int(c.trainSize, "--train-size", Limits.subsetSize)
        _ = try int(c.testSize, "--test-size", Limits.subsetSize)
        let thin = flag(c.thinDense, "--thin-dense")
        values["progress"] = .boolean(!c.noProgress)
        values["name"] = .string(c.name)
        values["data"] = .string(c.data ?? (wrn ? "cifar10" : "mnist"))
        if c.data == "" { throw ValidationError("--data must name a dataset (mnist, fashion-mnist, cifar10) or a folder") }
        if c.runsDir.isEmpty { throw ValidationError("--runs-dir must not be empty") }
        values["runs_dir"] = .string(c.runsDir)
        for (path, f) in [(c.resume, "--resume"), (c.copyMaskFrom, "--copy-mask-from")] where !path.isEmpty {
            var folder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &folder), !folder.boolValue else {
                throw ValidationError("\(f) \(path): no such file (a .safetensors file written by workbench sparse-train)")
            }
        }
        values["resume"] = .string(c.resume)
        values["copy_mask_from"] = .string(c.copyMaskFrom)
        if start >= epochs && !prune {
            throw ValidationError("--start-epoch \(start) leaves none of the \(epochs) epochs (--epochs) to run")
        }

        // One method at a time, and the flags that only mean something with another.
        let methods = [(rewire, "--rewire"), (deepR, "--DeepR"), (tied, "--tied"), (prune, "--prune"), (thin, "--thin-dense")].filter(\.0).map(\.1)
        if methods.count > 1 {
            throw ValidationError("\(methods.joined(separator: " and ")) are different methods: give one (docs/sparse-train.md lists them)")
        }
        if threshold && !rewire { throw ValidationError("--threshold-prune is DSR's pruning rule: it needs --rewire (DSR: --rewire --threshold-prune --rewire-scaling)") }
        if scaling && !rewire { throw ValidationError("--rewire-scaling moves weights between layers when rewiring: it needs --rewire") }
        if big && !(rewire || deepR) { throw ValidationError("--big-new-weights sets the value of regrown connections: it needs --rewire or --DeepR") }
        if rescale && !tied { throw ValidationError("--rescale-tied-gradient divides tied weights' gradients: it needs --tied") }
        if cubic && !prune { throw ValidationError("--cubic-prune-schedule is a gradual-pruning schedule: it needs --prune") }
        if (downsample || groupLasso) && !wrn {
            throw ValidationError("\(downsample ? "--sparse-resnet-downsample" : "--conv-group-lasso") applies to convolution layers; mnist_mlp has none")
        }
        if wrn {
            if thin {
                throw ValidationError("--thin-dense is mnist_mlp's baseline; the original's thin dense wide ResNets are dense nets of a smaller widen factor: --initial-sparsity-conv 0 --widen-factor 0.75 (docs/sparse-train.md)")
            }
            if c.noBatchNorm { throw ValidationError("--no-batch-norm applies to mnist_mlp; the wide ResNet keeps its batch norms (as the original's)") }
            if deepR && granularity != 4 {
                throw ValidationError("--DeepR with --sub-kernel-granularity \(granularity): DeepR deactivates single weights whose sign flipped (the original's sign test is per weight and breaks on coarser masks); give --sub-kernel-granularity 4")
            }
            if groupLasso && tied {
                throw ValidationError("--conv-group-lasso with --tied: the group lasso on tied values is not built (tied weights take the L1 term per value)")
            }
            if groupLasso && l1Coefficient == 0 {
                throw ValidationError("--conv-group-lasso replaces the L1 term of the sparse convolutions by a group lasso: it needs --L1-loss-coeff > 0 (its coefficient)")
            }
        }
        if (tied || thin) && sparsity == 0 {
            throw ValidationError("\(tied ? "--tied" : "--thin-dense") needs a budget: \(sparsityFlag) in (0, 1), e.g. \(wrn ? "0.5" : "0.98")")
        }
        if (rewire || deepR) && sparsity == 0 {
            throw ValidationError("\(rewire ? "--rewire" : "--DeepR") moves the connections of a sparse net: give \(sparsityFlag) in (0, 1), e.g. \(wrn ? "0.5" : "0.98")")
        }
        if prune && sparsity >= target {
            throw ValidationError("--prune: the target sparsity \(target) (\(targetFlag)) must exceed the initial sparsity \(sparsity) (\(sparsityFlag))")
        }
        let method: String
        if rewire { method = threshold ? "dsr" : "set" } else if deepR { method = "deepr" } else if tied { method = "tied" }
        else if prune { method = "prune" } else if thin { method = "thin-dense" } else { method = sparsity == 0 ? "dense" : "static" }
        values["method"] = .string(method)
        if prune {
            values["prune_epochs"] = .number(Double(startPruning + frequency * (iterations - 1) + post))
        }

        // The schedule file: the given one is checked now; the default (beside scripts/) once known.
        var schedulePath = c.scheduleFile
        if schedulePath == nil, let s = scriptsDirectory {
            schedulePath = ((s as NSString).deletingLastPathComponent as NSString)
                .appendingPathComponent(wrn ? "inp/sparse-train/wrnet_schedule.yaml" : "inp/sparse-train/mnist_schedule.yaml")
        }
        if let path = schedulePath {
            let schedule: SparseTrainSchedule
            do { schedule = try SparseTrainSchedule(path: path) } catch let e as ConfigError {
                throw ValidationError("--schedule-file: \(e.description)")
            }
            if rewire && schedule.rewirePeriod == nil {
                throw ValidationError("--schedule-file: \(path): --rewire needs a rewire_period_schedule (`- 0 : 100`, ...)")
            }
            if deepR && schedule.temperature == nil {
                throw ValidationError("--schedule-file: \(path): --DeepR needs a DeepR_temperature_schedule (`- 0 : 1.0e-3`, ...)")
            }
            values["schedule_file"] = .string(path)
        } else if scheduleRequired {
            throw ValidationError("--schedule-file: no file given and the default (inp/sparse-train/\(wrn ? "wrnet" : "mnist")_schedule.yaml) cannot be found")
        }

        var name = "\(c.model)_\(job)"
        if prune { name += "_target_\(targetFC),\(targetConv)" }
        runName = name
        values["run_name"] = .string(name)
    }

    /// `initial_sparsity_fc` for `--initial-sparsity-fc`: the original's argparse names.
    static func key(_ flag: String) -> String {
        String(flag.drop(while: { $0 == "-" })).replacingOccurrences(of: "-", with: "_")
    }
}
