import Foundation
import XCTest
@testable import Engine

/// The compressed model format and compact masks: integer streams and Huffman codes, sparse
/// positions, lossless and weight-shared round trips, the per-layer table, centroid
/// fine-tuning, and hostile files.
final class CompressedModelFileTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("compressed-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    private func path(_ name: String) -> String { folder + "/" + name }
    private func size(_ p: String) throws -> Int { (try FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? -1 }

    /// Conv(1→4, 3x3) → Tanh → View → Linear(4·6·6 → 20) → Tanh → Linear(20 → 5), the first two
    /// weights masked to `keep` of their entries (seeded), one kept weight exactly 0, one −0.
    private func model(keep: Double = 0.1, seed: UInt64 = 3) throws -> Sequential {
        var rng = RandomGenerator(seed: seed)
        let m = Sequential([SpatialConvolution(1, 4, 3, 3), Tanh(), try View(4 * 6 * 6), Linear(144, 20), Tanh(), Linear(20, 5)])
        m.reset(&rng)
        for i in [0, 3] {
            let w = m.modules[i].weight!
            let mask = Tensor(shape: w.value.shape)
            for k in 0..<mask.count { mask.data[k] = Double(rng.next() % 1000) < keep * 1000 ? 1 : 0 }
            if let first = (0..<mask.count).first(where: { mask.data[$0] == 1 }) { w.value.data[first] = 0 }  // a kept zero
            try w.setMask(mask)
        }
        m.modules[5].weight!.value.data[2] = -0.0
        return m
    }

    private func bits(_ t: Tensor) -> [UInt32] { (0..<t.count).map { t.data[$0].bitPattern } }

    // MARK: - Streams

    func testIntegerStreamsRoundTripInBothCodingsAndTheShorterIsWritten() throws {
        var rng = RandomGenerator(seed: 1)
        let cases: [[Int]] = [[], [0], [7], [0, 0, 0, 0], [5, 5, 5], Array(0..<300), (0..<2000).map { _ in Int(rng.next() % 3) },
                              (0..<500).map { _ in Int(rng.next() % 100_000) }, [Int(UInt32.max), 0, 1],
                              (0..<1000).map { i in i % 50 == 0 ? 4000 : Int(rng.next() % 4) }]
        for values in cases {
            let maxValue = values.max() ?? 0
            for bytes in [IntegerStream.encodeFixed(values), IntegerStream.encodeHuffman(values.isEmpty ? [0] : values), IntegerStream.encode(values)]
                where !(values.isEmpty && bytes[0] == 1) {
                XCTAssertEqual(try IntegerStream.decode(bytes, 0..<bytes.count, count: values.count, maxValue: maxValue, what: "s"), values)
            }
            let chosen = IntegerStream.encode(values).count
            XCTAssertEqual(chosen, values.count < 2 ? IntegerStream.encodeFixed(values).count
                                                     : min(IntegerStream.encodeFixed(values).count, IntegerStream.encodeHuffman(values).count))
        }
        // Skewed values: Huffman is shorter than the fixed width.
        let skewed = (0..<1000).map { i in i % 50 == 0 ? 4000 : Int(rng.next() % 4) }
        XCTAssertEqual(IntegerStream.encode(skewed)[0], 1)
        XCTAssertLessThan(IntegerStream.encode(skewed).count, IntegerStream.encodeFixed(skewed).count / 2)
    }

    func testHuffmanLengthsAreLimitedAndFormAPrefixCode() throws {
        var fib = [1, 1]
        while fib.count < 40 { fib.append(fib[fib.count - 1] + fib[fib.count - 2]) }
        let lengths = Huffman.lengths(counts: fib)
        XCTAssertLessThanOrEqual(lengths.max()!, Huffman.maxLength)
        let kraft = lengths.reduce(0.0) { $0 + pow(2, -Double($1)) }
        XCTAssertLessThanOrEqual(kraft, 1)
        XCTAssertNoThrow(try Huffman.Decoder(lengths: lengths, what: "t"))
        let values = fib.indices.flatMap { i in [Int](repeating: i, count: min(fib[i], 50)) }
        let bytes = IntegerStream.encodeHuffman(values)
        XCTAssertEqual(try IntegerStream.decode(bytes, 0..<bytes.count, count: values.count, maxValue: 39, what: "s"), values)
    }

    func testSparsePositionsRoundTripInBothLayouts() throws {
        var rng = RandomGenerator(seed: 2)
        for (rows, cols, density) in [(1, 1, 1.0), (5, 7, 0.0), (5, 7, 1.0), (30, 40, 0.05), (30, 40, 0.5), (3, 1000, 0.01), (200, 3, 0.3)] {
            var positions = (0..<(rows * cols)).filter { _ in Double(rng.next() % 10_000) < density * 10_000 }
            if density > 0 && density < 1 && positions.isEmpty { positions = [rows * cols - 1] }
            let encoded = SparsePositions.encode(positions, rows: rows, columns: cols)
            for layout in SparseLayout.allCases {
                let streams: [String: [UInt8]]
                if layout == encoded.layout {
                    streams = Dictionary(uniqueKeysWithValues: encoded.streams.map { ($0.name, $0.bytes) })
                } else if layout == .relative {
                    var previous = -1
                    streams = ["gaps": IntegerStream.encode(positions.map { p in defer { previous = p }; return p - previous - 1 })]
                } else {
                    var lengths = [Int](repeating: 0, count: rows)
                    for p in positions { lengths[p / cols] += 1 }
                    streams = ["rows": IntegerStream.encode(lengths), "columns": IntegerStream.encode(positions.map { $0 % cols })]
                }
                let decoded = try SparsePositions.decode(layout, count: positions.count, rows: rows, columns: cols, what: "t") { n in
                    let b = streams[n]!
                    return (b, 0..<b.count)
                }
                XCTAssertEqual(decoded, positions, "\(rows)x\(cols) at \(density), \(layout)")
            }
        }
    }

    // MARK: - Round trips

    func testLosslessRoundTripIsBitExactWithMasksAndSmaller() throws {
        let m = try model()
        let standard = path("m.safetensors"), compressed = path("m.wbz")
        try ModelFile.save(m, to: standard)
        let stored = try ModelFile.save(m, to: compressed, format: .compressed(sharing: [:]))
        XCTAssertTrue(stored.contains { $0.name == "3.weight" && $0.encoding.hasSuffix("+float32") }, "\(stored)")
        XCTAssertTrue(stored.contains { $0.name == "5.weight" && $0.encoding == "dense" }, "the dense layer stays dense")
        XCTAssertTrue(try ModelFile.isCompressed(compressed))
        XCTAssertLessThan(try size(compressed), try size(standard) / 3)
        for p in [standard, compressed] {
            let loaded = try ModelFile.load(p)
            for (a, b) in zip(m.allParameters, loaded.allParameters) {
                XCTAssertEqual(bits(a.value), bits(b.value), "\(p): \(a.name)")
                XCTAssertEqual(a.mask.map(bits), b.mask.map(bits), "\(p): mask of \(a.name)")
            }
            let x = Tensor(shape: [2, 1, 8, 8])
            var rng = RandomGenerator(seed: 4)
            x.fillUniform(-1, 1, &rng)
            m.evaluate(); loaded.evaluate()
            XCTAssertEqual(bits(try m.forward(x).clone()), bits(try loaded.forward(x)))
        }
        // The kept zero is an exception of the compact mask; loadWeights reads compressed files too.
        let runs = try XCTUnwrap(try ModelFile.metadata(standard)[CompactMasks.metadataKey])
        XCTAssertTrue(runs.contains("\"0.weight\":[["), runs)
        let target = try model(seed: 9)
        try ModelFile.loadWeights(into: target, from: compressed)
        XCTAssertEqual(bits(target.modules[3].weight!.value), bits(m.modules[3].weight!.value))
    }

    func testAPrunedStandardFileIsTheSizeOfTheDenseOne() throws {
        let m = try model(keep: 0.05)
        let dense = try model(keep: 0.05)
        for p in dense.allParameters { p.removeMask() }
        try ModelFile.save(m, to: path("pruned.safetensors"))
        try ModelFile.save(dense, to: path("dense.safetensors"))
        try ModelFile.save(m, to: path("float.safetensors"), floatMasks: true)
        XCTAssertLessThanOrEqual(Double(try size(path("pruned.safetensors"))), 1.05 * Double(try size(path("dense.safetensors"))))
        XCTAssertGreaterThan(try size(path("float.safetensors")), try size(path("pruned.safetensors")) + 4 * 144 * 20)
        let a = try ModelFile.load(path("pruned.safetensors")), b = try ModelFile.load(path("float.safetensors"))
        for (x, y) in zip(a.allParameters, b.allParameters) { XCTAssertEqual(x.mask.map(bits), y.mask.map(bits)) }
    }

    func testSharedFilesDecodeToExactlyTheirCodebook() throws {
        let m = try model(keep: 0.5)
        let p = path("shared.wbz")
        let stored = try ModelFile.save(m, to: p, format: .compressed(sharing: ModelFile.sharingPlan(m, convolution: 2, linear: 3)))
        XCTAssertEqual(Set(stored.filter { $0.name.hasSuffix("weight") }.map { $0.encoding.components(separatedBy: "+").last! }),
                       ["shared2", "shared3"])
        let raw = try SafetensorsFile(contentsOf: p, dtypes: ["F32", "U8"])
        let loaded = try ModelFile.load(p)
        for (i, bitsWanted) in [(0, 2), (3, 3), (5, 3)] {
            let w = loaded.modules[i].weight!
            let book = try XCTUnwrap(raw.tensor("\(i).weight.codebook"))
            XCTAssertLessThanOrEqual(book.count, 1 << bitsWanted)
            let values = Set((0..<book.count).map { book.data[$0].bitPattern })
            for k in storedPositions(w) { XCTAssertTrue(values.contains(w.value.data[k].bitPattern), "layer \(i + 1) entry \(k)") }
            XCTAssertEqual(w.mask.map(bits), m.modules[i].weight!.mask.map(bits))
        }
        // Saving the decoded model again with the same bits finds the same codebook: the same bytes.
        try ModelFile.save(loaded, to: path("again.wbz"), format: .compressed(sharing: ModelFile.sharingPlan(loaded, convolution: 2, linear: 3)))
        let again = try SafetensorsFile(contentsOf: path("again.wbz"), dtypes: ["F32", "U8"])
        for i in [0, 3, 5] {
            XCTAssertEqual(bits(try XCTUnwrap(again.tensor("\(i).weight.codebook"))), bits(try XCTUnwrap(raw.tensor("\(i).weight.codebook"))))
        }
    }

    func testKMeansFindsFewValuesExactlyAndClustersMany() {
        let few: [Float] = [0.5, -0.25, 0.5, 0.125, -0.25]
        let a = Codebook(values: few, bits: 2)
        XCTAssertEqual(a.centroids, [-0.25, 0.125, 0.5])
        XCTAssertEqual(a.codes.map { a.centroids[$0] }, few)
        var rng = RandomGenerator(seed: 5)
        let many = (0..<1000).map { i in Float(i % 4) + Float(rng.next() % 1000) / 10_000 }  // 4 tight clusters
        let b = Codebook(values: many, bits: 2)
        for (v, c) in zip(many, b.codes) { XCTAssertEqual(b.centroids[c], v, accuracy: 0.11) }
        XCTAssertEqual(Codebook.nearest(1.5, [1, 2]), 0, "ties to the lower centroid")
    }

    func testCentroidsMoveByTheSummedGradientOfTheirEntries() throws {
        let linear = Linear(3, 2)
        let w = linear.weightParameter
        for (i, v) in [0.1, 0.1, 0.5, 0.5, 0.1, 0.5].enumerated() { w.value.data[i] = Float(v) }
        let shared = SharedWeight(w, bits: 1)
        XCTAssertEqual(shared.centroids, [0.1, 0.5])
        for (i, g) in [1.0, 2.0, 3.0, 4.0, 5.0, 6.0].enumerated() { w.grad.data[i] = Float(g) }
        let sgd = CodebookSGD([shared], learningRate: 0.01, momentum: 0.9)
        sgd.step(Sequential([linear]))
        XCTAssertEqual(shared.centroids[0], 0.1 - 0.01 * (1 + 2 + 5), accuracy: 1e-6)
        XCTAssertEqual(shared.centroids[1], 0.5 - 0.01 * (3 + 4 + 6), accuracy: 1e-6)
        XCTAssertEqual(w.value.data[4], shared.centroids[0])
        sgd.step(Sequential([linear]))  // momentum: v = 0.9 v + g
        XCTAssertEqual(shared.centroids[0], 0.1 - 0.01 * 8 - 0.01 * (0.9 * 8 + 8), accuracy: 1e-5)
    }

    func testTheTableCountsWeightsNonzerosBytesAndFLOPs() throws {
        let m = try model(keep: 0.1)
        let p = path("t.wbz")
        try ModelFile.save(m, to: p, format: .compressed(sharing: [:]))
        let summary = try ModelSummary(m, file: p)
        XCTAssertEqual(summary.rows.map(\.layer), ["1", "4", "6"])
        let conv = summary.rows[0], fc = summary.rows[1]
        XCTAssertEqual(conv.weights, 36)
        XCTAssertEqual(fc.nonzeros, m.modules[3].weight!.value.count - m.modules[3].weight!.value.zeroCount())
        XCTAssertEqual(conv.denseFLOPs, 2 * 4 * 36 * 9 + 4 * 36)
        XCTAssertEqual(conv.sparseFLOPs, Double(2 * conv.nonzeros * 36 + 4 * 36))
        XCTAssertEqual(fc.sparseFLOPs, Double(2 * fc.nonzeros + 20))
        XCTAssertEqual(summary.totalFileBytes, try SafetensorsFile(contentsOf: p, dtypes: ["F32", "U8"]).entries.reduce(0) { $0 + $1.byteRange.count })
        XCTAssertTrue(summary.table.contains("Total"))
        XCTAssertTrue(summary.table.contains(String(format: "%.2f%%", 100 * fc.density)), summary.table)
    }

    // MARK: - Hostile files

    /// A compressed file for Linear(4 → 3) whose weight has the layout `entry` and the extra
    /// tensors `parts` (bias dense): for hand-made hostile files.
    private func handMade(_ name: String, _ entry: String, _ parts: [(String, SafetensorsPayload)]) throws -> String {
        let m = Sequential([Linear(4, 3)])
        let good = path("good-" + name)
        try ModelFile.save(m, to: good, format: .compressed(sharing: [:]))
        var meta = try ModelFile.metadata(good)
        meta[CompressedModelFile.layoutKey] = "{\"0.weight\":\(entry)}"
        let p = path(name)
        try AtomicFile.write(try SafetensorsFile.encode(payloads: parts + [("0.bias", .f32(Tensor(shape: [3])))], metadata: meta), to: p)
        return p
    }

    private func layout(_ count: Int, _ positions: String, _ values: String, bits: Int = 0, mask: String = "true", shape: String = "[3,4]") -> String {
        "{\"bits\":\(bits),\"count\":\(count),\"mask\":\(mask),\"positions\":\"\(positions)\",\"shape\":\(shape),\"values\":\"\(values)\"}"
    }

    private func floats(_ n: Int) -> SafetensorsPayload { .f32(Tensor(shape: [n])) }

    func testHostileCompressedFilesAreClearErrorsNamingTheFile() throws {
        // A valid hand-made file loads: positions 1, 5, 11 as gaps 1, 3, 5.
        let ok = try handMade("ok.wbz", layout(3, "relative", "float32"), [("0.weight.gaps", .u8(IntegerStream.encode([1, 3, 5]))), ("0.weight.values", floats(3))])
        XCTAssertEqual(try ModelFile.load(ok).modules[0].weight!.mask?.scalars, [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])
        let cases: [(String, String, [(String, SafetensorsPayload)], [String])] = [
            ("beyond.wbz", layout(3, "relative", "float32"), [("0.weight.gaps", .u8(IntegerStream.encode([1, 3, 7]))), ("0.weight.values", floats(3))],
             ["beyond the 12"]),
            ("overflow.wbz", layout(Int(Int32.max) * 4, "relative", "float32"), [("0.weight.gaps", .u8(IntegerStream.encode([1])))],
             ["stored entries for a tensor of 12"]),
            ("count.wbz", layout(3, "relative", "float32"), [("0.weight.gaps", .u8(IntegerStream.encode([1, 3]))), ("0.weight.values", floats(3))],
             ["holds 2 values, expected 3"]),
            ("codes.wbz", layout(3, "relative", "shared", bits: 2), [("0.weight.gaps", .u8(IntegerStream.encode([1, 3, 5]))),
                                                                     ("0.weight.codebook", floats(2)), ("0.weight.codes", .u8(IntegerStream.encode([0, 1, 3])))],
             ["codes", "over the largest allowed, 1"]),
            ("book.wbz", layout(3, "relative", "shared", bits: 1), [("0.weight.gaps", .u8(IntegerStream.encode([1, 3, 5]))),
                                                                    ("0.weight.codebook", floats(3)), ("0.weight.codes", .u8(IntegerStream.encode([0, 1, 1])))],
             ["codebook of 3 values for 1 bits"]),
            ("csr.wbz", layout(2, "csr", "float32"), [("0.weight.rows", .u8(IntegerStream.encode([2, 0, 0]))),
                                                      ("0.weight.columns", .u8(IntegerStream.encode([2, 1]))), ("0.weight.values", floats(2))],
             ["columns must increase"]),
            ("rows.wbz", layout(2, "csr", "float32"), [("0.weight.rows", .u8(IntegerStream.encode([2, 1, 0]))),
                                                       ("0.weight.columns", .u8(IntegerStream.encode([0, 1]))), ("0.weight.values", floats(2))],
             ["rows hold 3 entries, expected 2"]),
            ("truncated.wbz", layout(3, "relative", "float32"), [("0.weight.gaps", .u8(Array(IntegerStream.encodeFixed([1, 3, 5]).dropLast()))),
                                                                 ("0.weight.values", floats(3))], ["bytes of values"]),
            ("trailing.wbz", layout(3, "relative", "float32"), [("0.weight.gaps", .u8(IntegerStream.encodeHuffman([1, 3, 5]) + [0])),
                                                                ("0.weight.values", floats(3))], ["after the last code"]),
            ("kraft.wbz", layout(3, "relative", "float32"), [("0.weight.gaps", .u8([1, 3, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0])),
                                                             ("0.weight.values", floats(3))], ["not form a prefix code"]),
            ("width.wbz", layout(3, "relative", "float32"), [("0.weight.gaps", .u8([0, 3, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
                                                             ("0.weight.values", floats(3))], ["40 bits per value"]),
            ("missing.wbz", layout(3, "relative", "float32"), [("0.weight.values", floats(3))], ["stream '0.weight.gaps' is missing"]),
            ("shape.wbz", layout(3, "relative", "float32", shape: "[4,3]"), [], ["not the model's 3x4"]),
            ("kind.wbz", layout(3, "diagonal", "float32"), [], ["unknown positions 'diagonal'"]),
            ("mask.wbz", layout(3, "relative", "float32", mask: "1"), [("0.weight.gaps", .u8(IntegerStream.encode([1, 3, 5]))), ("0.weight.values", floats(3))],
             ["'mask' is not true or false"]),
            ("stray.wbz", layout(3, "relative", "float32"), [("0.weight.gaps", .u8(IntegerStream.encode([1, 3, 5]))), ("0.weight.values", floats(3)),
                                                             ("junk", .u8([1, 2, 3]))], ["U8 tensor 'junk' is no stream"]),
        ]
        for (name, entry, parts, expected) in cases {
            let p = try handMade(name, entry, parts)
            assertMessage(errorMessage { try ModelFile.load(p) }, contains: [p] + expected)
        }
        // The file itself cut short, and a standard file with a U8 tensor.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ok)))
        let cut = path("cut.wbz")
        try Data(bytes.dropLast(5)).write(to: URL(fileURLWithPath: cut))
        assertMessage(errorMessage { try ModelFile.load(cut) }, contains: [cut, "beyond the data section"])
    }

    func testHostileCompactMasksAreClearErrors() throws {
        let m = try model()
        let good = path("std.safetensors")
        try ModelFile.save(m, to: good)
        let file = try SafetensorsFile(contentsOf: good)
        let tensors = file.entries.map { ($0.name, file.tensor($0.name)!) }
        for (json, expected) in [("[1]", "not a JSON object"), ("{\"9.weight\":[]}", "not a tensor of the file"),
                                 ("{\"0.weight\":[[30,10]]}", "outside its 36 entries"), ("{\"0.weight\":[[0,-1]]}", "outside"),
                                 ("{\"0.weight\":[[0]]}", "not a pair"), ("{\"0.weight\":[[0.5,1]]}", "not a pair"), ("{\"0.weight\":3}", "not a list")] {
            var meta = file.metadata
            meta[CompactMasks.metadataKey] = json
            let p = path("bad.safetensors")
            try AtomicFile.write(try SafetensorsFile.encode(tensors, metadata: meta), to: p)
            assertMessage(errorMessage { try ModelFile.load(p) }, contains: [p, CompactMasks.metadataKey, expected])
        }
        var meta = file.metadata
        meta[CompactMasks.metadataKey] = "{\"0.weight\":[]}"
        let both = path("both.safetensors")
        try AtomicFile.write(try SafetensorsFile.encode(tensors + [("0.weight_mask", m.modules[0].weight!.mask!)], metadata: meta), to: both)
        assertMessage(errorMessage { try ModelFile.load(both) }, contains: [both, "as well"])
    }
}
