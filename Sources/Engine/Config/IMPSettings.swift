/// The settings of an iterative-magnitude-pruning experiment: every section and key of the
/// seed's `.ini` file (phiandark/SiftingFeatures, `input.md`) with the original's defaults,
/// plus the workbench's own (`[IMP] rewind`, `[Network] seed`), checked completely before any
/// work. Values come from the file, then from `key=value` overrides (the command line);
/// every error names where the value came from (`FILE:line`, or the override) and the key.
///
/// Types: integers are decimal (`100000`; `1e5` is accepted when it is a whole number), reals
/// any decimal or exponent form, booleans configparser's words (1/yes/true/on,
/// 0/no/false/off, any case) and T/F.
public struct IMPSettings {
    public enum Kind: Equatable {
        case text
        case integer(ClosedRange<Int>)
        /// A real in [lo, hi], or [lo, hi) when `openAbove`.
        case real(Double, Double, openAbove: Bool)
        case boolean
        /// One of the names, or (with `list`) a comma-separated list of them.
        case choice([String], list: Bool)
    }

    public struct Key {
        public let section: String
        public let name: String
        public let kind: Kind
        /// The default as it would be written in the file; nil when it depends on other keys.
        public let defaultText: String?
    }

    public enum Value: Equatable {
        case text(String), integer(Int), real(Double), boolean(Bool)
    }

    public struct Setting {
        public let value: Value
        /// Where it was given ("FILE:line", "the override 'k=v'"), nil for a default.
        public let origin: String?
    }

    static let big = 1_000_000_000

    /// Every key, by section, in the order of the seed's `input.md`.
    public static let keys: [Key] = [
        Key(section: "IO", name: "save_dir", kind: .text, defaultText: "."),
        Key(section: "IO", name: "prefix", kind: .text, defaultText: "IMP"),
        Key(section: "Data", name: "dataset", kind: .text, defaultText: "ImageNet32"),
        Key(section: "Data", name: "dataloc", kind: .text, defaultText: "data"),
        Key(section: "Data", name: "preload", kind: .boolean, defaultText: "True"),
        Key(section: "Data", name: "data_ratio", kind: .real(0, 1, openAbove: false), defaultText: "1.0"),
        Key(section: "Data", name: "reclass", kind: .text, defaultText: "n"),
        Key(section: "Network", name: "arch", kind: .text, defaultText: ""),
        Key(section: "Network", name: "steps", kind: .integer(1...big), defaultText: "100000"),
        Key(section: "Network", name: "batch_size", kind: .integer(1...65536), defaultText: "1000"),
        Key(section: "Network", name: "val_size", kind: .integer(1...big), defaultText: "1000"),
        Key(section: "Network", name: "validate_step", kind: .integer(1...big), defaultText: "100"),
        Key(section: "Network", name: "minimizer", kind: .choice(["SGD", "Adam"], list: false), defaultText: "SGD"),
        Key(section: "Network", name: "learning_rate", kind: .real(0, 10, openAbove: false), defaultText: "0.1"),
        Key(section: "Network", name: "init_sparsity", kind: .real(0, 1, openAbove: true), defaultText: "0.0"),
        Key(section: "Network", name: "batch_norm_beta", kind: .real(0, 1, openAbove: false), defaultText: "0.99"),
        Key(section: "Network", name: "restart", kind: .boolean, defaultText: "False"),
        Key(section: "Network", name: "rest_it", kind: .integer(1...big), defaultText: "1"),
        Key(section: "Network", name: "rest_weights_file", kind: .text, defaultText: nil),
        Key(section: "Network", name: "rest_mask_file", kind: .text, defaultText: nil),
        Key(section: "Network", name: "rest_file_step", kind: .integer(-1000...big), defaultText: "-1"),
        Key(section: "Network", name: "restart_weights_step", kind: .integer(-1000...big), defaultText: nil),
        Key(section: "Network", name: "seed", kind: .integer(0...(1 << 53)), defaultText: "0"),
        Key(section: "IMP", name: "prune", kind: .text, defaultText: ""),
        Key(section: "IMP", name: "prune_ratio", kind: .real(0, 1, openAbove: true), defaultText: "0.3"),
        Key(section: "IMP", name: "weights_step", kind: .integer(0...big), defaultText: "1000"),
        Key(section: "IMP", name: "prune_step", kind: .integer(0...big), defaultText: nil),
        Key(section: "IMP", name: "stop_ratio", kind: .real(0, 1, openAbove: false), defaultText: "0.0"),
        Key(section: "IMP", name: "max_iterations", kind: .integer(1...big), defaultText: "1000"),
        Key(section: "IMP", name: "rewind", kind: .choice(rewindModes, list: true), defaultText: "step"),
    ]

