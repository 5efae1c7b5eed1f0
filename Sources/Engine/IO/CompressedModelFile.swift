import Foundation

/// The compressed model file: a safetensors container (so any safetensors reader lists its
/// parts) whose sparse tensors are stored as index structure + values, optionally with shared
/// weights, and whose index streams are entropy-coded. Lossless unless weight sharing is asked
/// for. docs/model-files.md describes it byte by byte; in short:
///
/// - `__metadata__`: "format" = "workbench.compressed", "workbench.architecture" (as in a
///   standard file), "workbench.compressed" = a JSON object with one entry per tensor stored
///   sparse or shared: {"shape": [...], "count": nnz, "positions": "relative" | "csr" | "all",
///   "values": "float32" | "shared", "bits": B (shared only), "mask": true | false};
///   "workbench.masks" (`CompactMasks`) for masked tensors stored dense; caller metadata.
/// - For such a tensor "N": U8 tensors "N.gaps" (relative) or "N.rows" and "N.columns" (csr),
///   each an `IntegerStream` (`SparsePositions`); then either the F32 tensor "N.values" [nnz]
///   (the stored entries in position order) or the F32 codebook "N.codebook" [K ≤ 2^B] and
///   the U8 stream "N.codes" (nnz codebook indices).
/// - Every other tensor (biases, buffers, scores, layers that are smaller dense) is a plain
///   F32 tensor under its state_dict name.
///
/// The stored entries of a masked parameter are where its mask is 1 ("mask": true: the mask
/// is exactly those positions); of an unmasked one, the entries whose bit pattern is not 0.
/// Per tensor the encoder writes the shortest of: dense (lossless only), relative or csr
/// positions with values, and (shared, unmasked) a codebook index for every entry.
public enum CompressedModelFile {
    public static let format = "workbench.compressed"
    public static let layoutKey = "workbench.compressed"

    /// How one tensor was stored, and its bytes in the file (streams, values, codebook; a
    /// dense tensor's 4 bytes per entry).
    public struct Stored {
        public let name: String
        /// "dense", or "<positions>+<values>" such as "relative+float32", "csr+shared5".
        public let encoding: String
        public let bytes: Int
    }

    /// The parts of a compressed file for `tensors` (a model's state dict), with `sharing`
    /// the bits of weight sharing per parameter (absent: lossless), and how each was stored.
    static func payloads(_ tensors: [ModelFile.NamedTensor], sharing: [ObjectIdentifier: Int]) throws
        -> (payloads: [(name: String, payload: SafetensorsPayload)], metadata: [String: String], stored: [Stored]) {
        var out = [(name: String, payload: SafetensorsPayload)]()
        var layout = [String: String](), masks = [String: [[Int]]](), stored = [Stored]()
        for t in tensors {
            if t.isCompanion {
                if t.name.hasSuffix(ModelFile.maskSuffix) { continue }  // written with its parameter
                out.append((t.name, .f32(t.tensor)))
                stored.append(Stored(name: t.name, encoding: "dense", bytes: 4 * t.tensor.count))
                continue
            }
            guard let p = t.parameter else {
                out.append((t.name, .f32(t.tensor)))
                stored.append(Stored(name: t.name, encoding: "dense", bytes: 4 * t.tensor.count))
                continue
            }
            let bits = sharing[ObjectIdentifier(p)]
            let choice = try encodeParameter(t.name, value: t.tensor, mask: p.mask, bits: bits)
            out += choice.payloads
            if let l = choice.layout { layout[t.name] = l }
            if let runs = choice.maskRuns { masks[t.name] = runs }
            stored.append(Stored(name: t.name, encoding: choice.encoding, bytes: choice.payloads.reduce(0) { $0 + $1.payload.byteCount }))
        }
        var metadata = [String: String]()
        metadata[layoutKey] = "{" + layout.keys.sorted().map { SafetensorsFile.jsonString($0) + ":" + layout[$0]! }.joined(separator: ",") + "}"
        if !masks.isEmpty { metadata[CompactMasks.metadataKey] = CompactMasks.encode(masks) }
        return (out, metadata, stored)
    }

    private struct Choice {
        var payloads: [(name: String, payload: SafetensorsPayload)]
        var layout: String?
        var maskRuns: [[Int]]?
        var encoding: String
        var size: Int { payloads.reduce(0) { $0 + $1.payload.byteCount } }
    }

    /// Matrix view of a tensor: rows = its first dimension.
    static func matrix(_ shape: [Int]) -> (rows: Int, columns: Int) {
        let count = shape.reduce(1, *)
        let rows = shape.first ?? 1
        return (rows, rows == 0 ? 0 : count / rows)
    }

