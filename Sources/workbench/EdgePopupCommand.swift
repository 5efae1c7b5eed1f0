import ArgumentParser
import Bridge
import Engine
import Foundation
import RunConfig

/// `workbench edge-popup --config FILE.yml [--key value ...]`: edge-popup (Ramanujan et al.,
/// "What's hidden in a randomly weighted neural network?"): the weights stay at their random
/// init and a score per weight chooses, in each layer, the fraction k of weights KEPT (the
/// config's `prune_rate`, despite its name). The config is read and checked here
/// (`RunConfig.EdgePopupConfig`), then handed as the table `opt` to scripts/edge-popup.lua.
struct EdgePopupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge-popup",
        abstract: "Find the subnetwork hidden in a random network (edge-popup), from a YAML config.",
        discussion: """
        The config's keys are those of allenai/hidden-networks' YAML files (see \
        inp/edge-popup/configs/ and docs/edge-popup.md); any key can be overridden on the \
        command line as --key value with dashes for underscores (--prune-rate 0.5 --epochs 20 \
        --lr 0.1 --name NAME --data DIR --seed S). --prune-rate K is the fraction of each \
        layer's weights that is KEPT (0.3 keeps 30%, prunes 70%), as in the original's mask; \
        the output says so in words.

        Writes <log_dir>/results.csv (one line per run) and \
        <log_dir>/<config>/<name>/prune_rate=<k>/<n>/ with settings.txt, checkpoints/ \
        (initial, model_best, model_last .safetensors, with scores and masks) and logs/ \
        (TensorBoard event files).

        Keys:
        \(EdgePopupConfig.keys.map { "  \($0.name) (\($0.flag)): \($0.help)" }.joined(separator: "\n"))

        Examples:
          workbench edge-popup --config inp/edge-popup/configs/fc/fc_usc_unsigned.yml --prune-rate 0.5
          workbench edge-popup --config inp/edge-popup/configs/fc/fc_sgd_baseline.yml --epochs 20
        """
    )

    @Option(name: .customLong("config"), help: "The YAML config file.")
    var config: String

    @OptionGroup var engine: ThreadOptions
    @OptionGroup var luaLimits: LuaLimitOptions

    @Argument(parsing: .allUnrecognized, help: "Overrides: --key value for any config key.")
    var overrides: [String] = []

    func validate() throws {
        try engine.check()
        try luaLimits.check()
    }

    /// The options as scripts/edge-popup.lua sees them: every key, plus `config` (the file),
    /// `configName` (its name without folder and extension), `keep` (k, 1 when dense),
    /// `threads` and `settings` (the text of settings.txt).
    static func options(_ c: EdgePopupConfig, configPath: String, threads: Int) -> [String: LuaValue] {
        var o = [String: LuaValue]()
        for (k, v) in c.values {
            switch v {
            case let .string(s): o[k] = .string(s)
            case let .bool(b): o[k] = .boolean(b)
            case let .int(i): o[k] = .number(Double(i))
            case let .double(d): o[k] = .number(d)
            }
        }
        o["config"] = .string(configPath)
        o["configName"] = .string(((configPath as NSString).lastPathComponent as NSString).deletingPathExtension)
        o["keep"] = .number(c.keptFraction)
        o["threads"] = .number(Double(threads))
        o["settings"] = .string("config: \(configPath)\n" + c.settingsText)
        return o
    }

    func run() throws {
        engine.apply()
        try runReportingErrors {
            let c: EdgePopupConfig
            do { c = try EdgePopupConfig(path: config, overrides: overrides) } catch let e as ConfigError {
                throw CLIError(e.description)
            }
            let lua = try LuaRuntime()
            luaLimits.apply(to: lua)
            guard let scripts = lua.context.scriptsDirectory else {
                throw CLIError("cannot find the scripts/ folder (with scripts/edge-popup.lua); run from the repository or set WORKBENCH_SCRIPTS")
            }
            lua.setGlobal("opt", .record(Self.options(c, configPath: config, threads: engine.threads)))
            try lua.run(file: scripts + "/edge-popup.lua")
        }
    }
}
