import Foundation
import XCTest
@testable import Engine

/// Model files (safetensors): round trips, PyTorch naming, every kind of broken file, and
/// atomic saving.
final class SafetensorsTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    // MARK: - Helpers

    /// Sequential(Linear(3, 4), Tanh, Linear(4, 2)) with a mask on layer 1's weight.
    private func smallModel(seed: UInt64 = 7) throws -> Sequential {
        var rng = RandomGenerator(seed: seed)
        let model = Sequential([Linear(3, 4), Tanh(), Linear(4, 2)])
        model.reset(&rng)
        let mask = Tensor(shape: [4, 3], values: [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0])
        try (try model.module(at: 1)).weight!.setMask(mask)
        return model
    }

    private func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }


    private func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    private func write(_ b: [UInt8], _ name: String) throws -> String {
        let path = folder + "/" + name
        try Data(b).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Splits a file into its JSON header (as a dictionary) and data section.
    private func split(_ b: [UInt8]) throws -> (header: [String: Any], data: [UInt8]) {
        let n = Int(b[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let header = try JSONSerialization.jsonObject(with: Data(b[8..<(8 + n)])) as! [String: Any]
        return (header, Array(b[(8 + n)...]))
    }

    private func join(_ header: [String: Any], _ data: [UInt8]) throws -> [UInt8] {
        let json = [UInt8](try JSONSerialization.data(withJSONObject: header))
        var n = UInt64(json.count)
        var out = [UInt8]()
        for _ in 0..<8 { out.append(UInt8(n & 0xff)); n >>= 8 }
        return out + json + data
    }

    /// Saves the small model, edits its header with `edit`, writes the result and returns its path.
    /// With `compact`, the data section is rebuilt so that the tensors left in the header tile
    /// it back to back (a tensor removed from the header then leaves no hole).
    private func edited(_ name: String, compact: Bool = false, _ edit: (inout [String: Any]) throws -> Void) throws -> String {
        let good = folder + "/good-\(name)"
        try ModelFile.save(try smallModel(), to: good, floatMasks: true)
        var (header, data) = try split(try bytes(good))
        try edit(&header)
        if compact {
            var packed = [UInt8]()
            let names = header.keys.filter { $0 != "__metadata__" }.sorted {
                ((header[$0] as! [String: Any])["data_offsets"] as! [Int])[0] < ((header[$1] as! [String: Any])["data_offsets"] as! [Int])[0]
            }
            for n in names {
                let range = (header[n] as! [String: Any])["data_offsets"] as! [Int]
                setEntry(&header, n, "data_offsets", [packed.count, packed.count + range[1] - range[0]])
                packed += data[range[0]..<range[1]]
            }
            data = packed
        }
        return try write(try join(header, data), name)
    }

    private func setEntry(_ header: inout [String: Any], _ name: String, _ key: String, _ value: Any) {
        var entry = header[name] as! [String: Any]
        entry[key] = value
        header[name] = entry
    }

    // MARK: - Round trip and layout

    func testRoundTripKeepsWeightsBitForBitMasksAndOutputs() throws {
        let model = try smallModel()
        let path = folder + "/model.safetensors"
        try ModelFile.save(model, to: path, metadata: ["note": "a \"quoted\"\nline"])
        let loaded = try ModelFile.load(path)

        XCTAssertEqual(loaded.listing, model.listing)
        XCTAssertEqual(loaded.allParameters.count, 4)
        for (a, b) in zip(model.allParameters, loaded.allParameters) {
            XCTAssertEqual(a.value.shape, b.value.shape)
            XCTAssertEqual(bits(a.value), bits(b.value), a.name)
        }
        let mask = try XCTUnwrap(try loaded.module(at: 1).weight?.mask)
        XCTAssertEqual(mask.scalars, [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0])
        XCTAssertNil(try loaded.module(at: 3).weight?.mask)

        let x = Tensor(shape: [2, 3], values: [0.5, -1, 2, 0.25, 0, -0.75])
        let y0 = try model.forward(x).clone(), y1 = try loaded.forward(x)
        XCTAssertEqual(bits(y0), bits(y1))

        let meta = try ModelFile.metadata(path)
        XCTAssertEqual(meta["format"], "pt")
        XCTAssertEqual(meta["note"], "a \"quoted\"\nline")
        let spec = try JSONDecoder().decode(ModuleSpec.self, from: Data(try XCTUnwrap(meta[ModelFile.architectureKey]).utf8))
        XCTAssertEqual(spec, model.spec)
    }

    func testLayoutFollowsPyTorchNamesInModelOrderWithoutGaps() throws {
        let path = folder + "/m.safetensors"
        try ModelFile.save(try smallModel(), to: path, floatMasks: true)
        let b = try bytes(path)
        let file = try SafetensorsFile(bytes: b, file: "m")
        XCTAssertEqual(file.entries.map(\.name), ["0.weight", "0.bias", "0.weight_mask", "2.weight", "2.bias"])
        var offset = 0
        for e in file.entries {
            XCTAssertEqual(e.dtype, "F32")
            XCTAssertEqual(e.byteRange.lowerBound, offset, e.name)
            offset = e.byteRange.upperBound
        }
        let headerLength = Int(b[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        XCTAssertEqual((8 + headerLength) % 8, 0, "data section starts 8-aligned")
        XCTAssertEqual(b.count, 8 + headerLength + offset, "data section holds exactly the tensors")
        XCTAssertEqual(file.entry("2.weight")?.shape, [2, 4])
        // The first float of "0.weight" is the model's W[0][0], little-endian.
        let w00 = try smallModel().allParameters[0].value[0]
        let at = 8 + headerLength
        XCTAssertEqual(UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24, w00.bitPattern)
        // Saving is deterministic.
        let again = folder + "/again.safetensors"
        try ModelFile.save(try smallModel(), to: again, floatMasks: true)
        XCTAssertEqual(try bytes(again), b)
    }

    func testNestedSequentialNamesNestLikePyTorch() throws {
        let model = Sequential([Linear(2, 2), Sequential([Tanh(), Linear(2, 3)])])
        XCTAssertEqual(try ModelFile.stateDict(model).map(\.name), ["0.weight", "0.bias", "1.1.weight", "1.1.bias"])
        let path = folder + "/nested.safetensors"
        try ModelFile.save(model, to: path)
        let loaded = try ModelFile.load(path)
        XCTAssertEqual(bits(try XCTUnwrap((loaded.modules[1] as? Sequential)?.modules[1].weight?.value)),
                       bits(try XCTUnwrap((model.modules[1] as? Sequential)?.modules[1].weight?.value)))
    }

    /// A parameter-free module with a buffer, to check buffers are saved and restored.
    private final class RunningScale: Module {
        let scale = Tensor(shape: [3])
        override var typeName: String { "test.RunningScale" }
        override var buffers: [(name: String, value: Tensor)] { [("running_scale", scale)] }
        override func updateOutput(_ input: Tensor) throws -> Tensor { input }
    }

    func testBuffersAreSavedAndLoadedIntoAGivenModel() throws {
        let source = RunningScale()
        source.scale.copy(from: Tensor(shape: [3], values: [0.5, 2, -3]))
        let path = folder + "/buffers.safetensors"
        try ModelFile.save(Sequential([Linear(3, 3), source]), to: path)
        XCTAssertNotNil(try SafetensorsFile(contentsOf: path).entry("1.running_scale"))

        let target = RunningScale()
        try ModelFile.loadWeights(into: Sequential([Linear(3, 3), target]), from: path)
        XCTAssertEqual(target.scale.scalars, [0.5, 2, -3])
        // The architecture names a module the factory does not know.
        assertMessage(errorMessage { try ModelFile.load(path) }, contains: [path, "unknown module type 'test.RunningScale'"])
    }

    func testBatchNormRunningStatisticsRoundTrip() throws {
        let bn = try ModuleFactory.make(ModuleSpec(type: "nn.BatchNormalization", args: [4]))
        XCTAssertEqual(bn.buffers.map(\.name), ["running_mean", "running_var"])
        bn.buffers[0].value.copy(from: Tensor(shape: [4], values: [0.1, 0.2, 0.3, 0.4]))
        bn.buffers[1].value.copy(from: Tensor(shape: [4], values: [1.5, 2.5, 3.5, 4.5]))
        let path = folder + "/bn.safetensors"
        try ModelFile.save(Sequential([Linear(2, 4), bn]), to: path)
        let loaded = try ModelFile.load(path)
        XCTAssertEqual(try ModelFile.stateDict(loaded).map(\.name),
                       ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"])
        XCTAssertEqual(loaded.modules[1].buffers[0].value.scalars, [0.1, 0.2, 0.3, 0.4])
        XCTAssertEqual(loaded.modules[1].buffers[1].value.scalars, [1.5, 2.5, 3.5, 4.5])
    }

    func testLoadWeightsNeedsNoArchitectureAndRemovesStaleMasks() throws {
        let path = try edited("noarch.safetensors", compact: true) { h in
            var meta = h["__metadata__"] as! [String: Any]
            meta.removeValue(forKey: ModelFile.architectureKey)
            h["__metadata__"] = meta
            h.removeValue(forKey: "0.weight_mask")
        }
        assertMessage(errorMessage { try ModelFile.load(path) }, contains: [path, "no architecture", "loadWeights"])
        let target = try smallModel(seed: 99)
        XCTAssertNotNil(target.modules[0].weight?.mask)
        try ModelFile.loadWeights(into: target, from: path)
        XCTAssertNil(target.modules[0].weight?.mask, "the file has no mask, so the model has none")
        XCTAssertEqual(bits(target.modules[2].weight!.value), bits(try smallModel().modules[2].weight!.value))
    }

    // MARK: - Broken files

    func testTruncatedFilesAreRejected() throws {
        let good = folder + "/good.safetensors"
        try ModelFile.save(try smallModel(), to: good)
        let b = try bytes(good)
        let tiny = try write(Array(b.prefix(5)), "tiny.safetensors")
        assertMessage(errorMessage { try ModelFile.load(tiny) }, contains: [tiny, "truncated", "8-byte header length"])
        let cut = try write(Array(b.dropLast(10)), "cut.safetensors")
        assertMessage(errorMessage { try ModelFile.load(cut) }, contains: [cut, "tensor '2.bias'", "beyond the data section"])
        let headerOnly = try write(Array(b.prefix(40)), "header-cut.safetensors")
        assertMessage(errorMessage { try ModelFile.load(headerOnly) }, contains: [headerOnly, "runs beyond the end of the file"])
        let missing = folder + "/absent.safetensors"
        assertMessage(errorMessage { try ModelFile.load(missing) }, contains: [missing, "no such file"])
    }

    func testHeaderLengthBeyondTheFileOrInsaneIsRejected() throws {
        let good = folder + "/good.safetensors"
        try ModelFile.save(try smallModel(), to: good)
        var b = try bytes(good)
        b.replaceSubrange(0..<8, with: [0x40, 0x42, 0x0f, 0, 0, 0, 0, 0])  // 1,000,000
        let beyond = try write(b, "beyond.safetensors")
        assertMessage(errorMessage { try ModelFile.load(beyond) }, contains: [beyond, "header length 1000000", "beyond the end of the file"])
        b.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0, 1, 0, 0])  // 2^40
        let huge = try write(b, "huge.safetensors")
        assertMessage(errorMessage { try ModelFile.load(huge) }, contains: [huge, "not sane"])
    }

    func testBadJSONIsRejected() throws {
        let good = folder + "/good.safetensors"
        try ModelFile.save(try smallModel(), to: good)
        var b = try bytes(good)
        b[8] = UInt8(ascii: "[")  // the header's opening brace
        let garbled = try write(b, "json.safetensors")
        assertMessage(errorMessage { try ModelFile.load(garbled) }, contains: [garbled, "not valid JSON"])
        let notObject = try write([5, 0, 0, 0, 0, 0, 0, 0] + Array("[1,2]".utf8), "array.safetensors")
        assertMessage(errorMessage { try ModelFile.load(notObject) }, contains: [notObject, "not a JSON object"])
    }

    func testOnlyF32IsAccepted() throws {
        let path = try edited("f16.safetensors") { h in
            setEntry(&h, "2.weight", "dtype", "F16")
        }
        assertMessage(errorMessage { try ModelFile.load(path) }, contains: [path, "tensor '2.weight'", "dtype F16", "F32"])
    }

    func testWrongShapeIsRejected() throws {
        let path = try edited("shape.safetensors") { h in setEntry(&h, "0.weight", "shape", [3, 4]) }
        assertMessage(errorMessage { try ModelFile.load(path) }, contains: [path, "tensor '0.weight'", "shape 3x4", "model's is 4x3"])
        let bad = try edited("shape-neg.safetensors") { h in setEntry(&h, "0.bias", "shape", [-4]) }
        assertMessage(errorMessage { try ModelFile.load(bad) }, contains: [bad, "tensor '0.bias'", "shape"])
        let frac = try edited("shape-frac.safetensors") { h in setEntry(&h, "0.bias", "shape", [4.5]) }
        assertMessage(errorMessage { try ModelFile.load(frac) }, contains: [frac, "tensor '0.bias'", "shape"])
    }

    func testInconsistentDataOffsetsAreRejected() throws {
        // 0.weight is 12 floats at [0, 48); 0.bias 4 floats at [48, 64).
        let outOfRange = try edited("range.safetensors") { h in setEntry(&h, "2.bias", "data_offsets", [100_000, 100_008]) }
        assertMessage(errorMessage { try ModelFile.load(outOfRange) }, contains: [outOfRange, "tensor '2.bias'", "beyond the data section"])
        let overlap = try edited("overlap.safetensors") { h in setEntry(&h, "0.bias", "data_offsets", [40, 56]) }
        assertMessage(errorMessage { try ModelFile.load(overlap) }, contains: [overlap, "'0.weight'", "'0.bias'", "overlap"])
        let length = try edited("length.safetensors") { h in setEntry(&h, "0.weight", "data_offsets", [0, 44]) }
        assertMessage(errorMessage { try ModelFile.load(length) }, contains: [length, "tensor '0.weight'", "hold 44 bytes", "needs 48"])
        let reversed = try edited("reversed.safetensors") { h in setEntry(&h, "0.bias", "data_offsets", [64, 48]) }
        assertMessage(errorMessage { try ModelFile.load(reversed) }, contains: [reversed, "tensor '0.bias'", "data_offsets"])
        let single = try edited("single.safetensors") { h in setEntry(&h, "0.bias", "data_offsets", [48]) }
        assertMessage(errorMessage { try ModelFile.load(single) }, contains: [single, "tensor '0.bias'", "pair"])
    }

    func testMissingAndUnknownTensorsAreRejected() throws {
        let missing = try edited("missing.safetensors", compact: true) { h in h.removeValue(forKey: "2.bias") }
        assertMessage(errorMessage { try ModelFile.load(missing) }, contains: [missing, "tensor '2.bias' is missing"])
        let renamed = try edited("unknown.safetensors") { h in
            h["5.weight"] = h.removeValue(forKey: "2.bias")
        }
        assertMessage(errorMessage { try ModelFile.load(renamed) }, contains: [renamed, "unknown tensor '5.weight'"])
        // Weights of a bigger model do not load into the small one.
        let bigger = folder + "/bigger.safetensors"
        try ModelFile.save(Sequential([Linear(3, 4), Tanh(), Linear(4, 2), Linear(2, 2)]), to: bigger)
        let target = try smallModel()
        let before = bits(target.allParameters[0].value)
        assertMessage(errorMessage { try ModelFile.loadWeights(into: target, from: bigger) }, contains: [bigger, "unknown tensor '3.weight'"])
        XCTAssertEqual(bits(target.allParameters[0].value), before, "a rejected file changes nothing")
    }

    func testBadMasksAndUnknownModuleTypesAreRejected() throws {
        let maskShape = try edited("maskshape.safetensors") { h in setEntry(&h, "0.weight_mask", "shape", [3, 4]) }
        assertMessage(errorMessage { try ModelFile.load(maskShape) }, contains: [maskShape, "mask '0.weight_mask'", "shape 3x4"])
        let unknownType = try edited("type.safetensors") { h in
            var meta = h["__metadata__"] as! [String: Any]
            meta[ModelFile.architectureKey] = (meta[ModelFile.architectureKey] as! String).replacingOccurrences(of: "nn.Tanh", with: "nn.Frobnicate")
            h["__metadata__"] = meta
        }
        assertMessage(errorMessage { try ModelFile.load(unknownType) }, contains: [unknownType, "unknown module type 'nn.Frobnicate'"])
        let badArchitecture = try edited("arch.safetensors") { h in
            h["__metadata__"] = [ModelFile.architectureKey: "{\"type\": 3}"]
        }
        assertMessage(errorMessage { try ModelFile.load(badArchitecture) }, contains: [badArchitecture, "architecture"])
        let nonString = try edited("meta.safetensors") { h in h["__metadata__"] = ["format": 1] }
        assertMessage(errorMessage { try ModelFile.load(nonString) }, contains: [nonString, "'format'", "not a string"])
    }

    func testMaskValuesMustBeZeroOrOne() throws {
        let good = folder + "/good.safetensors"
        try ModelFile.save(try smallModel(), to: good, floatMasks: true)
        let (header, splitData) = try split(try bytes(good))
        var data = splitData
        let range = (header["0.weight_mask"] as! [String: Any])["data_offsets"] as! [Int]
        let half = Float(0.5).bitPattern
        for k in 0..<4 { data[range[0] + k] = UInt8(half >> (8 * UInt32(k)) & 0xff) }
        let path = try write(try join(header, data), "halfmask.safetensors")
        assertMessage(errorMessage { try ModelFile.load(path) }, contains: [path, "mask '0.weight_mask'", "0.5"])
    }

    // MARK: - Atomic saving

    private func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains(".tmp-") }
    }

    func testSaveIntoAMissingFolderLeavesNothing() throws {
        let path = folder + "/no/such/dir/model.safetensors"
        assertMessage(errorMessage { try ModelFile.save(try self.smallModel(), to: path) }, contains: [path, "does not exist"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/no"))
        XCTAssertEqual(try leftovers(), [])
    }

    func testFailedSavesKeepTheOldFileAndLeaveNoTemporaryFile() throws {
        let path = folder + "/model.safetensors"
        try ModelFile.save(try smallModel(), to: path)
        let old = try bytes(path)

        // Fails before writing: a reserved metadata key.
        XCTAssertThrowsError(try ModelFile.save(try smallModel(seed: 1), to: path, metadata: ["format": "tf"]))
        // Fails halfway through writing.
        XCTAssertThrowsError(try AtomicFile.write(to: path) { append in
            try append([1, 2, 3])
            throw EngineError("disk full (simulated)")
        })
        XCTAssertEqual(try bytes(path), old)
        XCTAssertEqual(try leftovers(), [])

        // Fails at the final rename: the destination is a folder.
        let dirPath = folder + "/taken"
        try FileManager.default.createDirectory(atPath: dirPath + "/inside", withIntermediateDirectories: true)
        assertMessage(errorMessage { try ModelFile.save(try self.smallModel(), to: dirPath) }, contains: [dirPath, "renaming"])
        XCTAssertEqual(try leftovers(), [])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dirPath + "/inside"))

        // A successful save replaces the file.
        try ModelFile.save(try smallModel(seed: 2), to: path)
        XCTAssertNotEqual(try bytes(path), old)
        XCTAssertEqual(try leftovers(), [])
    }
}