    private static func encodeParameter(_ name: String, value: Tensor, mask: Tensor?, bits: Int?) throws -> Choice {
        var candidates = [Choice]()
        let shapeJSON = "[" + value.shape.map(String.init).joined(separator: ",") + "]"
        func layoutJSON(_ positions: String, _ count: Int, _ values: String) -> String {
            "{\"bits\":\(bits ?? 0),\"count\":\(count),\"mask\":\(mask != nil),\"positions\":\"\(positions)\",\"shape\":\(shapeJSON),\"values\":\"\(values)\"}"
        }
        if bits == nil {
            if let m = mask {
                if let runs = CompactMasks.exceptions(value: value, mask: m) {
                    candidates.append(Choice(payloads: [(name, .f32(value))], layout: nil, maskRuns: runs, encoding: "dense"))
                } else {
                    candidates.append(Choice(payloads: [(name, .f32(value)), (name + ModelFile.maskSuffix, .f32(m))], layout: nil,
                                             maskRuns: nil, encoding: "dense"))
                }
            } else {
                candidates.append(Choice(payloads: [(name, .f32(value))], layout: nil, maskRuns: nil, encoding: "dense"))
            }
        }
        let positions = storedPositions(value, mask: mask)
        let (rows, columns) = matrix(value.shape)
        let sparse = SparsePositions.encode(positions, rows: rows, columns: columns)
        let streams = sparse.streams.map { (name: name + "." + $0.name, payload: SafetensorsPayload.u8($0.bytes)) }
        let v = value.data
        if let bits {
            let book = Codebook(values: positions.map { v[$0] }, bits: bits)
            candidates.append(Choice(payloads: streams + sharedPayloads(name, book),
                                     layout: layoutJSON(sparse.layout.rawValue, positions.count, "shared"),
                                     maskRuns: nil, encoding: "\(sparse.layout.rawValue)+shared\(bits)"))
            if mask == nil {
                let all = Codebook(values: (0..<value.count).map { v[$0] }, bits: bits)
                candidates.append(Choice(payloads: sharedPayloads(name, all), layout: layoutJSON("all", value.count, "shared"),
                                         maskRuns: nil, encoding: "all+shared\(bits)"))
            }
        } else {
            let values = Tensor(shape: [positions.count])
            for (i, p) in positions.enumerated() { values.data[i] = v[p] }
            candidates.append(Choice(payloads: streams + [(name + ".values", .f32(values))],
                                     layout: layoutJSON(sparse.layout.rawValue, positions.count, "float32"),
                                     maskRuns: nil, encoding: "\(sparse.layout.rawValue)+float32"))
        }
        return candidates.min { $0.size < $1.size }!
    }

    private static func sharedPayloads(_ name: String, _ book: Codebook) -> [(name: String, payload: SafetensorsPayload)] {
        let c = Tensor(shape: [book.centroids.count])
        for (i, x) in book.centroids.enumerated() { c.data[i] = x }
        return [(name + ".codebook", .f32(c)), (name + ".codes", .u8(IntegerStream.encode(book.codes)))]
    }

    // MARK: - Reading

