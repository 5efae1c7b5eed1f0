import ArgumentParser
import Bridge

/// The default flow's flags beyond the reference for Han et al.'s recipe (docs/recipes.md) and
/// global pruning: where the .conf is, how the layers are ranked, how much each step prunes,
/// and how retraining runs. Every value is checked before any work; the reference's defaults
/// are unchanged when none is given.
struct RecipeOptions: ParsableArguments {
    @Option(name: .customLong("conf", withSingleDash: true),
            help: ArgumentHelp("The .conf file read with -l 0 (default: <inp>/<model>.conf).", valueName: "file"))
    var conf: String?
    @Flag(name: .customLong("global", withSingleDash: true),
          help: "Rank the weights of all the layers (-l, or the .conf's) together to the total fraction -p; the .conf's second line then gives each layer's cap (the most of it pruned), or is the total itself as a single number.")
    var global = false
    @Option(name: .customLong("pruneSchedule", withSingleDash: true),
            help: ArgumentHelp("Step i prunes s_i·p of each layer: nondecreasing fractions in (0, 1], the last 1, e.g. 0.5,0.75,0.9,1 (replaces the linear steps of -iPruning; their count is the number of steps).",
                               valueName: "s1,s2,..."))
    var pruneSchedule: String?
    @Option(name: .customLong("LRretrain", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("Learning rate of retraining, in (0, \(Int(Limits.maxLearningRate))] (default: -LR; Han et al. retrain at -LR/10).", valueName: "LRretrain"))
    var LRretrainText: NumberText?
    @Option(name: .customLong("weightDecay", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("L2 weight decay of retraining (SGD adds λ·w to each gradient), in [0, 1].", valueName: "weightDecay"))
    var weightDecayText = NumberText(0)
    @Option(name: .customLong("finalEpochs", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("With -reTrain: more retraining epochs after the last step, \(Limits.epochs.lowerBound)...\(Limits.epochs.upperBound).", valueName: "finalEpochs"))
    var finalEpochsText = NumberText(0)
    @Option(name: .customLong("LRfinal", withSingleDash: true), parsing: .unconditional,
            help: ArgumentHelp("Learning rate of the -finalEpochs, in (0, \(Int(Limits.maxLearningRate))] (default: -LRretrain).", valueName: "LRfinal"))
    var LRfinalText: NumberText?
    @Flag(name: .customLong("LRdecayFinal", withSingleDash: true),
          help: "With -finalEpochs: their learning rate falls along a cosine from -LRfinal to 0, step by step (lr_t = ½(1 + cos(π·t/T))·lr over the T steps of the final epochs).")
    var LRdecayFinal = false
    @Flag(name: .customLong("LRdecaySteps", withSingleDash: true),
          help: "With -reTrain: each step's retraining (-nEpochs) runs along a cosine from -LRretrain to 0 over its steps, the rate rewound at the next step.")
    var LRdecaySteps = false
    @Flag(name: .customLong("scaleDropout", withSingleDash: true),
          help: "After each step, set the rate of the dropout before each pruned layer to D_o·sqrt(C_r/C_o) (Han et al. 2015, eq. 2; C: the layer's kept weights).")
    var scaleDropout = false

    /// Throws a `ValidationError` naming the flag for a bad value. `iPruning`: the -iPruning
    /// given, which -pruneSchedule must agree with unless it is left at 1.
    func check(iPruning: Int) throws {
        if let conf, conf.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("-conf needs a file name") }
        if let LRretrainText {
            _ = try LRretrainText.real("-LRretrain", "a finite learning rate in (0, \(Int(Limits.maxLearningRate))]") {
                $0 > 0 && $0 <= Limits.maxLearningRate
            }
        }
        if let LRfinalText {
            _ = try LRfinalText.real("-LRfinal", "a finite learning rate in (0, \(Int(Limits.maxLearningRate))]") {
                $0 > 0 && $0 <= Limits.maxLearningRate
            }
        }
        _ = try weightDecayText.real("-weightDecay", "in [0, 1]") { $0 >= 0 && $0 <= 1 }
        _ = try finalEpochsText.integer("-finalEpochs", in: Limits.epochs)
        if let text = pruneSchedule {
            let fields = text.split(separator: ",", omittingEmptySubsequences: false)
            var previous = 0.0
            for f in fields {
                guard let v = Double(f.trimmingCharacters(in: .whitespaces)), v.isFinite, v > 0, v <= 1, v >= previous else {
                    throw ValidationError("-pruneSchedule must be nondecreasing fractions in (0, 1] separated by commas, got \(text)")
                }
                previous = v
            }
            guard previous == 1 else { throw ValidationError("-pruneSchedule must end with 1 (the last step reaches -p), got \(text)") }
            guard fields.count <= Limits.iterations.upperBound else {
                throw ValidationError("-pruneSchedule has \(fields.count) steps, at most \(Limits.iterations.upperBound)")
            }
            if iPruning != 1 && iPruning != fields.count {
                throw ValidationError("-pruneSchedule has \(fields.count) steps but -iPruning is \(iPruning); give one of them")
            }
        }
    }

    /// Adds the given flags to the script's options: conf, global, pruneSchedule (the text: the flow reads the numbers),
    /// LRretrain, weightDecay, finalEpochs, LRfinal, LRdecayFinal, LRdecaySteps, scaleDropout.
    func add(to o: inout [String: LuaValue]) {
        if let conf { o["conf"] = .string(conf) }
        o["global"] = .boolean(global)
        if let pruneSchedule { o["pruneSchedule"] = .string(pruneSchedule) }
        if let v = try? LRretrainText?.real("-LRretrain", "", { _ in true }) { o["LRretrain"] = .number(v) }
        o["weightDecay"] = .number((try? weightDecayText.real("-weightDecay", "", { _ in true })) ?? 0)
        o["finalEpochs"] = .number(Double((try? finalEpochsText.integer("-finalEpochs", in: Limits.epochs)) ?? 0))
        if let v = try? LRfinalText?.real("-LRfinal", "", { _ in true }) { o["LRfinal"] = .number(v) }
        o["LRdecayFinal"] = .boolean(LRdecayFinal)
        o["LRdecaySteps"] = .boolean(LRdecaySteps)
        o["scaleDropout"] = .boolean(scaleDropout)
    }
}
