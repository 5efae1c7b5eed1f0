/// The `--schedule-file` of `workbench sparse-train` (the format of IntelAI/dynamic-
/// reparameterization's `mnist_schedule.yaml`): a mapping of up to three schedules, each a
/// list of one-entry mappings `- EPOCH : VALUE`, the value holding from that epoch (0-based)
/// until the next entry's:
///
///     lr_schedule:                  # learning rate, >= 0
///       - 0 : 0.1
///       - 25 : 0.02
///     rewire_period_schedule:       # iterations between rewirings, an integer >= 1
///       - 0 : 100
///     DeepR_temperature_schedule:   # DeepR's temperature T (noise N(0, 2·eta·T)), >= 0
///       - 0 : 1.0e-3
///
/// The value at epoch e is that of the last entry with EPOCH <= e. Epochs must start at 0 and
/// increase (the original looks up an epoch before the first entry in the *last* entry: a
/// list must start at 0 here, so that never happens). Every error names `FILE:LINE`.
public struct SparseTrainSchedule: Equatable {
    /// (epoch, value) pairs in increasing epoch order, nil when the file has no such list.
    public let learningRate: [(epoch: Int, value: Double)]?
    public let rewirePeriod: [(epoch: Int, value: Double)]?
    public let temperature: [(epoch: Int, value: Double)]?
    public let path: String

    public static let keys = ["lr_schedule", "rewire_period_schedule", "DeepR_temperature_schedule"]

    public static func == (a: Self, b: Self) -> Bool {
        func same(_ x: [(epoch: Int, value: Double)]?, _ y: [(epoch: Int, value: Double)]?) -> Bool {
            x?.map(\.epoch) == y?.map(\.epoch) && x?.map(\.value) == y?.map(\.value)
        }
        return a.path == b.path && same(a.learningRate, b.learningRate) && same(a.rewirePeriod, b.rewirePeriod)
            && same(a.temperature, b.temperature)
    }

    public init(path: String) throws {
        try self.init(document: try YAMLDocument.read(path: path), path: path)
    }

    public init(text: String, path: String) throws {
        try self.init(document: try YAMLDocument.parse(text, path: path), path: path)
    }

    init(document: YAMLItem?, path: String) throws {
        self.path = path
        guard let document else { throw ConfigError("\(path):1: the schedule file is empty (expected \(Self.keys.joined(separator: ", ")))") }
        guard case let .mapping(entries) = document.value else {
            throw ConfigError("\(path):\(document.line): the schedule file must be a mapping of \(Self.keys.joined(separator: ", ")), not \(document.kind)")
        }
        var lists = [String: [(epoch: Int, value: Double)]]()
        for e in entries {
            guard case let .string(name) = e.key.value, Self.keys.contains(name) else {
                throw ConfigError("\(path):\(e.key.line): unknown schedule '\(Self.describe(e.key))' (known: \(Self.keys.joined(separator: ", ")))")
            }
            lists[name] = try Self.list(e.value, name: name, path: path)
        }
        learningRate = lists["lr_schedule"]
        rewirePeriod = lists["rewire_period_schedule"]
        temperature = lists["DeepR_temperature_schedule"]
    }

    static func describe(_ item: YAMLItem) -> String {
        switch item.value {
        case let .string(s): return s
        case let .int(i): return String(i)
        case let .double(d): return String(d)
        case let .bool(b): return String(b)
        default: return item.kind
        }
    }

    /// One schedule's entries, checked: `- EPOCH : VALUE` with EPOCH an integer >= 0,
    /// increasing from 0, and VALUE what the schedule takes.
    static func list(_ item: YAMLItem, name: String, path: String) throws -> [(epoch: Int, value: Double)] {
        guard case let .list(items) = item.value else {
            throw ConfigError("\(path):\(item.line): \(name): expected a list of `- EPOCH : VALUE` entries, not \(item.kind)")
        }
        guard !items.isEmpty else { throw ConfigError("\(path):\(item.line): \(name): the list is empty (start with `- 0 : VALUE`)") }
        var out = [(epoch: Int, value: Double)]()
        for entry in items {
            guard case let .mapping(pairs) = entry.value, pairs.count == 1 else {
                throw ConfigError("\(path):\(entry.line): \(name): each entry is one `- EPOCH : VALUE`, not \(entry.kind)")
            }
            let (k, v) = (pairs[0].key, pairs[0].value)
            guard case let .int(epoch) = k.value, epoch >= 0 else {
                throw ConfigError("\(path):\(k.line): \(name): the epoch must be an integer >= 0, not \(k.kind)")
            }
            if let last = out.last, epoch <= last.epoch {
                throw ConfigError("\(path):\(k.line): \(name): epoch \(epoch) comes after epoch \(last.epoch): epochs must increase")
            }
            if out.isEmpty && epoch != 0 {
                throw ConfigError("\(path):\(k.line): \(name): the first entry must be at epoch 0, not \(epoch)")
            }
            guard let x = v.number, x.isFinite else {
                throw ConfigError("\(path):\(v.line): \(name): the value at epoch \(epoch) must be a number, not \(v.kind)")
            }
            switch name {
            case "lr_schedule":
                guard x >= 0 && x <= 10 else { throw ConfigError("\(path):\(v.line): \(name): learning rate \(describe(v)) at epoch \(epoch) is out of range [0, 10]") }
            case "rewire_period_schedule":
                guard case .int(let p) = v.value, p >= 1 else {
                    throw ConfigError("\(path):\(v.line): \(name): the rewire period at epoch \(epoch) must be a whole number of iterations >= 1, not \(describe(v))")
                }
            default:
                guard x >= 0 else { throw ConfigError("\(path):\(v.line): \(name): the temperature at epoch \(epoch) must be >= 0, not \(describe(v))") }
            }
            out.append((epoch, x))
        }
        return out
    }

    /// The value at `epoch` (0-based) of `list`: the last entry at or before it.
    public static func value(_ list: [(epoch: Int, value: Double)], at epoch: Int) -> Double {
        var v = list[0].value
        for e in list where e.epoch <= epoch { v = e.value }
        return v
    }
}
