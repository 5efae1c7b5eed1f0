import Foundation

/// An `.ini` file as Python's configparser reads the seed's experiment files: `[Section]`
/// headers, then `key = value` (or `key: value`) lines; `#` or `;` starts a comment line
/// (also after whitespace), and ` #` after a value starts a trailing comment; blank lines are
/// skipped. Keys are lower-cased (configparser's default), values trimmed. Every entry keeps
/// its 1-based line, so a later check can name `FILE:line` and the key.
///
/// Errors (with `FILE:line`): a line that is neither a header, a comment nor `key = value`;
/// an entry before the first header; a section or a key (within a section) given twice.
public struct IniFile {
    public struct Entry: Equatable {
        public let section: String
        public let key: String
        public let value: String
        public let line: Int
    }

    /// The file's name as errors show it.
    public let path: String
    /// Sections in file order, with the line of their header.
    public private(set) var sections: [(name: String, line: Int)] = []
    /// Entries in file order.
    public private(set) var entries: [Entry] = []

    /// Reads and parses `path` (a regular file of at most 1 MB of UTF-8 text).
    public init(contentsOf path: String) throws {
        let bytes = try FileBytes.read(path, kind: "a settings file")
        guard bytes.count <= 1 << 20 else { throw EngineError("\(path): \(bytes.count) bytes is too large for a settings file (1 MB at most)") }
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw EngineError("\(path): not UTF-8 text")
        }
        try self.init(text: text, path: path)
    }

    /// Parses `text`, naming `path` in errors.
    public init(text: String, path: String) throws {
        self.path = path
        var current: String?
        var seen = Set<String>()
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = i + 1
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else {
                    throw EngineError("\(path):\(lineNumber): a section header is [Name], got '\(line)'")
                }
                let name = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if let first = sections.first(where: { $0.name == name }) {
                    throw EngineError("\(path):\(lineNumber): section [\(name)] again (first at line \(first.line))")
                }
                sections.append((name, lineNumber))
                current = name
                continue
            }
            guard let cut = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw EngineError("\(path):\(lineNumber): expected 'key = value', a [Section] or a # comment, got '\(line)'")
            }
            let key = line[..<cut].trimmingCharacters(in: .whitespaces).lowercased()
            var value = line[line.index(after: cut)...].trimmingCharacters(in: .whitespaces)
            if let hash = value.range(of: " #") ?? value.range(of: "\t#") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            guard !key.isEmpty else { throw EngineError("\(path):\(lineNumber): a value without a key: '\(line)'") }
            guard let section = current else {
                throw EngineError("\(path):\(lineNumber): key '\(key)' before any [Section]")
            }
            if !seen.insert(section + "\u{0}" + key).inserted {
                let first = entries.first { $0.section == section && $0.key == key }!
                throw EngineError("\(path):\(lineNumber): key '\(key)' given twice in [\(section)] (first at line \(first.line))")
            }
            entries.append(Entry(section: section, key: key, value: value, line: lineNumber))
        }
    }
}
