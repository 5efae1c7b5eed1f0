import Foundation

/// Seed inputs of the formats the fuzzer knows, each with its structure: truncation
/// boundaries, length fields and the structure-aware edits.
public enum FuzzSeeds {
    // MARK: - safetensors

    /// The tiny model every safetensors seed run starts from: conv, tanh, pooling, view, linear
    /// with a pruning mask, batch norm, dropout, ReLU, linear, log-softmax; input 1x8x8.
    public static func tinyModel() throws -> Sequential {
        let saved = GlobalRandom.generator
        defer { GlobalRandom.generator = saved }
        GlobalRandom.seed(20_161_201)
        let model = Sequential([
            SpatialConvolution(1, 2, 3, 3), Tanh(), SpatialMaxPooling(2, 2, 2, 2), try View(18),
            Linear(18, 6), try BatchNormalization(6), try Dropout(0.5), ReLU(), Linear(6, 4), LogSoftMax(),
        ])
        let w = model.modules[4].weight!
        let mask = Tensor(shape: w.value.shape)
        for i in 0..<mask.count { mask.data[i] = i % 3 == 0 ? 0 : 1 }
        try w.setMask(mask)
        let bn = model.modules[5]
        for (name, t) in bn.buffers where name == "running_var" {
            for i in 0..<t.count { t.data[i] = 0.5 + Float(i) * 0.25 }
        }
        model.evaluate()
        return model
    }

    public static let tinyInputShape = [2, 1, 8, 8]

    /// The tiny model's file, as `ModelFile.save` writes it, with a metadata entry sized so
    /// that the header ends in padding spaces (then a header length one byte short still
    /// parses, and shifts every tensor by a byte).
    public static func tinyModelFile(temporaryDirectory: String) throws -> [UInt8] {
        let path = temporaryDirectory + "/seed-tiny.safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try tinyModel()
        for pad in 0..<8 {
            try ModelFile.save(model, to: path, metadata: ["seed": "fuzz" + String(repeating: "z", count: pad)])
            guard let data = FileManager.default.contents(atPath: path) else { throw EngineError("\(path): cannot read the seed back") }
            let bytes = [UInt8](data)
            let n = Int(FuzzLengthField(name: "", offset: 0, width: 8, bigEndian: false).read(bytes))
            if bytes[8 + n - 1] == 0x20 && bytes[8 + n - 2] == 0x20 { return bytes }
        }
        throw EngineError("\(path): no padded header for the seed")
    }

    /// A safetensors seed with its edits: header length, JSON header, architecture, tensor
    /// mismatches; boundaries inside the length, in the header, at every tensor.
    public static func safetensors(name: String, bytes: [UInt8]) throws -> FuzzSeed {
        guard let st = FuzzSafetensors(bytes) else { throw EngineError("\(name): the seed is not a safetensors file the fuzzer can parse") }
        let start = 8 + st.headerLength
        var boundaries = Array(0...9) + [8 + st.headerLength / 2, start - 1, start, start + 1, bytes.count - 1]
        for t in st.tensors {
            boundaries += [start + t.begin, start + t.begin + 1, start + t.end - 1]
        }
        let length = FuzzLengthField(name: "header length", offset: 0, width: 8, bigEndian: false)
        let total = UInt64(bytes.count)
        let lengthEdits = length.edits(of: bytes, extra: [(total - 8, "the whole rest of the file"), (total - 7, "one past the end"),
                                                          (100_000_000, "the 1e8 limit"), (100_000_001, "the 1e8 limit + 1")])
        let architecture = st.architectureEdits()
        return FuzzSeed(name: name, bytes: bytes, boundaries: Array(Set(boundaries)).sorted(),
                        edits: [.lengthField: lengthEdits, .header: st.headerEdits(), .architectureValue: architecture.values,
                                .architecture: architecture.structure,
                                .tensorMismatch: st.mismatchEdits()],
                        hotRange: 0..<start)
    }

    // MARK: - compressed model files

