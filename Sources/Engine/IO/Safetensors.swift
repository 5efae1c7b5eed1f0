import Foundation

/// One tensor's entry in a safetensors header. `byteRange` is relative to the data section.
public struct SafetensorsEntry: Equatable {
    public let name: String
    public let dtype: String
    public let shape: [Int]
    public let byteRange: Range<Int>

    public var count: Int { shape.reduce(1, *) }
}

/// The bytes of one tensor to write: float32 values, or raw bytes (dtype U8, shape [count]).
public enum SafetensorsPayload {
    case f32(Tensor)
    case u8([UInt8])

    var byteCount: Int {
        switch self {
        case .f32(let t): return 4 * t.count
        case .u8(let b): return b.count
        }
    }
}

/// The safetensors format (Hugging Face's), float32 tensors (and, where a reader asks for it,
/// U8 byte tensors, as the compressed model format uses):
///
///     8 bytes    N, the header length, unsigned little-endian
///     N bytes    JSON: {"__metadata__": {string: string},
///                       "<name>": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...}
///     the rest   the data section; tensor bytes at [begin, end), little-endian, C order
///
/// Writing: tensors laid out back to back in the order given (no gaps, as the reference
/// implementation requires), the header padded with spaces so the data section starts at a
/// multiple of 8 bytes, hence every F32 tensor is 4-byte aligned.
/// Reading: every number in the header is checked against the file before use.
public struct SafetensorsFile {
    /// Headers larger than this are refused (the reference implementation's limit).
    public static let maxHeaderLength = 100_000_000

    /// The file's path (or a name for in-memory data), used in error messages.
    public let file: String
    /// Entries in data order.
    public let entries: [SafetensorsEntry]
    public let metadata: [String: String]
    private let bytes: [UInt8]
    private let dataStart: Int

    public func entry(_ name: String) -> SafetensorsEntry? { entries.first { $0.name == name } }

    /// Reads and validates the file at `path`; `dtypes` are the element types accepted
    /// (F32, and U8 for the compressed model format).
    public init(contentsOf path: String, dtypes: Set<String> = ["F32"]) throws {
        try self.init(bytes: try FileBytes.read(path, kind: "a model file"), file: path, dtypes: dtypes)
    }

    /// The element size in bytes of each dtype a reader may accept.
    static let elementSizes: [String: Int] = ["F32": 4, "U8": 1]

