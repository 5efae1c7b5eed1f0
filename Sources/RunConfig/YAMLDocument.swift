import Foundation
import Yams

/// A YAML document as plain values, each with the line it is written on: what `wb.readYAML`
/// hands a Lua script (mappings as tables, sequences as arrays) and what the readers of
/// experiment files check, naming `FILE:LINE` in their errors. Scalars are typed by YAML's
/// core schema as Yams resolves them (`3` an integer, `1.0e-3` a number, `true` a boolean,
/// `~` null, anything else text); aliases are expanded (by Yams).
public indirect enum YAMLValue: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([YAMLItem])
    /// Keys in file order (a key given twice is an error when reading).
    case mapping([YAMLEntry])
}

/// A value and its line (1-based).
public struct YAMLItem: Equatable {
    public let value: YAMLValue
    public let line: Int
    public init(_ value: YAMLValue, line: Int) {
        self.value = value
        self.line = line
    }

    /// The value as a number (an integer or a real), else nil.
    public var number: Double? {
        switch value {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }

    /// What the value is, in words for error messages.
    public var kind: String {
        switch value {
        case .null: return "nothing (null)"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case .double: return "a number"
        case let .string(s): return "the text '\(s)'"
        case .list: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

/// A key of a mapping (a scalar, typed as a value is) and its value.
public struct YAMLEntry: Equatable {
    public let key: YAMLItem
    public let value: YAMLItem
}

public enum YAMLDocument {
    /// The document of the file at `path` (nil for an empty file).
    public static func read(path: String) throws -> YAMLItem? {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigError("\(path): cannot read the YAML file (\(error.localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw ConfigError("\(path): the YAML file is not UTF-8 text") }
        return try parse(text, path: path)
    }

    /// The document in `text`; errors are worded `path:LINE: ...`.
    public static func parse(_ text: String, path: String) throws -> YAMLItem? {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
            throw ConfigError("\(path):\(secondLine(of: duplicates.first ?? "", in: text) ?? context.mark.line): \(duplicates.joined(separator: ", ")): given twice")
        } catch let e as YamlError {
            throw ConfigError("\(path):\(ConfigFile.line(of: e).map { "\($0)" } ?? "1"): not valid YAML: \(ConfigFile.summary(e))")
        } catch {
            throw ConfigError("\(path): not valid YAML: \(error)")
        }
        guard let root else { return nil }
        return try item(root, path: path)
    }

    /// The line of the second `key:` at the start of a line (Yams names the mapping's line).
    static func secondLine(of key: String, in text: String) -> Int? {
        var seen = 0
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let t = line.drop(while: { $0 == " " || $0 == "-" })
            if t.hasPrefix(key), t.dropFirst(key.count).drop(while: { $0 == " " }).hasPrefix(":") {
                seen += 1
                if seen == 2 { return i + 1 }
            }
        }
        return nil
    }

    static func item(_ node: Node, path: String) throws -> YAMLItem {
        let line = node.mark?.line ?? 1
        switch node {
        case let .scalar(s):
            return YAMLItem(scalar(node, s), line: line)
        case let .sequence(seq):
            return YAMLItem(.list(try seq.map { try item($0, path: path) }), line: line)
        case let .mapping(map):
            var entries = [YAMLEntry](), seen = [String: Int]()
            for (k, v) in map {
                let key = try item(k, path: path)
                switch key.value {
                case .list, .mapping, .null:
                    throw ConfigError("\(path):\(key.line): a mapping key must be a name or a number, not \(key.kind)")
                default: break
                }
                let name = k.scalar?.string ?? ""
                if let first = seen[name] { throw ConfigError("\(path):\(key.line): \(name): given twice (first at line \(first))") }
                seen[name] = key.line
                entries.append(YAMLEntry(key: key, value: try item(v, path: path)))
            }
            return YAMLItem(.mapping(entries), line: line)
        case .alias:
            throw ConfigError("\(path):\(line): anchors and aliases (*name) are not supported; write the value out")
        }
    }

    /// A scalar typed by the core schema: quoted scalars stay text.
    static func scalar(_ node: Node, _ s: Node.Scalar) -> YAMLValue {
        if s.style == .singleQuoted || s.style == .doubleQuoted { return .string(s.string) }
        switch node.tag.rawValue {
        case Tag.Name.null.rawValue: return .null
        case Tag.Name.bool.rawValue: return node.bool.map { .bool($0) } ?? .string(s.string)
        case Tag.Name.int.rawValue: return node.int.map { .int($0) } ?? .string(s.string)
        case Tag.Name.float.rawValue: return node.float.map { .double($0) } ?? .string(s.string)
        default: return .string(s.string)
        }
    }
}
