import Foundation
import Yams

/// An error in a run configuration, worded `FILE:LINE: key: message` (or
/// `command line: --flag: message` for an override), so the user can go to the place.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One `key: value` of a configuration, with where it was given.
public struct ConfigEntry: Equatable {
    public let key: String
    /// The value as written (a YAML scalar's text).
    public let text: String
    /// Where: `FILE:LINE` for the file, `command line` for an override.
    public let place: String
    /// The name the user wrote: `key` in the file, `--flag` on the command line.
    public let spelled: String

    /// The error message for this entry: `place: spelled: message`.
    public func error(_ message: String) -> ConfigError { ConfigError("\(place): \(spelled): \(message)") }
}

/// A YAML configuration file of flat `key: scalar` lines (the format of edge-popup's configs),
/// read with Yams; each entry keeps its line. A file that is not YAML, not a mapping, holds a
/// key twice or a value that is not a scalar is refused with its file and line.
public struct ConfigFile {
    public let path: String
    /// The entries in file order.
    public let entries: [ConfigEntry]

    public static func read(path: String) throws -> ConfigFile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigError("\(path): cannot read the config file (\(error.localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw ConfigError("\(path): the config file is not UTF-8 text") }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> ConfigFile {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
            throw ConfigError("\(path):\(context.mark.line): \(duplicates.joined(separator: ", ")): given twice")
        } catch let e as YamlError {
            throw ConfigError("\(path):\(line(of: e).map { "\($0)" } ?? "1"): not valid YAML: \(summary(e))")
        } catch {
            throw ConfigError("\(path): not valid YAML: \(error)")
        }
        guard let root else { return ConfigFile(path: path, entries: []) }
        guard let mapping = root.mapping else {
            throw ConfigError("\(path):\(root.mark?.line ?? 1): the config must be a mapping of `key: value` lines")
        }
        var entries = [ConfigEntry](), seen = [String: Int]()
        for (k, v) in mapping {
            let line = k.mark?.line ?? 0
            guard let key = k.scalar?.string else { throw ConfigError("\(path):\(line): a key must be a plain name") }
            if let first = seen[key] { throw ConfigError("\(path):\(line): \(key): given twice (first at line \(first))") }
            seen[key] = line
            guard let scalar = v.scalar else {
                throw ConfigError("\(path):\(line): \(key): the value must be a single value, not a list or a mapping")
            }
            entries.append(ConfigEntry(key: key, text: scalar.string, place: "\(path):\(line)", spelled: key))
        }
        return ConfigFile(path: path, entries: entries)
    }

    static func line(of e: YamlError) -> Int? {
        switch e {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _): return mark.line
        default: return nil
        }
    }

    static func summary(_ e: YamlError) -> String {
        switch e {
        case let .scanner(_, problem, _, _), let .parser(_, problem, _, _), let .composer(_, problem, _, _): return problem
        default: return "\(e)".split(separator: "\n").first.map(String.init) ?? "\(e)"
        }
    }
}