    /// Parses and validates safetensors bytes; `file` names them in errors.
    public init(bytes: [UInt8], file: String, dtypes: Set<String> = ["F32"]) throws {
        self.file = file
        self.bytes = bytes
        guard bytes.count >= 8 else {
            throw EngineError("\(file): truncated: \(bytes.count) bytes, but a safetensors file starts with an 8-byte header length")
        }
        var n: UInt64 = 0
        for i in (0..<8).reversed() { n = n << 8 | UInt64(bytes[i]) }
        guard n >= 2, n <= UInt64(Self.maxHeaderLength) else {
            throw EngineError("\(file): not a safetensors file: header length \(n) is not sane (must be 2...\(Self.maxHeaderLength))")
        }
        guard n <= UInt64(bytes.count - 8) else {
            throw EngineError("\(file): truncated or not a safetensors file: header length \(n) runs beyond the end of the file (\(bytes.count) bytes)")
        }
        let headerLength = Int(n)
        dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart

        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart]))
        } catch {
            throw EngineError("\(file): the header is not valid JSON (\(Self.jsonErrorText(error)))")
        }
        guard let header = json as? [String: Any] else {
            throw EngineError("\(file): the header is not a JSON object")
        }

        var metadata = [String: String]()
        if let raw = header["__metadata__"] {
            guard let dict = raw as? [String: Any] else { throw EngineError("\(file): __metadata__ is not a JSON object") }
            for (key, value) in dict {
                guard let s = value as? String else {
                    throw EngineError("\(file): __metadata__ value of '\(key)' is not a string")
                }
                metadata[key] = s
            }
        }
        self.metadata = metadata

        var entries = [SafetensorsEntry]()
        for name in header.keys.sorted() where name != "__metadata__" {
            entries.append(try Self.entry(name, header[name]!, dataSize: dataSize, file: file, dtypes: dtypes))
        }
        entries.sort { ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name) < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name) }
        // The tensors must tile the data section exactly, as the reference implementation
        // requires: a header length that is off by even one byte shifts every tensor.
        var end = 0, previous: SafetensorsEntry?
        for e in entries where !e.byteRange.isEmpty {
            if let p = previous, p.byteRange.upperBound > e.byteRange.lowerBound {
                throw EngineError("\(file): tensors '\(p.name)' (bytes \(p.byteRange.lowerBound)..<\(p.byteRange.upperBound)) and '\(e.name)' (bytes \(e.byteRange.lowerBound)..<\(e.byteRange.upperBound)) overlap")
            }
            guard e.byteRange.lowerBound == end else {
                throw EngineError("\(file): tensor '\(e.name)' starts at byte \(e.byteRange.lowerBound) of the data section, but the tensors before it end at \(end): the header or its length is wrong")
            }
            end = e.byteRange.upperBound
            previous = e
        }
        guard end == dataSize else {
            throw EngineError("\(file): the tensors fill \(end) bytes but the data section after the \(headerLength)-byte header holds \(dataSize): the header length is wrong or the file has trailing bytes")
        }
        self.entries = entries
    }

    /// The raw bytes of `entry` (any dtype).
    public func rawBytes(_ entry: SafetensorsEntry) -> ArraySlice<UInt8> {
        bytes[(dataStart + entry.byteRange.lowerBound)..<(dataStart + entry.byteRange.upperBound)]
    }

    /// Copies the F32 tensor `entry` into `tensor`, whose element count must match.
    public func copy(_ entry: SafetensorsEntry, into tensor: Tensor) {
        precondition(entry.dtype == "F32" && tensor.count == entry.count && entry.byteRange.count == 4 * entry.count)
        bytes.withUnsafeBytes { raw in
            let src = raw.baseAddress! + dataStart + entry.byteRange.lowerBound
            #if _endian(little)
            UnsafeMutableRawPointer(tensor.data).copyMemory(from: src, byteCount: entry.byteRange.count)
            #else
            for i in 0..<entry.count {
                tensor.data[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            #endif
        }
    }

    /// The first element of `entry` that is NaN or infinite, with its 0-based index, or nil.
    /// Read from the file's bytes, so it can be asked before any tensor is allocated.
    public func firstNonFinite(_ entry: SafetensorsEntry) -> (index: Int, value: Float)? {
        precondition(entry.dtype == "F32")
        return bytes.withUnsafeBytes { raw in
            let src = raw.baseAddress! + dataStart + entry.byteRange.lowerBound
            for i in 0..<entry.count {
                let bits = UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                // exponent bits all ones: infinity or NaN
                if bits & 0x7f80_0000 == 0x7f80_0000 { return (i, Float(bitPattern: bits)) }
            }
            return nil
        }
    }

    /// The tensor named `name` as a new Tensor, or nil when absent.
    public func tensor(_ name: String) -> Tensor? {
        guard let e = entry(name) else { return nil }
        let t = Tensor(shape: e.shape)
        copy(e, into: t)
        return t
    }

    // MARK: - Writing

    /// The bytes of a safetensors file holding `tensors` (in that order) and `metadata`.
    public static func encode(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) throws -> [UInt8] {
        try encode(payloads: tensors.map { ($0.name, .f32($0.tensor)) }, metadata: metadata)
    }

    /// The bytes of a safetensors file holding `payloads` (F32 tensors or U8 byte strings, in
    /// that order) and `metadata`.
    public static func encode(payloads tensors: [(name: String, payload: SafetensorsPayload)], metadata: [String: String]) throws -> [UInt8] {
        var seen = Set<String>()
        for (name, _) in tensors {
            guard name != "__metadata__", seen.insert(name).inserted else {
                throw EngineError("safetensors: tensor name '\(name)' is used twice or reserved")
            }
        }
        var header = "{"
        if !metadata.isEmpty {
            header += "\"__metadata__\":{"
            header += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            header += "},"
        }
        var offset = 0
        var fields = [String]()
        for (name, payload) in tensors {
            let end = offset + payload.byteCount
            let (dtype, shape): (String, String)
            switch payload {
            case .f32(let t): (dtype, shape) = ("F32", t.shape.map(String.init).joined(separator: ","))
            case .u8(let b): (dtype, shape) = ("U8", String(b.count))
            }
            fields.append("\(jsonString(name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += fields.joined(separator: ",") + "}"
        if header.hasSuffix(",}") { header.removeLast(2); header += "}" }
        var headerBytes = Array(header.utf8)
        // Pad with spaces (allowed by JSON and by the format) so the data starts 8-aligned.
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }

        var out = [UInt8]()
        out.reserveCapacity(8 + headerBytes.count + offset)
        var length = UInt64(headerBytes.count)
        for _ in 0..<8 { out.append(UInt8(length & 0xff)); length >>= 8 }
        out.append(contentsOf: headerBytes)
        for (_, payload) in tensors {
            guard case .f32(let t) = payload else {
                if case .u8(let b) = payload { out.append(contentsOf: b) }
                continue
            }
            let start = out.count
            out.append(contentsOf: repeatElement(0, count: 4 * t.count))
            out.withUnsafeMutableBytes { raw in
                #if _endian(little)
                (raw.baseAddress! + start).copyMemory(from: t.data, byteCount: 4 * t.count)
                #else
                for i in 0..<t.count { raw.storeBytes(of: t.data[i].bitPattern.littleEndian, toByteOffset: start + 4 * i, as: UInt32.self) }
                #endif
            }
        }
        return out
    }

    // MARK: - Parsing helpers

    private static func entry(_ name: String, _ raw: Any, dataSize: Int, file: String, dtypes: Set<String>) throws -> SafetensorsEntry {
        let who = "\(file): tensor '\(name)'"
        guard let dict = raw as? [String: Any] else { throw EngineError("\(who): its header entry is not a JSON object") }
        guard let dtype = dict["dtype"] as? String else { throw EngineError("\(who): no dtype string in its header entry") }
        guard dtypes.contains(dtype), let elementSize = elementSizes[dtype] else {
            throw EngineError("\(who): dtype \(dtype) is not supported; the workbench reads F32 tensors only (convert with .float() before saving)")
        }
        guard let shapeValues = dict["shape"] as? [Any], let shape = integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
            throw EngineError("\(who): shape is not a list of non-negative integers")
        }
        guard let offsetValues = dict["data_offsets"] as? [Any], let offsets = integers(offsetValues), offsets.count == 2 else {
            throw EngineError("\(who): data_offsets is not a pair of integers [begin, end]")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end else {
            throw EngineError("\(who): data_offsets [\(begin), \(end)] are not an increasing pair of non-negative offsets")
        }
        guard end <= dataSize else {
            throw EngineError("\(who): data_offsets [\(begin), \(end)] run beyond the data section (\(dataSize) bytes): the file is truncated or its header wrong")
        }
        var count = 1
        for d in shape {
            let (c, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw EngineError("\(who): shape \(shape) is impossibly large") }
            count = c
        }
        let (needed, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow, end - begin == needed else {
            throw EngineError("\(who): data_offsets [\(begin), \(end)] hold \(end - begin) bytes but shape \(shape) of \(dtype) needs \(overflow ? "more" : String(needed))")
        }
        return SafetensorsEntry(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }

    /// The values as Ints when every one is an integral JSON number: JSON booleans (which
    /// Foundation hands over as NSNumber of type "c") and fractions are refused.
    private static func integers(_ values: [Any]) -> [Int]? {
        var out = [Int]()
        for v in values {
            guard let n = v as? NSNumber, "ilqsILQS".contains(String(cString: n.objCType)),
                  let i = Int(n.stringValue) else { return nil }
            out.append(i)
        }
        return out
    }

    /// `s` as a JSON string literal.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    private static func jsonErrorText(_ error: Error) -> String {
        let ns = error as NSError
        return (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? ns.localizedDescription
    }
}