    /// The standard-layout tensors (values, "<name>_mask" for masked sparse tensors, plain
    /// tensors as they are) and metadata (without the layout key) of the compressed `file`.
    /// `shapes` are the model's tensors (name → shape): a sparse entry must be one of them.
    static func decode(_ file: SafetensorsFile, shapes: [String: [Int]]) throws -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
        let path = file.file
        guard let json = file.metadata[layoutKey] else { throw EngineError("\(path): a compressed model file without its layout (\(layoutKey))") }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(json.utf8)) } catch {
            throw EngineError("\(path): \(layoutKey) is not valid JSON")
        }
        guard let layout = object as? [String: Any] else { throw EngineError("\(path): \(layoutKey) is not a JSON object") }
        var used = Set<String>(), out = [(name: String, tensor: Tensor)]()
        for name in layout.keys.sorted() {
            let shown = String(name.prefix(120))
            let who = "\(path): tensor '\(shown)'"
            guard let expected = shapes[name] else { throw EngineError("\(who): the model has no such tensor (\(layoutKey))") }
            guard let entry = layout[name] as? [String: Any] else { throw EngineError("\(who): its layout is not a JSON object") }
            func int(_ key: String) throws -> Int {
                guard let i = jsonInteger(entry[key]) else { throw EngineError("\(who): layout key '\(key)' is not an integer") }
                return i
            }
            func string(_ key: String) throws -> String {
                guard let s = entry[key] as? String else { throw EngineError("\(who): layout key '\(key)' is not a string") }
                return s
            }
            guard let shapeList = entry["shape"] as? [Any], shapeList.count == expected.count,
                  zip(shapeList, expected).allSatisfy({ jsonInteger($0.0) == $0.1 }) else {
                throw EngineError("\(who): its layout's shape is not the model's \(shapeString(expected))")
            }
            guard file.entry(name) == nil else { throw EngineError("\(who): stored both dense and in the layout") }
            let size = expected.reduce(1, *)
            let count = try int("count")
            guard (0...size).contains(count) else { throw EngineError("\(who): \(count) stored entries for a tensor of \(size)") }
            let (rows, columns) = matrix(expected)
            func stream(_ suffix: String) throws -> (bytes: [UInt8], range: Range<Int>) {
                let n = name + "." + suffix
                guard let e = file.entry(n), e.dtype == "U8" else { throw EngineError("\(who): its U8 stream '\(String(n.prefix(140)))' is missing") }
                used.insert(n)
                let b = Array(file.rawBytes(e))
                return (b, 0..<b.count)
            }
            func floats(_ suffix: String, _ n: Int?) throws -> Tensor {
                let full = name + "." + suffix
                guard let e = file.entry(full), e.dtype == "F32" else { throw EngineError("\(who): its F32 tensor '\(String(full.prefix(140)))' is missing") }
                guard e.shape.count == 1, n == nil || e.shape[0] == n! else {
                    throw EngineError("\(who): '\(String(full.prefix(140)))' has shape \(shapeString(e.shape)), expected [\(n.map(String.init) ?? "K")]")
                }
                used.insert(full)
                let t = Tensor(shape: e.shape)
                file.copy(e, into: t)
                return t
            }
            let positions: [Int]
            switch try string("positions") {
            case "all":
                guard count == size else { throw EngineError("\(who): positions 'all' with count \(count), expected \(size)") }
                positions = Array(0..<size)
            case let kind:
                guard let l = SparseLayout(rawValue: kind) else {
                    throw EngineError("\(who): unknown positions '\(String(kind.prefix(40)))' (relative, csr or all)")
                }
                positions = try SparsePositions.decode(l, count: count, rows: rows, columns: columns, what: who, stream: stream)
            }
            let values: [Float]
            switch try string("values") {
            case "float32":
                let t = try floats("values", count)
                values = Array(UnsafeBufferPointer(start: t.data, count: t.count))
            case "shared":
                let bits = try int("bits")
                guard Codebook.bitRange.contains(bits) else { throw EngineError("\(who): \(bits) bits of weight sharing (\(Codebook.bitRange))") }
                let book = try floats("codebook", nil)
                guard (1...(1 << bits)).contains(book.count) else {
                    throw EngineError("\(who): a codebook of \(book.count) values for \(bits) bits (1...\(1 << bits))")
                }
                let s = try stream("codes")
                let codes = try IntegerStream.decode(s.bytes, s.range, count: count, maxValue: book.count - 1, what: "\(who) codes")
                values = codes.map { book.data[$0] }
            case let other:
                throw EngineError("\(who): unknown values '\(String(other.prefix(40)))' (float32 or shared)")
            }
            let t = Tensor(shape: expected)
            for (i, p) in positions.enumerated() { t.data[p] = values[i] }
            out.append((name, t))
            guard let flag = entry["mask"] as? NSNumber, String(cString: flag.objCType) == "c" else { throw EngineError("\(who): layout key 'mask' is not true or false") }
            if flag.boolValue {
                let m = Tensor(shape: expected)
                for p in positions { m.data[p] = 1 }
                out.append((name + ModelFile.maskSuffix, m))
            }
        }
        for e in file.entries where !used.contains(e.name) {
            guard e.dtype == "F32" else {
                throw EngineError("\(path): U8 tensor '\(String(e.name.prefix(120)))' is no stream of the layout (\(layoutKey))")
            }
            let t = Tensor(shape: e.shape)
            file.copy(e, into: t)
            out.append((e.name, t))
        }
        var metadata = file.metadata
        metadata[layoutKey] = nil
        metadata[ModelFile.formatKey] = "pt"
        return (out, metadata)
    }
}

/// A JSON number that is an integer (not a boolean, not a fraction), as Foundation hands it over.
func jsonInteger(_ value: Any?) -> Int? {
    guard let n = value as? NSNumber, "ilqsILQS".contains(String(cString: n.objCType)) else { return nil }
    return Int(n.stringValue)
}