    /// The tiny model with its first convolution and last linear layer pruned to a third,
    /// written compressed: lossless ("tiny-lossless") and with weights shared over 4 values
    /// ("tiny-shared").
    public static func compressedModelFiles(temporaryDirectory: String) throws -> [(name: String, bytes: [UInt8])] {
        let model = try tinyModel()
        for i in [0, 8] {
            let w = model.modules[i].weight!
            let mask = Tensor(shape: w.value.shape)
            for k in 0..<mask.count { mask.data[k] = k % 3 == 1 ? 1 : 0 }
            try w.setMask(mask)
        }
        var out = [(name: String, bytes: [UInt8])]()
        for (name, bits) in [("tiny-lossless", nil), ("tiny-shared", 2)] as [(String, Int?)] {
            let path = temporaryDirectory + "/seed-\(name).wbz"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try ModelFile.save(model, to: path, metadata: ["seed": "fuzz"],
                               format: .compressed(sharing: ModelFile.sharingPlan(model, convolution: bits, linear: bits)))
            guard let data = FileManager.default.contents(atPath: path) else { throw EngineError("\(path): cannot read the seed back") }
            out.append((name, [UInt8](data)))
        }
        return out
    }

    /// A compressed seed: the safetensors edits, and its own (`FuzzMutationKind.compressedLayout`):
    /// every field of each tensor's layout JSON set to edge values, and each stream's coding
    /// byte, value count, width or table size, and last byte set to edge values.
    public static func compressed(name: String, bytes: [UInt8]) throws -> FuzzSeed {
        var seed = try safetensors(name: name, bytes: bytes)
        guard let st = FuzzSafetensors(bytes) else { throw EngineError("\(name): not a safetensors file") }
        let metadata = st.header["__metadata__"] ?? .object([])
        guard let text = metadata[CompressedModelFile.layoutKey]?.stringValue, let layout = FuzzJSON.parse(text) else {
            throw EngineError("\(name): no compressed layout in the seed")
        }
        var edits = [FuzzEdit]()
        func withLayout(_ l: FuzzJSON) -> [UInt8] {
            st.file(st.header.setting("__metadata__", metadata.setting(CompressedModelFile.layoutKey, .string(l.text))))
        }
        let numbers: [FuzzJSON] = ["-1", "0", "1", "2", "17", "4294967295", "4294967296", "9223372036854775807", "1e300", "2.5"].map { .number($0) }
            + [.string("1"), .null, .bool(true), .array([])]
        for (tensor, entry) in layout.objectValue ?? [] {
            for key in ["count", "bits", "shape", "mask", "positions", "values"] {
                for v in numbers + [.string("relative"), .string("csr"), .string("all"), .string("float32"), .string("shared"), .string("dense")] {
                    edits.append(FuzzEdit("layout of '\(tensor)': \(key) -> \(v.text)") { _ in withLayout(layout.setting(tensor, entry.setting(key, v))) })
                }
                edits.append(FuzzEdit("layout of '\(tensor)': \(key) removed") { _ in withLayout(layout.setting(tensor, entry.removing(key))) })
            }
            if let c = entry["count"]?.integerValue {
                for d in [-1, 1] {
                    edits.append(FuzzEdit("layout of '\(tensor)': count \(c) -> \(c + d)") { _ in withLayout(layout.setting(tensor, entry.setting("count", .number(String(c + d))))) })
                }
            }
            edits.append(FuzzEdit("layout of '\(tensor)' not an object") { _ in withLayout(layout.setting(tensor, .array([]))) })
            edits.append(FuzzEdit("layout entry '\(tensor)' renamed") { _ in withLayout(layout.setting(tensor + "x", entry)) })
        }
        edits.append(FuzzEdit("layout not JSON") { _ in withLayout(.number("{")) })
        edits.append(FuzzEdit("layout removed") { _ in st.file(st.header.setting("__metadata__", metadata.removing(CompressedModelFile.layoutKey))) })
        // Stream fields: byte 0 coding, bytes 1-4 count, byte 5 width (fixed) or bytes 5-8 table size (Huffman).
        let start = 8 + st.headerLength
        for t in st.tensors where t.end - t.begin >= 6 && !(t.name.hasSuffix(".values") || t.name.hasSuffix(".codebook")) {
            let at = start + t.begin
            func set(_ what: String, _ offset: Int, _ values: [UInt8]) {
                edits.append(FuzzEdit("stream '\(t.name)': \(what)") { b in
                    var b = b
                    for (k, v) in values.enumerated() where at + offset + k < start + t.end { b[at + offset + k] = v }
                    return b
                })
            }
            for c: UInt8 in [0, 1, 2, 0xff] { set("coding \(c)", 0, [c]) }
            for (what, v) in [("count 0", [0, 0, 0, 0]), ("count 2^32-1", [0xff, 0xff, 0xff, 0xff]), ("count 2^31", [0, 0, 0, 0x80]),
                              ("count +1", []), ("table/width 0", [0]), ("table/width 33", [33]), ("table/width 255", [0xff])] as [(String, [UInt8])] {
                if what == "count +1" {
                    edits.append(FuzzEdit("stream '\(t.name)': count + 1") { b in
                        var b = b
                        b[at + 1] &+= 1
                        return b
                    })
                } else {
                    set(what, what.hasPrefix("count") ? 1 : 5, v)
                }
            }
            set("table size 2^32-1", 5, [0xff, 0xff, 0xff, 0xff])
            set("last byte 0xff", t.end - t.begin - 1, [0xff])
            set("last byte 0", t.end - t.begin - 1, [0])
        }
        seed.edits[.compressedLayout] = edits
        return seed
    }

