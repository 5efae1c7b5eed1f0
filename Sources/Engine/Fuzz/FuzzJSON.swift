/// A JSON value for the fuzzer's structure-aware mutations. Unlike Foundation's, it keeps the
/// exact text of numbers ("1e18" stays "1e18", "2.5" stays "2.5"), the order of object keys,
/// and allows duplicate keys, so that a mutant says exactly what the mutation meant.
public indirect enum FuzzJSON {
    case null
    case bool(Bool)
    /// The number's literal text, written back unchanged.
    case number(String)
    case string(String)
    case array([FuzzJSON])
    /// Keys in order; duplicates allowed.
    case object([(key: String, value: FuzzJSON)])

    // MARK: - Access

    public subscript(key: String) -> FuzzJSON? {
        guard case .object(let fields) = self else { return nil }
        return fields.first { $0.key == key }?.value
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var arrayValue: [FuzzJSON]? { if case .array(let a) = self { return a } else { return nil } }
    public var objectValue: [(key: String, value: FuzzJSON)]? { if case .object(let o) = self { return o } else { return nil } }
    public var integerValue: Int? { if case .number(let n) = self { return Int(n) } else { return nil } }

    /// The object with `key` set to `value` (replaced in place, or appended).
    public func setting(_ key: String, _ value: FuzzJSON) -> FuzzJSON {
        guard case .object(var fields) = self else { return self }
        if let i = fields.firstIndex(where: { $0.key == key }) { fields[i].value = value } else { fields.append((key, value)) }
        return .object(fields)
    }

    /// The object without `key`.
    public func removing(_ key: String) -> FuzzJSON {
        guard case .object(let fields) = self else { return self }
        return .object(fields.filter { $0.key != key })
    }

    // MARK: - Writing

    public var text: String {
        var out = ""
        write(into: &out)
        return out
    }

    private func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): out += FuzzJSON.quoted(s)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.write(into: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, f) in o.enumerated() {
                if i > 0 { out += "," }
                out += FuzzJSON.quoted(f.key) + ":"
                f.value.write(into: &out)
            }
            out += "}"
        }
    }

    /// `s` as a JSON string literal (the writer the model files use).
    public static func quoted(_ s: String) -> String { SafetensorsFile.jsonString(s) }

    // MARK: - Parsing

    /// Parses JSON text (nil when it is not JSON: the fuzzer only parses its own seeds).
    public static func parse(_ text: String) -> FuzzJSON? {
        var p = Parser(bytes: Array(text.utf8))
        guard let v = p.value() else { return nil }
        p.skipSpace()
        return p.i == p.bytes.count ? v : nil
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x0a, 0x0d, 0x09].contains(bytes[i]) { i += 1 }
        }

        mutating func literal(_ s: String) -> Bool {
            let b = Array(s.utf8)
            guard i + b.count <= bytes.count, Array(bytes[i..<(i + b.count)]) == b else { return false }
            i += b.count
            return true
        }

        mutating func value() -> FuzzJSON? {
            skipSpace()
            guard i < bytes.count else { return nil }
            switch bytes[i] {
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "\""): return string().map { .string($0) }
            case UInt8(ascii: "["):
                i += 1
                var a = [FuzzJSON]()
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                while true {
                    guard let v = value() else { return nil }
                    a.append(v)
                    skipSpace()
                    guard i < bytes.count else { return nil }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                    return nil
                }
            case UInt8(ascii: "{"):
                i += 1
                var o = [(key: String, value: FuzzJSON)]()
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                while true {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\""), let k = string() else { return nil }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
                    i += 1
                    guard let v = value() else { return nil }
                    o.append((k, v))
                    skipSpace()
                    guard i < bytes.count else { return nil }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                    return nil
                }
            default:
                let start = i
                while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
                guard i > start else { return nil }
                return .number(String(decoding: bytes[start..<i], as: UTF8.self))
            }
        }

        mutating func string() -> String? {
            i += 1
            var scalars = String.UnicodeScalarView()
            var raw = [UInt8]()
            func flush() { scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars); raw.removeAll() }
            while i < bytes.count {
                let c = bytes[i]
                i += 1
                if c == UInt8(ascii: "\"") { flush(); return String(scalars) }
                if c != UInt8(ascii: "\\") { raw.append(c); continue }
                guard i < bytes.count else { return nil }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): raw.append(0x0a)
                case UInt8(ascii: "r"): raw.append(0x0d)
                case UInt8(ascii: "t"): raw.append(0x09)
                case UInt8(ascii: "b"): raw.append(0x08)
                case UInt8(ascii: "f"): raw.append(0x0c)
                case UInt8(ascii: "u"):
                    guard let u = hex4() else { return nil }
                    flush()
                    var code = u
                    if (0xd800..<0xdc00).contains(u), i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                        i += 2
                        guard let low = hex4() else { return nil }
                        code = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00)
                    }
                    scalars.append(Unicode.Scalar(code) ?? "\u{fffd}")
                default: raw.append(e)
                }
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else { return nil }
            i += 4
            return v
        }
    }
}
