/// The configuration of an edge-popup run (`workbench edge-popup --config FILE.yml`): the
/// keys of allenai/hidden-networks' YAML configs (`configs/smallscale/`), with their meaning,
/// plus a few of the workbench's own (`scale_fan_rule`, `train_size`, `test_size`). Values
/// come from the defaults, then the file, then the command-line overrides (`--key value`,
/// underscores as dashes), each checked as it is read; errors name the file and line (or the
/// flag) and the key.
public struct EdgePopupConfig {
    public static let nets = ["FC", "Conv2", "Conv4", "Conv6", "Conv8"]
    public static let inits = ["kaiming_normal", "signed_constant", "unsigned_constant", "kaiming_uniform", "xavier_normal", "standard"]

    public static let keys: [ConfigKey] = [
        ConfigKey("arch", .choice(nets), .string("FC"), "the net: FC (784-300-100-10, (Fashion-)MNIST) or Conv2/Conv4/Conv6/Conv8 (CIFAR-10)"),
        ConfigKey("set", .choice(["MNIST", "FashionMNIST", "CIFAR10"]), .string("FashionMNIST"), "the dataset"),
        ConfigKey("data", .text(nonEmpty: false), .string(""), "a folder with the set's files (empty: the set's usual place)"),
        ConfigKey("name", .text(nonEmpty: true), .string("edge-popup"), "the run's name (runs/<config>/<name>/...)"),
        ConfigKey("log_dir", .text(nonEmpty: true), .string("runs"), "the folder of results.csv and the run folders"),
        ConfigKey("optimizer", .choice(["sgd", "adam"]), .string("sgd"), "the optimiser of the scores (or of the weights, dense)"),
        ConfigKey("lr", .number(0...10, openLower: true), .double(0.1), "learning rate"),
        ConfigKey("lr_policy", .choice(["cosine_lr", "constant_lr"]), .string("cosine_lr"), "cosine_lr: lr_e = ½(1 + cos(π·e/E))·lr at epoch e of E; constant_lr"),
        ConfigKey("warmup_length", .int(0...10_000), .int(0), "epochs of linear warm-up before the cosine"),
        ConfigKey("epochs", .int(1...10_000), .int(100), "training epochs"),
        ConfigKey("weight_decay", .number(0...1), .double(0.0001), "weight decay (on the scores, as the original)"),
        ConfigKey("momentum", .number(0...0.999_999), .double(0.9), "SGD momentum"),
        ConfigKey("nesterov", .bool, .bool(false), "Nesterov momentum"),
        ConfigKey("batch_size", .int(1...65_536), .int(128), "minibatch size"),
        ConfigKey("conv_type", .choice(["SubnetConv", "DenseConv"]), .string("SubnetConv"), "SubnetConv: scores choose the top-k weights; DenseConv: ordinary training"),
        ConfigKey("bn_type", .choice(["NonAffineBatchNorm", "AffineBatchNorm", "NoBatchNorm"]), .string("NonAffineBatchNorm"), "batch norm type; the FC and ConvN nets have none (as the original), so it is recorded only"),
        ConfigKey("freeze_weights", .bool, .bool(true), "weights stay at their init (only the scores train)"),
        ConfigKey("prune_rate", .number(0...1, allowing: [-1], openLower: true), .double(-1), "the fraction of each layer's weights KEPT (despite its name); -1: unset, give --prune-rate"),
        ConfigKey("init", .choice(inits), .string("kaiming_normal"), "the weights' init"),
        ConfigKey("scale_fan", .bool, .bool(false), "scale the fan of the init by the kept fraction k (std = gain/√(fan·k))"),
        ConfigKey("scale_fan_rule", .choice(["kept", "original"]), .string("kept"), "kept: fan·k; original: fan·(1 − k), as allenai/hidden-networks (right only at k = 0.5)"),
        ConfigKey("mode", .choice(["fan_in", "fan_out"]), .string("fan_in"), "the fan of the Kaiming and constant inits"),
        ConfigKey("nonlinearity", .choice(["relu", "linear"]), .string("relu"), "the gain: relu √2, linear 1"),
        ConfigKey("first_layer_dense", .bool, .bool(false), "the first layer has no scores (all its weights kept)"),
        ConfigKey("seed", .int(0...(1 << 53)), .int(0), "the random seed (weights, scores, data order)"),
        ConfigKey("print_freq", .int(1...1_000_000), .int(10), "train scalars are logged every print_freq batches"),
        ConfigKey("save_every", .int(-1...1_000_000), .int(-1), "also keep checkpoints/epoch_<e>.safetensors every n epochs (-1: never)"),
        ConfigKey("workers", .int(0...1024), .int(4), "the original's data-loader processes; accepted and unused (threads: --threads)"),
        ConfigKey("train_size", .int(0...10_000_000), .int(0), "use the first N training images (0: all)"),
        ConfigKey("test_size", .int(0...10_000_000), .int(0), "use the first N test images (0: all)"),
    ]