    // MARK: - IDX

    static func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    /// An idx3 file of `count` images of rows x cols, seeded pixels.
    public static func idxImages(count: Int = 3, rows: Int = 8, cols: Int = 8) -> [UInt8] {
        var rng = RandomGenerator(seed: 3)
        return be32(Int(IDXFile.imagesMagic)) + be32(count) + be32(rows) + be32(cols)
            + (0..<(count * rows * cols)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// An idx1 file of `count` labels 0..9.
    public static func idxLabels(count: Int = 5) -> [UInt8] {
        be32(Int(IDXFile.labelsMagic)) + be32(count) + (0..<count).map { UInt8($0 % 10) }
    }

    static func idxFields(_ bytes: [UInt8]) -> [FuzzLengthField] {
        let magic = FuzzLengthField(name: "magic", offset: 0, width: 4, bigEndian: true)
        let isImages = bytes.count >= 4 && magic.read(bytes) == UInt64(IDXFile.imagesMagic)
        return [magic, FuzzLengthField(name: isImages ? "image count" : "label count", offset: 4, width: 4, bigEndian: true)]
            + (isImages ? [FuzzLengthField(name: "rows", offset: 8, width: 4, bigEndian: true),
                           FuzzLengthField(name: "cols", offset: 12, width: 4, bigEndian: true)] : [])
    }

    static func idxEdits(_ bytes: [UInt8]) -> [FuzzEdit] {
        let fields = idxFields(bytes)
        var edits = [FuzzEdit]()
        for f in fields {
            let extra: [(UInt64, String)] = f.name == "magic"
                ? [(UInt64(IDXFile.imagesMagic), "the idx3 magic"), (UInt64(IDXFile.labelsMagic), "the idx1 magic"),
                   (0x0000_0b03, "idx3 of shorts"), (0x0000_0d03, "idx3 of floats"), (0x0000_0804, "idx4"), (0x0000_0800, "idx0")]
                : []
            edits += f.edits(of: bytes, extra: extra)
        }
        return edits
    }

    static func idxBoundaries(_ bytes: [UInt8]) -> [Int] {
        let fields = idxFields(bytes)
        let headerSize = 4 * (fields.count)
        var b = Array(0...headerSize)
        if fields.count == 4 {
            let size = Int(fields[2].read(bytes) * fields[3].read(bytes))
            var at = headerSize
            while at < bytes.count { b += [at, at + 1]; at += Swift.max(size, 1) }
        } else {
            b += Array(headerSize..<bytes.count)
        }
        b.append(bytes.count - 1)
        return Array(Set(b.filter { $0 < bytes.count })).sorted()
    }

    public static func idx(name: String, bytes: [UInt8]) -> FuzzSeed {
        FuzzSeed(name: name, bytes: bytes, boundaries: idxBoundaries(bytes), edits: [.lengthField: idxEdits(bytes)])
    }

    /// The stated size of an IDX file from its header: 16 + count·rows·cols or 8 + count
    /// (nil when the bytes do not start with an IDX header).
    public static func idxStatedSize(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 8 else { return nil }
        let fields = idxFields(bytes)
        let magic = fields[0].read(bytes), count = fields[1].read(bytes)
        if magic == UInt64(IDXFile.labelsMagic) { return 8 + Int(count) }
        guard magic == UInt64(IDXFile.imagesMagic), bytes.count >= 16 else { return nil }
        let (size, o) = (fields[2].read(bytes) * fields[3].read(bytes)).multipliedReportingOverflow(by: count)
        return o || size > UInt64(Int.max / 2) ? Int.max / 2 : 16 + Int(size)
    }

    // MARK: - gzip

    /// A gzipped seed: gzip corruption (deflate bytes, CRC, ISIZE, header flags, members),
    /// bombs, and the inner file's length fields (edited, then gzipped again).
    public static func gzipped(name: String, inner: [UInt8], innerEdits: [FuzzEdit]) throws -> FuzzSeed {
        let gz = try Gzip.compress(inner, level: 9)
        let n = gz.count
        let isize = FuzzLengthField(name: "gzip ISIZE", offset: n - 4, width: 4, bigEndian: false)
        let crcField = FuzzLengthField(name: "gzip CRC32", offset: n - 8, width: 4, bigEndian: false)
        var lengths = isize.edits(of: gz)
        lengths += crcField.edits(of: gz).prefix(3)
        lengths += innerEdits.map { e in
            FuzzEdit("inside the gzip: " + e.detail) { _ in (try? Gzip.compress(e.apply(inner), level: 9)) ?? [] }
        }
        var corruption = [FuzzEdit]()
        let deflateRange = 10..<(n - 8)
        for j in 0..<12 {
            let at = deflateRange.lowerBound + j * deflateRange.count / 12
            for (op, what) in [(UInt8(0x01), "bit 0 flipped"), (UInt8(0x80), "bit 7 flipped"), (UInt8(0xff), "inverted")] {
                corruption.append(FuzzEdit("deflate byte \(at) (of \(n)) \(what)") { b in var o = b; if at < o.count { o[at] ^= op }; return o })
            }
        }
        for j in 0..<4 {
            corruption.append(FuzzEdit("CRC32 byte \(j) flipped") { b in var o = b; if n - 8 + j < o.count { o[n - 8 + j] ^= 0x01 }; return o })
        }
        func setByte(_ at: Int, _ v: UInt8, _ what: String) -> FuzzEdit {
            FuzzEdit(what) { b in var o = b; if at < o.count { o[at] = v }; return o }
        }
        corruption += [
            setByte(1, 0x8c, "second magic byte 0x8b -> 0x8c"),
            setByte(2, 0x07, "compression method 8 -> 7"),
            setByte(3, 0x04, "FEXTRA flag set without an extra field"),
            setByte(3, 0x08, "FNAME flag set without a name"),
            setByte(3, 0x02, "FHCRC flag set without a header CRC"),
            setByte(3, 0xe0, "reserved flag bits set"),
            FuzzEdit("FEXTRA set with XLEN 65535 and no extra data") { b in
                var o = b; o[3] = 0x04; o.insert(contentsOf: [0xff, 0xff], at: 10); return o },
            FuzzEdit("16 garbage bytes appended after the member") { b in b + [UInt8](repeating: 0x5a, count: 16) },
            FuzzEdit("the member appended twice (concatenated gzip)") { b in b + b },
            FuzzEdit("a bare gzip header appended") { b in b + FuzzGzip.header },
            FuzzEdit("4096 zero bytes appended (padding gzip tolerates)") { b in b + [UInt8](repeating: 0, count: 4096) },
            FuzzEdit("trailer removed") { b in Array(b.prefix(Swift.max(0, b.count - 8))) },
            FuzzEdit("a stored block claiming 65535 bytes, with 4 present") { _ in FuzzGzip.header + [0x01, 0xff, 0xff, 0x00, 0x00, 1, 2, 3, 4] },
            FuzzEdit("deflate stream replaced by random bytes") { b in
                var rng = RandomGenerator(seed: UInt64(b.count)); var o = b
                for i in deflateRange where i < o.count { o[i] = UInt8(truncatingIfNeeded: rng.next()) }
                return o },
        ]
        // Bombs: the inner header claims what the seed holds (or nothing), then zeros follow.
        let headerSize = idxFields(inner).count * 4
        let claimed = Array(inner.prefix(headerSize))
        var zeroCount = claimed; if zeroCount.count >= 8 { zeroCount.replaceSubrange(4..<8, with: [0, 0, 0, 0]) }
        var bombs = [FuzzEdit]()
        for size in [64 << 20, 256 << 20, 1 << 30, 3 << 30] {
            let mb = size >> 20
            bombs.append(FuzzEdit("\(mb) MiB of zeros after the inner header (which claims \(inner.count - headerSize) bytes)") { _ in
                FuzzGzip.bomb(prefix: claimed, zeros: size) })
            bombs.append(FuzzEdit("\(mb) MiB of zeros after an inner header claiming 0 items") { _ in FuzzGzip.bomb(prefix: zeroCount, zeros: size) })
            bombs.append(FuzzEdit("\(mb) MiB of zeros, ISIZE lying (claims the seed's size)") { _ in
                FuzzGzip.bomb(prefix: claimed, zeros: size, isize: UInt64(inner.count)) })
        }
        let boundaries = Array(0...12) + [n / 2, n - 9, n - 8, n - 7, n - 5, n - 4, n - 3, n - 1]
        return FuzzSeed(name: name, bytes: gz, boundaries: Array(Set(boundaries)).sorted(),
                        edits: [.lengthField: lengths, .gzipCorruption: corruption, .gzipBomb: bombs])
    }

    // MARK: - CIFAR-10

    /// A CIFAR-10 batch of `records` records, labels 0, 1, 2, ...
    public static func cifarBatch(records: Int = 3) -> [UInt8] {
        var rng = RandomGenerator(seed: 10)
        var out = [UInt8]()
        for r in 0..<records {
            out.append(UInt8(r % 10))
            out += (0..<CIFAR10File.imageSize).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        return out
    }

    public static func cifar(name: String, bytes: [UInt8]) -> FuzzSeed {
        let size = CIFAR10File.recordSize
        var boundaries = [0, 1, bytes.count - 1]
        var labelEdits = [FuzzEdit]()
        for r in 0..<(bytes.count / size) {
            boundaries += [r * size, r * size + 1, r * size + size - 1]
            for v: UInt8 in [9, 10, 100, 0xff] {
                labelEdits.append(FuzzEdit("label byte of record \(r + 1) set to \(v)") { b in
                    var o = b; if r * size < o.count { o[r * size] = v }; return o })
            }
        }
        labelEdits.append(FuzzEdit("one CIFAR-100 style record (2 label bytes)") { b in [0, 0] + b.dropFirst().prefix(size - 1) + b.dropFirst(size) })
        return FuzzSeed(name: name, bytes: bytes, boundaries: Array(Set(boundaries)).sorted(), edits: [.lengthField: labelEdits],
                        hotRange: 0..<1)
    }

    // MARK: - text configuration (.conf)

    /// A .conf file (two CSV lines: layer indices, then fractions) with field- and line-level edits.
    public static func conf(name: String, text: String) -> FuzzSeed {
        let bytes = Array(text.utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let tokens = ["-1", "0", "2.5", "1e308", "1e999", "-1e999", "nan", "inf", "0x10", "0x1p4", "9223372036854775807",
                      "9223372036854775808", "-9223372036854775809", "", " ", "\"1\"", "1 2", "1e-400", "-0", "\u{0663}", "\0", "1;2", "4294967297"]
        var edits = [FuzzEdit]()
        for (li, line) in lines.enumerated() where !line.isEmpty {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            for fi in fields.indices {
                for t in tokens {
                    edits.append(FuzzEdit("line \(li + 1) field \(fi + 1) '\(fields[fi])' -> '\(t)'") { _ in
                        var ls = lines, fs = fields
                        fs[fi] = t
                        ls[li] = fs.joined(separator: ",")
                        return Array(ls.joined(separator: "\n").utf8)
                    })
                }
            }
            edits.append(FuzzEdit("line \(li + 1) removed") { _ in var ls = lines; ls.remove(at: li); return Array(ls.joined(separator: "\n").utf8) })
            edits.append(FuzzEdit("line \(li + 1) doubled") { _ in var ls = lines; ls.insert(line, at: li); return Array(ls.joined(separator: "\n").utf8) })
            edits.append(FuzzEdit("line \(li + 1) with a field added") { _ in var ls = lines; ls[li] += ",1"; return Array(ls.joined(separator: "\n").utf8) })
            edits.append(FuzzEdit("line \(li + 1) with 100000 fields") { _ in
                var ls = lines; ls[li] = Array(repeating: li == 0 ? "1" : "0.5", count: 100_000).joined(separator: ","); return Array(ls.joined(separator: "\n").utf8) })
            edits.append(FuzzEdit("line \(li + 1) of 4 MiB of digits") { _ in
                var ls = lines; ls[li] = String(repeating: "1", count: 4 << 20); return Array(ls.joined(separator: "\n").utf8) })
            edits.append(FuzzEdit("line \(li + 1) with a trailing comma") { _ in var ls = lines; ls[li] += ","; return Array(ls.joined(separator: "\n").utf8) })
        }
        edits += [
            FuzzEdit("lines swapped") { _ in var ls = lines; if ls.count > 1 { ls.swapAt(0, 1) }; return Array(ls.joined(separator: "\n").utf8) },
            FuzzEdit("CRLF line ends") { _ in Array(lines.joined(separator: "\r\n").utf8) },
            FuzzEdit("CR line ends") { _ in Array(lines.joined(separator: "\r").utf8) },
            FuzzEdit("no final newline") { _ in Array(text.trimmingCharacters(in: .newlines).utf8) },
            FuzzEdit("empty file") { _ in [] },
            FuzzEdit("only blank lines") { _ in Array("\n \n\t\n".utf8) },
            FuzzEdit("UTF-8 byte-order mark first") { _ in [0xef, 0xbb, 0xbf] + bytes },
            FuzzEdit("a comment line first") { _ in Array(("# layers, fractions\n" + text).utf8) },
            FuzzEdit("a third line") { _ in Array((text + "3,4\n").utf8) },
            FuzzEdit("NUL bytes in the middle") { _ in var b = bytes; b.insert(contentsOf: [0, 0], at: b.count / 2); return b },
            FuzzEdit("invalid UTF-8") { _ in var b = bytes; b.insert(contentsOf: [0xc3, 0x28, 0xff], at: b.count / 3); return b },
            FuzzEdit("a million newlines, then the file") { _ in [UInt8](repeating: 0x0a, count: 1 << 20) + bytes },
        ]
        var boundaries = [0, bytes.count - 1]
        for (i, c) in bytes.enumerated() where c == UInt8(ascii: ",") || c == 0x0a { boundaries += [i, i + 1] }
        return FuzzSeed(name: name, bytes: bytes, boundaries: Array(Set(boundaries.filter { $0 < bytes.count })).sorted(), edits: [.text: edits])
    }
}
