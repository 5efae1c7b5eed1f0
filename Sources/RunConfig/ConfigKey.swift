/// A value of a configuration key, after checking.
public enum ConfigValue: Equatable, CustomStringConvertible {
    case string(String), bool(Bool), int(Int), double(Double)

    public var description: String {
        switch self {
        case let .string(s): return s
        case let .bool(b): return b ? "True" : "False"
        case let .int(i): return "\(i)"
        case let .double(d): return "\(d)"
        }
    }
}

/// What a key accepts, and how its text becomes a `ConfigValue`.
public enum ConfigKind {
    /// One of these words (case-sensitive, as the original's names).
    case choice([String])
    /// Any text (a name, a folder); `nonEmpty` refuses "".
    case text(nonEmpty: Bool)
    /// True/False (YAML's spellings: true, True, TRUE, yes, on and their opposites).
    case bool
    /// An integer in the range.
    case int(ClosedRange<Int>)
    /// A finite number in the range; `allowing` lists extra values accepted as they are (the
    /// original's `prune_rate: -1`, "unset").
    case number(ClosedRange<Double>, allowing: [Double] = [], openLower: Bool = false)

    func parse(_ e: ConfigEntry) throws -> ConfigValue {
        let t = e.text.trimmingCharacters(in: .whitespaces)
        switch self {
        case let .choice(words):
            guard words.contains(t) else { throw e.error("'\(t)' is not one of \(words.joined(separator: ", "))") }
            return .string(t)
        case let .text(nonEmpty):
            if nonEmpty && t.isEmpty { throw e.error("must not be empty") }
            return .string(t)
        case .bool:
            switch t {
            case "true", "True", "TRUE", "yes", "Yes", "on", "On": return .bool(true)
            case "false", "False", "FALSE", "no", "No", "off", "Off": return .bool(false)
            default: throw e.error("'\(t)' is not True or False")
            }
        case let .int(range):
            guard let v = Int(t) else { throw e.error("'\(t)' is not an integer") }
            guard range.contains(v) else { throw e.error("\(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
            return .int(v)
        case let .number(range, allowing, openLower):
            guard let v = Double(t), v.isFinite else { throw e.error("'\(t)' is not a finite number") }
            if allowing.contains(v) { return .double(v) }
            let low = openLower ? "(" : "["
            guard range.contains(v), !(openLower && v == range.lowerBound) else {
                throw e.error("\(t) is out of range \(low)\(range.lowerBound), \(range.upperBound)]")
            }
            return .double(v)
        }
    }
}

/// A key of a configuration: its name (as in the YAML file; on the command line
/// `--name-with-dashes`), what it accepts, its default and what it means.
public struct ConfigKey {
    public let name: String
    public let kind: ConfigKind
    public let defaultValue: ConfigValue
    public let help: String

    public init(_ name: String, _ kind: ConfigKind, _ defaultValue: ConfigValue, _ help: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
    }

    /// `--prune-rate` for `prune_rate`.
    public var flag: String { "--" + name.replacingOccurrences(of: "_", with: "-") }
}