    /// The checked values by key.
    public private(set) var values: [String: ConfigValue]
    /// Where each value came from (`FILE:LINE`, `command line`, or `default`).
    public private(set) var places: [String: String]
    public let path: String

    public subscript(key: String) -> ConfigValue { values[key]! }

    public func string(_ key: String) -> String { if case let .string(s) = values[key] { return s }; return "" }
    public func bool(_ key: String) -> Bool { if case let .bool(b) = values[key] { return b }; return false }
    public func int(_ key: String) -> Int { if case let .int(i) = values[key] { return i }; return 0 }
    public func double(_ key: String) -> Double {
        switch values[key] {
        case let .double(d): return d
        case let .int(i): return Double(i)
        default: return 0
        }
    }

    /// The configuration of `file` with `overrides` (`["--prune-rate", "0.5", ...]`).
    public init(file: ConfigFile, overrides: [String] = []) throws {
        path = file.path
        values = Dictionary(uniqueKeysWithValues: Self.keys.map { ($0.name, $0.defaultValue) })
        places = Dictionary(uniqueKeysWithValues: Self.keys.map { ($0.name, "default") })
        for e in file.entries { try set(e) }
        for e in try Self.overrideEntries(overrides) { try set(e) }
        try checkTogether()
    }

    public init(path: String, overrides: [String] = []) throws {
        try self.init(file: try ConfigFile.read(path: path), overrides: overrides)
    }

    private mutating func set(_ e: ConfigEntry) throws {
        guard let key = Self.keys.first(where: { $0.name == e.key }) else {
            throw e.error("unknown key (known: \(Self.keys.map(\.name).joined(separator: ", ")))")
        }
        values[key.name] = try key.kind.parse(e)
        places[key.name] = e.place
    }

    /// `--key value` pairs; a boolean key alone (`--scale-fan`) or before another flag means True.
    static func overrideEntries(_ args: [String]) throws -> [ConfigEntry] {
        var entries = [ConfigEntry](), i = 0
        while i < args.count {
            let flag = args[i]
            guard flag.hasPrefix("--"), flag.count > 2 else {
                throw ConfigError("command line: '\(flag)': expected an override --key value (e.g. --prune-rate 0.5)")
            }
            var name = String(flag.dropFirst(2)), value: String? = nil
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            let key = name.replacingOccurrences(of: "-", with: "_")
            guard let spec = keys.first(where: { $0.name == key }) else {
                throw ConfigError("command line: \(flag): unknown option (the overrides are the config keys: \(keys.map(\.flag).joined(separator: ", ")))")
            }
            if value == nil {
                if i + 1 < args.count, !(args[i + 1].hasPrefix("--")) || isNumber(args[i + 1]) {
                    value = args[i + 1]
                    i += 1
                } else if case .bool = spec.kind {
                    value = "true"
                } else {
                    throw ConfigError("command line: --\(name): needs a value")
                }
            }
            entries.append(ConfigEntry(key: key, text: value!, place: "command line", spelled: "--\(name)"))
            i += 1
        }
        return entries
    }

    static func isNumber(_ s: String) -> Bool { Double(s) != nil }

    /// Checks that need more than one key.
    private func checkTogether() throws {
        func error(_ key: String, _ message: String) -> ConfigError {
            let place = places[key] ?? "default"
            let spelled = place == "command line" ? Self.keys.first { $0.name == key }!.flag : key
            return ConfigError("\(place == "default" ? path : place): \(spelled): \(message)")
        }
        let k = double("prune_rate")
        if string("conv_type") == "SubnetConv" && k == -1 {
            throw error("prune_rate", "-1 (unset): give the fraction of weights to KEEP in each layer, e.g. --prune-rate 0.5")
        }
        if bool("scale_fan") && string("scale_fan_rule") == "original" && k == 1 {
            throw error("prune_rate", "1 with scale_fan_rule original scales the fan by 1 − k = 0")
        }
        if string("arch") != "FC" && string("set") != "CIFAR10" {
            throw error("arch", "\(string("arch")) is a CIFAR-10 net (3x32x32 images): set must be CIFAR10, not \(string("set"))")
        }
        if int("warmup_length") >= int("epochs") && string("lr_policy") == "cosine_lr" && int("warmup_length") > 0 {
            throw error("warmup_length", "\(int("warmup_length")) warm-up epochs leave none of the \(int("epochs")) for the cosine")
        }
    }

    /// The kept fraction k (1 for a dense run).
    public var keptFraction: Double { string("conv_type") == "DenseConv" ? 1 : double("prune_rate") }

    /// `settings.txt`: every key and its value, one per line in the keys' order, then where it came from.
    public var settingsText: String {
        Self.keys.map { "\($0.name): \(values[$0.name]!)    # \(places[$0.name]!)" }.joined(separator: "\n") + "\n"
    }
}