    /// What each later iteration starts from: the weights at `weights_step` of iteration 0
    /// (the original), the initial weights, a fresh random initialisation, or where the last
    /// iteration ended (no rewinding).
    public static let rewindModes = ["step", "init", "random", "none"]

    /// The datasets the original knew, which are not available here.
    static let imageNetNames = ["imagenet32", "imagenet64"]

    /// The settings file as named in errors.
    public let file: String
    public private(set) var values: [String: Setting] = [:]
    /// The parsed architecture and the prune flag of each of its layers.
    public private(set) var layers: [ArchitectureLayer] = []
    public private(set) var prune: [Bool] = []

    /// Reads `path` and applies `overrides` ("key=value" or "Section.key=value").
    public init(contentsOf path: String, overrides: [String] = []) throws {
        try self.init(IniFile(contentsOf: path), overrides: overrides)
    }

    public init(_ ini: IniFile, overrides: [String] = []) throws {
        file = ini.path
        for (name, line) in ini.sections where !Self.keys.contains(where: { $0.section == name }) {
            throw EngineError("\(file):\(line): unknown section [\(name)] (the sections are [IO], [Data], [Network], [IMP])")
        }
        for e in ini.entries {
            guard let key = Self.keys.first(where: { $0.name == e.key }) else {
                throw EngineError("\(file):\(e.line): unknown key '\(e.key)' in [\(e.section)]\(Self.suggestion(e.key))")
            }
            guard key.section == e.section else {
                throw EngineError("\(file):\(e.line): key '\(e.key)' belongs in [\(key.section)], not [\(e.section)]")
            }
            try set(key, e.value, origin: "\(file):\(e.line)")
        }
        for o in overrides {
            guard let eq = o.firstIndex(of: "=") else {
                throw EngineError("the override '\(o)' is not key=value (e.g. steps=3000)")
            }
            var name = o[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            if let dot = name.lastIndex(of: ".") { name = String(name[name.index(after: dot)...]) }
            guard let key = Self.keys.first(where: { $0.name == name }) else {
                throw EngineError("the override '\(o)': unknown key '\(name)'\(Self.suggestion(name))")
            }
            try set(key, o[o.index(after: eq)...].trimmingCharacters(in: .whitespaces), origin: "the override '\(o)'")
        }
        for key in Self.keys where values[key.name] == nil {
            if let d = key.defaultText { try set(key, d, origin: nil) }
        }
        try checkTogether()
    }

    // MARK: reading values

    public func text(_ name: String) -> String? { if case .text(let s)? = values[name]?.value { return s }; return nil }
    public func integer(_ name: String) -> Int? { if case .integer(let i)? = values[name]?.value { return i }; return nil }
    public func real(_ name: String) -> Double? { if case .real(let x)? = values[name]?.value { return x }; return nil }
    public func boolean(_ name: String) -> Bool? { if case .boolean(let b)? = values[name]?.value { return b }; return nil }

    /// Where `name` came from, for messages: "FILE:line: name", or "FILE: name (default)".
    public func place(_ name: String) -> String {
        if let o = values[name]?.origin { return "\(o): \(name)" }
        return "\(file): \(name) (default)"
    }

    /// The rewind modes to run, in the order given.
    public var rewind: [String] { (text("rewind") ?? "step").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    // MARK: checks

    private mutating func set(_ key: Key, _ text: String, origin: String?) throws {
        let at = origin.map { "\($0): \(key.name)" } ?? "\(file): \(key.name) (default)"
        let value: Value
        switch key.kind {
        case .text:
            value = .text(text)
        case .integer(let range):
            guard let i = Self.parseInteger(text) else { throw EngineError("\(at): expected a whole number, got '\(text)'") }
            guard range.contains(i) else { throw EngineError("\(at): must be in \(range.lowerBound)...\(range.upperBound), got \(i)") }
            value = .integer(i)
        case .real(let lo, let hi, let openAbove):
            guard let x = Double(text), x.isFinite else { throw EngineError("\(at): expected a number, got '\(text)'") }
            guard x >= lo, openAbove ? x < hi : x <= hi else {
                throw EngineError("\(at): must be in [\(Self.show(lo)), \(Self.show(hi))\(openAbove ? ")" : "]"), got \(text)")
            }
            value = .real(x)
        case .boolean:
            switch text.lowercased() {
            case "1", "yes", "true", "on", "t": value = .boolean(true)
            case "0", "no", "false", "off", "f": value = .boolean(false)
            default: throw EngineError("\(at): expected a boolean (True/False, T/F, yes/no, on/off, 1/0), got '\(text)'")
            }
        case .choice(let names, let list):
            let parts = list ? text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } : [text]
            for p in parts where !names.contains(p) {
                throw EngineError("\(at): '\(p)' is not one of \(names.joined(separator: ", "))\(list ? " (or a comma-separated list of them)" : "")")
            }
            if list, Set(parts).count != parts.count { throw EngineError("\(at): a mode is listed twice in '\(text)'") }
            value = .text(parts.joined(separator: ","))
        }
        values[key.name] = Setting(value: value, origin: origin)
    }

    /// The checks that involve several keys, once every key has its value.
    private mutating func checkTogether() throws {
        let steps = integer("steps")!
        if values["prune_step"] == nil { values["prune_step"] = Setting(value: .integer(steps), origin: nil) }
        for name in ["weights_step", "prune_step"] where integer(name)! > steps {
            throw EngineError("\(place(name)): \(integer(name)!) is beyond steps = \(steps) (\(place("steps")))")
        }
        do { layers = try ArchitectureString.parse(text("arch")!) } catch let e as EngineError {
            throw EngineError("\(place("arch")): \(e.message)")
        }
        do { prune = try ArchitectureString.pruneFlags(text("prune")!, for: layers) } catch let e as EngineError {
            throw EngineError("\(place("prune")): \(e.message)")
        }
        guard prune.contains(true) else { throw EngineError("\(place("prune")): no layer is pruned") }
        let dataset = text("dataset")!
        if Self.imageNetNames.contains(dataset.lowercased()) {
            throw EngineError("\(place("dataset")): \(dataset) (downsampled ImageNet) is not available here; use fashion-mnist, mnist, cifar10 or a folder of MNIST IDX files or CIFAR-10 batches")
        }
        try checkReclass()
        if let a = values["restart_weights_step"] {
            if values["rest_file_step"]?.origin != nil, integer("rest_file_step") != integer("restart_weights_step") {
                throw EngineError("\(place("restart_weights_step")): the alias of rest_file_step (\(place("rest_file_step"))) with another value; give one of them")
            }
            values["rest_file_step"] = a
        }
        let prefix = text("prefix")!
        guard !prefix.isEmpty, !prefix.contains("/") else { throw EngineError("\(place("prefix")): must be a name without '/', got '\(prefix)'") }
        guard !text("save_dir")!.isEmpty else { throw EngineError("\(place("save_dir")): must not be empty (. is the current folder)") }
        if values["rest_weights_file"] == nil {
            values["rest_weights_file"] = Setting(value: .text(outputPath("itdata_0.json")), origin: nil)
        }
        if values["rest_mask_file"] == nil {
            values["rest_mask_file"] = Setting(value: .text(outputPath("itdata_\(integer("rest_it")! - 1).json")), origin: nil)
        }
    }

    /// `<save_dir>/<prefix>_<suffix>`.
    public func outputPath(_ suffix: String) -> String {
        let dir = text("save_dir")!
        return (dir.hasSuffix("/") ? dir : dir + "/") + text("prefix")! + "_" + suffix
    }

    /// `n`; `m,x` (class modulo x); `f,x,file` (superclass of each class from a file).
    private func checkReclass() throws {
        let r = text("reclass")!
        let parts = r.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let form = "n, m,<classes> or f,<classes>,<file>"
        switch parts.first {
        case "n" where parts.count == 1: return
        case "m" where parts.count == 2, "f" where parts.count == 3:
            guard let x = Int(parts[1]), x >= 1 else {
                throw EngineError("\(place("reclass")): the number of classes must be a whole number >= 1, got '\(parts[1])' (\(form))")
            }
            if parts[0] == "f", parts[2].isEmpty { throw EngineError("\(place("reclass")): no file after f,\(x), (\(form))") }
        default:
            throw EngineError("\(place("reclass")): expected \(form), got '\(r)'")
        }
    }

    static func parseInteger(_ text: String) -> Int? {
        if let i = Int(text) { return i }
        guard let x = Double(text), x.isFinite, x == x.rounded(), abs(x) < 9e15 else { return nil }
        return Int(x)
    }

    static func show(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(x) }

    /// " (did you mean 'k'?)" for a key one edit or a case away, "" otherwise.
    static func suggestion(_ name: String) -> String {
        let close = keys.first { k in
            let a = Array(k.name), b = Array(name)
            if a.count == b.count { return zip(a, b).filter { $0 != $1 }.count <= 1 }
            let (s, l) = a.count < b.count ? (a, b) : (b, a)
            guard l.count == s.count + 1 else { return false }
            return (0..<l.count).contains { i in Array(l[..<i] + l[(i + 1)...]) == s }
        }
        return close.map { " (did you mean '\($0.name)'?)" } ?? " (see docs/imp.md for the keys)"
    }
}
