/// A safetensors seed taken apart for structure-aware mutation: the JSON header (with the
/// architecture inside its `__metadata__`) and the data section, put back together with the
/// header length recomputed and the header padded to 8 bytes, as `ModelFile.save` does.
struct FuzzSafetensors {
    struct TensorEntry {
        let name: String
        let begin: Int
        let end: Int
        let shape: [Int]
    }

    let headerLength: Int
    let header: FuzzJSON
    let data: [UInt8]
    /// In data order.
    let tensors: [TensorEntry]

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 8 else { return nil }
        let n = Int(FuzzLengthField(name: "", offset: 0, width: 8, bigEndian: false).read(bytes))
        guard n <= bytes.count - 8, let h = FuzzJSON.parse(String(decoding: bytes[8..<(8 + n)], as: UTF8.self)),
              let fields = h.objectValue else { return nil }
        headerLength = n
        header = h
        data = Array(bytes[(8 + n)...])
        var ts = [TensorEntry]()
        for (key, value) in fields where key != "__metadata__" {
            guard let o = value["data_offsets"]?.arrayValue, o.count == 2, let b = o[0].integerValue, let e = o[1].integerValue,
                  let shape = value["shape"]?.arrayValue?.compactMap(\.integerValue) else { return nil }
            ts.append(TensorEntry(name: key, begin: b, end: e, shape: shape))
        }
        tensors = ts.sorted { $0.begin < $1.begin }
    }

    /// The file for `header` and `data`.
    static func encode(_ header: FuzzJSON, _ data: [UInt8]) -> [UInt8] {
        var h = Array(header.text.utf8)
        while (8 + h.count) % 8 != 0 { h.append(0x20) }
        var out = [UInt8]()
        var n = UInt64(h.count)
        for _ in 0..<8 { out.append(UInt8(n & 0xff)); n >>= 8 }
        return out + h + data
    }

    func file(_ header: FuzzJSON) -> [UInt8] { Self.encode(header, data) }

    func withEntry(_ name: String, _ header: FuzzJSON? = nil, _ f: (FuzzJSON) -> FuzzJSON) -> FuzzJSON {
        guard case .object(var fields) = header ?? self.header else { return self.header }
        for i in fields.indices where fields[i].key == name { fields[i].value = f(fields[i].value) }
        return .object(fields)
    }

    func numbers(_ xs: [Int]) -> FuzzJSON { .array(xs.map { .number(String($0)) }) }

    /// A few tensors to aim the per-tensor edits at: the first, a mask, a buffer, the last.
    var targets: [TensorEntry] {
        var out = [TensorEntry]()
        for t in [tensors.first, tensors.first { $0.name.hasSuffix("_mask") }, tensors.first { $0.name.hasSuffix("running_var") }, tensors.last] {
            if let t, !out.contains(where: { $0.name == t.name }) { out.append(t) }
        }
        return out
    }

    static let shapeValues: [FuzzJSON] = ["-1", "0", "1e18", "1000000000000000000", "1e300", "2.5", "9223372036854775807",
                                          "18446744073709551616", "-9223372036854775808"].map { .number($0) }
        + [.string("4"), .array([.number("2")]), .null, .bool(true)]

    // MARK: - Header edits

    func headerEdits() -> [FuzzEdit] {
        var edits = [FuzzEdit]()
        func add(_ what: String, _ h: @escaping () -> FuzzJSON) { edits.append(FuzzEdit(what) { _ in file(h()) }) }
        let size = data.count
        for t in targets {
            let who = "tensor '\(t.name)'"
            for d: FuzzJSON in [.string("F16"), .string("F64"), .string("BF16"), .string("I32"), .string("U8"), .string("f32"), .string(""), .number("32"), .null] {
                add("\(who) dtype -> \(d.text)") { withEntry(t.name) { $0.setting("dtype", d) } }
            }
            for i in t.shape.indices {
                for v in Self.shapeValues {
                    add("\(who) shape[\(i)] (\(t.shape[i])) -> \(v.text)") {
                        withEntry(t.name) { e in
                            var s = e["shape"]?.arrayValue ?? []
                            s[i] = v
                            return e.setting("shape", .array(s))
                        }
                    }
                }
            }
            let count = t.shape.reduce(1, *)
            let shapes: [(String, FuzzJSON)] = [
                ("[]", .array([])), ("[0]", numbers([0])), ("1000 dimensions", numbers(Array(repeating: 1, count: 999) + [count])),
                ("a string", .string("\(t.shape)")), ("nested", .array([numbers(t.shape)])), ("with a 1 appended", numbers(t.shape + [1])),
                ("with a 0 appended", numbers(t.shape + [0])), ("last dimension dropped", numbers(Array(t.shape.dropLast()))),
            ]
            for (what, s) in shapes { add("\(who) shape -> \(what)") { withEntry(t.name) { $0.setting("shape", s) } } }
            let (b, e) = (t.begin, t.end)
            let offsets: [(String, FuzzJSON)] = [
                ("swapped", numbers([e, b])), ("end + 4", numbers([b, e + 4])), ("begin - 4 (overlapping)", numbers([Swift.max(b - 4, 0), e - 4])),
                ("beyond the end", numbers([b, size + 4])), ("at the end of the data", numbers([size, size + e - b])),
                ("negative begin", numbers([-4, e])), ("[0, 0]", numbers([0, 0])), ("one number", numbers([b])),
                ("three numbers", numbers([b, e, e])), ("fractions", .array([.number("\(b).5"), .number("\(e).5")])),
                ("strings", .array([.string("\(b)"), .string("\(e)")])), ("[b, 1e18]", .array([.number("\(b)"), .number("1e18")])),
                ("near Int.max", .array([.number("9223372036854775800"), .number("9223372036854775807")])),
                ("beyond Int64", .array([.number("\(b)"), .number("18446744073709551620")])),
                ("onto the next tensor", numbers([e, e + (e - b)])), ("an object", .object([("begin", .number("\(b)"))])),
            ]
            for (what, o) in offsets { add("\(who) data_offsets -> \(what)") { withEntry(t.name) { $0.setting("data_offsets", o) } } }
            for key in ["dtype", "shape", "data_offsets"] { add("\(who) without \(key)") { withEntry(t.name) { $0.removing(key) } } }
            add("\(who) entry removed") { header.removing(t.name) }
            add("\(who) entry is a number") { withEntry(t.name) { _ in .number("1") } }
            add("\(who) entry is null") { withEntry(t.name) { _ in .null } }
            add("\(who) entry given twice, the second with other offsets") {
                guard case .object(var f) = header, let entry = header[t.name] else { return header }
                f.append((t.name, entry.setting("data_offsets", numbers([0, e - b]))))
                return .object(f)
            }
            add("\(who) with 'shape' twice") {
                withEntry(t.name) { entry in
                    guard case .object(var f) = entry else { return entry }
                    f.append(("shape", numbers([t.shape.reduce(1, *) + 1])))
                    return .object(f)
                }
            }
            add("\(who) with an unknown field") { withEntry(t.name) { $0.setting("extra", .number("1")) } }
        }
        let first = tensors.first
        let metadata = header["__metadata__"] ?? .object([])
        edits += [
            FuzzEdit("__metadata__ removed") { _ in file(header.removing("__metadata__")) },
            FuzzEdit("__metadata__ is an array") { _ in file(header.setting("__metadata__", .array([]))) },
            FuzzEdit("a __metadata__ value is a number") { _ in file(header.setting("__metadata__", metadata.setting("format", .number("1")))) },
            FuzzEdit("__metadata__ given twice") { _ in
                guard case .object(var f) = header else { return file(header) }
                f.append(("__metadata__", .object([("format", .string("pt"))])))
                return file(.object(f))
            },
            FuzzEdit("the architecture removed from __metadata__") { _ in
                file(header.setting("__metadata__", metadata.removing(ModelFile.architectureKey))) },
            FuzzEdit("an unknown tensor overlapping the first") { _ in
                file(header.setting("99.weight", .object([("dtype", .string("F32")), ("shape", numbers([1])),
                                                          ("data_offsets", numbers([first?.begin ?? 0, (first?.begin ?? 0) + 4]))]))) },
            FuzzEdit("an unknown tensor with its own data") { _ in
                Self.encode(header.setting("99.weight", .object([("dtype", .string("F32")), ("shape", numbers([1])),
                                                                ("data_offsets", numbers([data.count, data.count + 4]))])), data + [0, 0, 0x80, 0x3f]) },
            FuzzEdit("header is an empty object") { _ in file(.object([])) },
            FuzzEdit("header is an array") { _ in file(.array([header])) },
            FuzzEdit("header is null") { _ in file(.null) },
            FuzzEdit("header followed by a second object") { _ in
                var h = Array((header.text + "{}").utf8); while (8 + h.count) % 8 != 0 { h.append(0x20) }
                var out = [UInt8](); var n = UInt64(h.count); for _ in 0..<8 { out.append(UInt8(n & 0xff)); n >>= 8 }
                return out + h + data },
            FuzzEdit("header padded with NUL bytes instead of spaces") { _ in
                var h = Array(header.text.utf8); h += [UInt8](repeating: 0, count: 8 + (8 - (8 + h.count) % 8) % 8)
                var out = [UInt8](); var n = UInt64(h.count); for _ in 0..<8 { out.append(UInt8(n & 0xff)); n >>= 8 }
                return out + h + data },
            FuzzEdit("a metadata value nested 100000 arrays deep (as a string)") { _ in
                file(header.setting("__metadata__", metadata.setting("deep", .string(String(repeating: "[", count: 100_000))))) },
            FuzzEdit("header nested 100000 arrays deep") { _ in
                Self.encode(.number(String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)), data) },
        ]
        return edits
    }

    // MARK: - Architecture edits

    /// Paths (indices into nested `modules`) of every module of the architecture.
    static func modulePaths(_ spec: FuzzJSON, _ path: [Int] = []) -> [[Int]] {
        var out = [path]
        for (i, m) in (spec["modules"]?.arrayValue ?? []).enumerated() { out += modulePaths(m, path + [i]) }
        return out
    }

    static func module(_ spec: FuzzJSON, at path: [Int]) -> FuzzJSON? {
        guard let first = path.first else { return spec }
        guard let ms = spec["modules"]?.arrayValue, first < ms.count else { return nil }
        return module(ms[first], at: Array(path.dropFirst()))
    }

    static func updating(_ spec: FuzzJSON, at path: [Int], _ f: (FuzzJSON) -> FuzzJSON) -> FuzzJSON {
        guard let first = path.first else { return f(spec) }
        guard var ms = spec["modules"]?.arrayValue, first < ms.count else { return spec }
        ms[first] = updating(ms[first], at: Array(path.dropFirst()), f)
        return spec.setting("modules", .array(ms))
    }

    static let architectureNumbers = ["-1", "0", "2.5", "65536", "4e9", "1e18", "1e300", "-1e300"]

    /// (numeric edits, other edits) of the architecture.
    func architectureEdits() -> (values: [FuzzEdit], structure: [FuzzEdit]) {
        let metadata = header["__metadata__"] ?? .object([])
        guard let text = metadata[ModelFile.architectureKey]?.stringValue, let arch = FuzzJSON.parse(text) else { return ([], []) }
        func withArchitecture(_ s: String) -> [UInt8] {
            file(header.setting("__metadata__", metadata.setting(ModelFile.architectureKey, .string(s))))
        }
        var edits = [FuzzEdit](), values = [FuzzEdit]()
        func add(_ what: String, _ f: @escaping () -> FuzzJSON) { edits.append(FuzzEdit(what) { _ in withArchitecture(f().text) }) }
        func value(_ what: String, _ f: @escaping () -> FuzzJSON) { values.append(FuzzEdit(what) { _ in withArchitecture(f().text) }) }
        func name(_ p: [Int]) -> String {
            let type = Self.module(arch, at: p)?["type"]?.stringValue ?? "?"
            return p.isEmpty ? "top \(type)" : "module \(p.map { String($0 + 1) }.joined(separator: ".")) (\(type))"
        }
        let paths = Self.modulePaths(arch)
        for p in paths {
            guard let m = Self.module(arch, at: p) else { continue }
            let args = m["args"]?.arrayValue ?? []
            for i in args.indices {
                for v in Self.architectureNumbers {
                    value("\(name(p)) args[\(i)] (\(args[i].text)) -> \(v)") {
                        Self.updating(arch, at: p) { m in var a = args; a[i] = .number(v); return m.setting("args", .array(a)) }
                    }
                }
            }
            for (key, old) in m["options"]?.objectValue ?? [] {
                for v in Self.architectureNumbers {
                    value("\(name(p)) option \(key) (\(old.text)) -> \(v)") {
                        Self.updating(arch, at: p) { m in m.setting("options", (m["options"] ?? .object([])).setting(key, .number(v))) }
                    }
                }
            }
            for (key, v) in [("bias", "0"), ("bias", "2"), ("ceil", "1"), ("affine", "0"), ("inplace", "1"), ("v1", "1"),
                             ("numInputDims", "0"), ("numInputDims", "-1"), ("batchMode", "1"), ("unknown", "1")] {
                add("\(name(p)) option \(key) set to \(v)") {
                    Self.updating(arch, at: p) { m in m.setting("options", (m["options"] ?? .object([])).setting(key, .number(v))) }
                }
            }
            add("\(name(p)) options not an object") { Self.updating(arch, at: p) { $0.setting("options", .array([])) } }
            for t in ["nn.Nope", "", "nn.sequential", "nn.Sequential", "nn.Linear", "nn.SpatialConvolution", "nn.View", "nn.BatchNormalization"] {
                add("\(name(p)) type renamed to '\(t)'") { Self.updating(arch, at: p) { $0.setting("type", .string(t)) } }
            }
            add("\(name(p)) type is a number") { Self.updating(arch, at: p) { $0.setting("type", .number("1")) } }
            add("\(name(p)) args empty") { Self.updating(arch, at: p) { $0.setting("args", .array([])) } }
            add("\(name(p)) args removed") { Self.updating(arch, at: p) { $0.removing("args") } }
            add("\(name(p)) an arg appended") { Self.updating(arch, at: p) { $0.setting("args", .array(args + [.number("3")])) } }
            add("\(name(p)) args not an array") { Self.updating(arch, at: p) { $0.setting("args", .number("3")) } }
            if !args.isEmpty {
                add("\(name(p)) args[0] is a string") { Self.updating(arch, at: p) { var a = args; a[0] = .string("8"); return $0.setting("args", .array(a)) } }
                add("\(name(p)) args[0] is null") { Self.updating(arch, at: p) { var a = args; a[0] = .null; return $0.setting("args", .array(a)) } }
            }
            if !p.isEmpty {
                add("\(name(p)) given child modules") { Self.updating(arch, at: p) { $0.setting("modules", .array([.object([("type", .string("nn.Tanh")), ("args", .array([]))])])) } }
                let parent = Array(p.dropLast()), j = p.last!
                add("\(name(p)) removed") {
                    Self.updating(arch, at: parent) { m in var ms = m["modules"]?.arrayValue ?? []; ms.remove(at: j); return m.setting("modules", .array(ms)) }
                }
                add("\(name(p)) duplicated") {
                    Self.updating(arch, at: parent) { m in var ms = m["modules"]?.arrayValue ?? []; ms.insert(ms[j], at: j); return m.setting("modules", .array(ms)) }
                }
                add("\(name(p)) swapped with the next") {
                    Self.updating(arch, at: parent) { m in
                        var ms = m["modules"]?.arrayValue ?? []; if j + 1 < ms.count { ms.swapAt(j, j + 1) }; return m.setting("modules", .array(ms))
                    }
                }
                add("\(name(p)) wrapped in an nn.Sequential") {
                    Self.updating(arch, at: p) { .object([("args", .array([])), ("modules", .array([$0])), ("type", .string("nn.Sequential"))]) }
                }
            }
        }
        add("modules empty") { arch.setting("modules", .array([])) }
        add("modules not an array") { arch.setting("modules", .object([])) }
        for depth in [2, 100, 10_000, 100_000] {
            edits.append(FuzzEdit("wrapped in \(depth) nested nn.Sequential") { _ in
                let open = "{\"args\":[],\"type\":\"nn.Sequential\",\"modules\":["
                return withArchitecture(String(repeating: open, count: depth) + arch.text + String(repeating: "]}", count: depth))
            })
        }
        for (what, s) in [("empty", ""), ("'{'", "{"), ("null", "null"), ("[]", "[]"), ("{\"type\":1}", "{\"type\":1}"),
                          ("cut in half", String(text.prefix(text.count / 2))), ("an empty object", "{}")] {
            edits.append(FuzzEdit("replaced by \(what)") { _ in withArchitecture(s) })
        }
        return (values, edits)
    }

    // MARK: - Header/data mismatches

    static func setFloat(_ data: inout [UInt8], _ at: Int, _ v: Float) {
        guard at + 4 <= data.count else { return }
        var bits = v.bitPattern
        for j in 0..<4 { data[at + j] = UInt8(bits & 0xff); bits >>= 8 }
    }

    func mismatchEdits() -> [FuzzEdit] {
        var edits = [FuzzEdit]()
        for t in tensors {
            let who = "tensor '\(t.name)'"
            if t.shape.count >= 2 {
                edits.append(FuzzEdit("\(who) shape \(t.shape) reversed (same size)") { _ in
                    file(withEntry(t.name) { $0.setting("shape", numbers(t.shape.reversed())) }) })
                edits.append(FuzzEdit("\(who) shape \(t.shape) flattened (same size)") { _ in
                    file(withEntry(t.name) { $0.setting("shape", numbers([t.shape.reduce(1, *)])) }) })
            }
            if let d0 = t.shape.first {
                // A consistent file whose tensor is one row larger than the model's.
                edits.append(FuzzEdit("\(who) one row larger, offsets and data consistent") { _ in
                    let extra = 4 * t.shape.dropFirst().reduce(1, *)
                    var h = header
                    for u in tensors {
                        let shift = u.begin > t.begin ? extra : 0
                        h = withEntry(u.name, h) { e in
                            var e = e.setting("data_offsets", numbers([u.begin + shift, u.end + shift + (u.name == t.name ? extra : 0)]))
                            if u.name == t.name { e = e.setting("shape", numbers([d0 + 1] + t.shape.dropFirst())) }
                            return e
                        }
                    }
                    var d = data
                    d.insert(contentsOf: [UInt8](repeating: 0, count: extra), at: t.end)
                    return Self.encode(h, d)
                })
            }
            edits.append(FuzzEdit("\(who) dtype F16 with half the bytes") { _ in
                file(withEntry(t.name) { $0.setting("dtype", .string("F16")).setting("data_offsets", numbers([t.begin, t.begin + (t.end - t.begin) / 2])) }) })
            let values: [(String, Float)] = t.name.hasSuffix("_mask")
                ? [("0.5", 0.5), ("2", 2), ("NaN", .nan), ("-1", -1), ("-0", -0.0)]
                : t.name.hasSuffix("running_var") ? [("-1", -1), ("0", 0), ("NaN", .nan), ("inf", .infinity)]
                : [("NaN", .nan), ("+inf", .infinity), ("3e38", 3e38)]
            for (what, v) in values where t.end > t.begin {
                edits.append(FuzzEdit("\(who) element 1 set to \(what)") { _ in
                    var d = data
                    Self.setFloat(&d, t.begin, v)
                    return Self.encode(header, d)
                })
            }
        }
        for (a, b) in zip(tensors, tensors.dropFirst()) {
            edits.append(FuzzEdit("names of '\(a.name)' and '\(b.name)' swapped") { _ in
                guard case .object(var f) = header else { return file(header) }
                for i in f.indices { if f[i].key == a.name { f[i].key = b.name } else if f[i].key == b.name { f[i].key = a.name } }
                return file(.object(f))
            })
        }
        if let m = tensors.first(where: { $0.name.hasSuffix("_mask") }) {
            edits.append(FuzzEdit("mask '\(m.name)' removed (a valid unpruned model)") { _ in file(header.removing(m.name)) })
            let bias = String(m.name.dropLast("weight_mask".count)) + "bias"
            if let b = tensors.first(where: { $0.name == bias }) {
                edits.append(FuzzEdit("a mask for '\(bias)' added, all ones") { _ in
                    let n = b.end - b.begin
                    var d = data
                    for j in stride(from: 0, to: n, by: 4) { d += [0, 0, 0x80, 0x3f]; _ = j }
                    return Self.encode(header.setting(bias + "_mask", .object([("dtype", .string("F32")), ("shape", numbers(b.shape)),
                                                                               ("data_offsets", numbers([data.count, data.count + n]))])), d)
                })
            }
        }
        return edits
    }
}
