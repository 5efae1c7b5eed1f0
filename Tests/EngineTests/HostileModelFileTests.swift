import Foundation
import XCTest
@testable import Engine

/// The reproducers of the hostile-inputs fuzzing run: model files whose architecture or header
/// lies. Each must give a clear error naming the file and what is wrong, before anything large
/// is allocated, never a crash.
final class HostileModelFileTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    /// conv(1→2, 3x3) · tanh · maxpool 2x2 · view(8) · linear(8→3) · batch norm(3) · log-softmax,
    /// for 1x6x6 inputs (6 → 4 → 2: 2 planes of 2x2 = 8 features).
    private func smallModel() throws -> Sequential {
        var rng = RandomGenerator(seed: 3)
        let m = Sequential([SpatialConvolution(1, 2, 3, 3), Tanh(), SpatialMaxPooling(2, 2, 2, 2), try View(8),
                            Linear(8, 3), try BatchNormalization(3), LogSoftMax()])
        m.reset(&rng)
        return m
    }

    private func saveSmallModel(_ name: String = "good.safetensors") throws -> String {
        let path = folder + "/" + name
        try ModelFile.save(try smallModel(), to: path)
        return path
    }

    private func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    private func write(_ b: [UInt8], _ name: String) throws -> String {
        let path = folder + "/" + name
        try Data(b).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func headerLength(_ b: [UInt8]) -> Int { Int(b[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }) }

    private func withHeaderLength(_ b: [UInt8], _ n: Int) -> [UInt8] {
        var out = b, v = UInt64(n)
        for i in 0..<8 { out[i] = UInt8(v & 0xff); v >>= 8 }
        return out
    }

    /// The small model's file with its architecture JSON changed by `edit` (the header
    /// rewritten, the data section kept).
    private func withArchitecture(_ name: String, _ edit: (inout [String: Any]) -> Void) throws -> String {
        let b = try bytes(try saveSmallModel("good-\(name)"))
        let n = headerLength(b)
        var header = try JSONSerialization.jsonObject(with: Data(b[8..<(8 + n)])) as! [String: Any]
        var meta = header["__metadata__"] as! [String: String]
        var arch = try JSONSerialization.jsonObject(with: Data(meta[ModelFile.architectureKey]!.utf8)) as! [String: Any]
        edit(&arch)
        meta[ModelFile.architectureKey] = String(decoding: try JSONSerialization.data(withJSONObject: arch), as: UTF8.self)
        header["__metadata__"] = meta
        let json = [UInt8](try JSONSerialization.data(withJSONObject: header))
        return try write(withHeaderLength([UInt8](repeating: 0, count: 8), json.count) + json + b[(8 + n)...], name)
    }

    /// Sets argument `arg` (0-based) of layer `layer` (1-based) in the architecture.
    private func setArgument(_ layer: Int, _ arg: Int, _ value: Any) -> (inout [String: Any]) -> Void {
        { arch in
            var modules = arch["modules"] as! [[String: Any]]
            var args = modules[layer - 1]["args"] as! [Any]
            args[arg] = value
            modules[layer - 1]["args"] = args
            arch["modules"] = modules
        }
    }

    func testTheSmallModelLoadsAndItsBlueprintNamesTheSameTensors() throws {
        let model = try ModelFile.load(try saveSmallModel())
        XCTAssertEqual(try model.forward(Tensor(shape: [2, 1, 6, 6], repeating: 0.5)).shape, [2, 3])
        let blueprint = try ModuleFactory.blueprint(model.spec)
        XCTAssertEqual(blueprint.tensors().map(\.name), try ModelFile.stateDict(model).map(\.name))
        XCTAssertEqual(blueprint.tensors().map(\.shape), try ModelFile.stateDict(model).map(\.tensor.shape))
    }

    /// Every module type's blueprint names exactly the tensors the built module holds.
    func testBlueprintsAgreeWithBuiltModulesForEveryType() throws {
        let specs: [ModuleSpec] = [
            ModuleSpec(type: "nn.Linear", args: [5, 3]), ModuleSpec(type: "nn.Linear", args: [5, 3], options: ["bias": 0]),
            ModuleSpec(type: "nn.SpatialConvolution", args: [2, 4, 3, 2, 1, 2, 1, 0]),
            ModuleSpec(type: "nn.SpatialConvolution", args: [2, 4, 3, 3], options: ["bias": 0]),
            ModuleSpec(type: "nn.BatchNormalization", args: [6]), ModuleSpec(type: "nn.BatchNormalization", args: [6], options: ["affine": 0]),
            ModuleSpec(type: "nn.SpatialBatchNormalization", args: [2, 1e-3, 0.2]),
            ModuleSpec(type: "nn.SpatialMaxPooling", args: [3, 3, 2, 2, 1, 1], options: ["ceil": 1]),
            ModuleSpec(type: "nn.Dropout", args: [0.2]), ModuleSpec(type: "nn.View", args: [-1, 4], options: ["numInputDims": 2]),
            ModuleSpec(type: "nn.Reshape", args: [2, 3], options: ["batchMode": 1]), ModuleSpec(type: "nn.ReLU"),
            ModuleSpec(type: "nn.Tanh"), ModuleSpec(type: "nn.Sigmoid"), ModuleSpec(type: "nn.Identity"),
            ModuleSpec(type: "nn.SoftMax"), ModuleSpec(type: "nn.LogSoftMax"),
            ModuleSpec(type: "nn.CAddTable", options: ["inplace": 1]), ModuleSpec(type: "nn.CMulTable"),
            ModuleSpec(type: "nn.JoinTable", args: [1, 3]), ModuleSpec(type: "nn.JoinTable", args: [-1]),
            ModuleSpec(type: "nn.SelectTable", args: [-2]), ModuleSpec(type: "nn.Narrow", args: [2, 3, -1]),
            ModuleSpec(type: "nn.SpatialAveragePooling", args: [3, 3, 2, 2, 1, 1], options: ["ceil": 1, "countIncludePad": 0]),
            ModuleSpec(type: "nn.GlobalAveragePooling"), ModuleSpec(type: "nn.SpatialZeroPadding", args: [1, -1, 2, 0]),
            ModuleSpec(type: "nn.MulConstant", args: [0.5], options: ["inplace": 1]),
        ]
        let containers = [
            ModuleSpec(type: "nn.Sequential", modules: [specs[0]]),
            ModuleSpec(type: "nn.ConcatTable", modules: [specs[0], ModuleSpec(type: "nn.Sequential", modules: [specs[2], specs[4]])]),
            ModuleSpec(type: "nn.ParallelTable", modules: [specs[3], ModuleSpec(type: "nn.ConcatTable", modules: [specs[1]])]),
        ]
        let top = ModuleSpec(type: "nn.Sequential", modules: specs + containers)
        let blueprint = try ModuleFactory.blueprint(top)
        let built = try blueprint.build() as! Sequential
        XCTAssertEqual(try ModuleFactory.make(built.spec).spec, built.spec, "building the blueprint keeps every setting")
        let state = try ModelFile.stateDict(built)
        XCTAssertEqual(blueprint.tensors().map(\.name), state.map(\.name))
        XCTAssertEqual(blueprint.tensors().map(\.shape), state.map(\.tensor.shape))
        XCTAssertEqual(blueprint.tensors().map(\.isParameter), state.map { $0.parameter != nil })
    }

    /// Sizes and strides of -1, 0, 1e18, ±1e300, 4e9, 2.5 and 65,536: each a clear error naming
    /// the file, the layer and the argument (the fuzzing run saw segfaults, aborts, 5 GB
    /// allocations, a division by zero and silent truncation).
    func testOutOfRangeArchitectureArgumentsAreRejectedBeforeBuilding() throws {
        let cases: [(layer: Int, arg: Int, value: Any, expect: [String])] = [
            (1, 0, -1, ["layer 1 (nn.SpatialConvolution)", "nInputPlane (argument 1)", "got -1"]),
            (1, 0, 1e18, ["layer 1 (nn.SpatialConvolution)", "nInputPlane", "1...16777216"]),
            (1, 1, 1e300, ["layer 1 (nn.SpatialConvolution)", "nOutputPlane", "got 1e+300"]),
            (1, 2, -1e300, ["kW (argument 3)", "got -1e+300"]),
            (5, 0, 4e9, ["layer 5 (nn.Linear)", "inputSize", "got 4000000000"]),
            (3, 2, 0, ["layer 3 (nn.SpatialMaxPooling)", "dW (argument 3)", "1...4096", "got 0"]),
            (3, 3, 2.5, ["layer 3 (nn.SpatialMaxPooling)", "dH (argument 4)", "integer", "got 2.5"]),
            (3, 4, 2, ["layer 3 (nn.SpatialMaxPooling)", "padW", "at most half of kW = 2", "got 2"]),
            (1, 6, 3, ["layer 1 (nn.SpatialConvolution)", "padW", "smaller than kW = 3", "got 3"]),
            (6, 1, -1, ["layer 6 (nn.BatchNormalization)", "eps", "got -1"]),
            (6, 2, 2, ["layer 6 (nn.BatchNormalization)", "momentum", "[0, 1]"]),
            (4, 0, 0, ["layer 4 (nn.View)", "size 1", "or -1", "got 0"]),
        ]
        for c in cases {
            let path = try withArchitecture("arg-\(c.layer)-\(c.arg)-\(c.value).safetensors", setArgument(c.layer, c.arg, c.value))
            assertMessage(errorMessage { try ModelFile.load(path) }, contains: [path, "bad architecture"] + c.expect)
        }
    }

    /// A size that is in range but does not match the tensors (65,536 input planes) is caught
    /// by the shape check, before the 5 GB model is built.
    func testInRangeSizesThatDisagreeWithTheTensorsFailBeforeAllocating() throws {
        let path = try withArchitecture("planes.safetensors", setArgument(1, 1, 65_536))
        let before = residentMegabytes()
        assertMessage(errorMessage { try ModelFile.load(path) }, contains: [path, "tensor '0.weight'", "65536x1x3x3"])
        XCTAssertLessThan(residentMegabytes() - before, 100, "nothing of the claimed size was allocated")
        let huge = try withArchitecture("huge.safetensors") { arch in
            self.setArgument(5, 0, 16_777_216)(&arch)
            self.setArgument(5, 1, 16_777_216)(&arch)
        }
        assertMessage(errorMessage { try ModelFile.load(huge) }, contains: [huge, "weight would have 16777216x16777216 elements", "limit of 1073741824"])
    }

    func testUnknownOptionsTypesArgumentsAndNestingAreRejected() throws {
        let option = try withArchitecture("option.safetensors") { arch in
            var modules = arch["modules"] as! [[String: Any]]
            modules[4]["options"] = ["bias": 0.5]
            arch["modules"] = modules
        }
        assertMessage(errorMessage { try ModelFile.load(option) }, contains: [option, "layer 5 (nn.Linear)", "option 'bias' must be 0 or 1"])
        let unknown = try withArchitecture("unknown-option.safetensors") { arch in
            var modules = arch["modules"] as! [[String: Any]]
            modules[1]["options"] = ["inplace": 1]
            arch["modules"] = modules
        }
        assertMessage(errorMessage { try ModelFile.load(unknown) }, contains: [unknown, "layer 2 (nn.Tanh)", "unknown option 'inplace'"])
        let tooMany = try withArchitecture("args.safetensors") { arch in
            var modules = arch["modules"] as! [[String: Any]]
            modules[4]["args"] = [8, 3, 1]
            arch["modules"] = modules
        }
        assertMessage(errorMessage { try ModelFile.load(tooMany) }, contains: [tooMany, "layer 5 (nn.Linear)", "at most 2 arguments"])
        var deep: [String: Any] = ["type": "nn.Identity", "args": [Double]()]
        for _ in 0..<70 { deep = ["type": "nn.Sequential", "args": [Double](), "modules": [deep]] }
        let nested = try withArchitecture("deep.safetensors") { arch in arch = deep }
        assertMessage(errorMessage { try ModelFile.load(nested) }, contains: [nested, "nested more than 64 deep"])
    }

    /// A header length one byte short (or long) shifts every tensor: refused, not a NaN model.
    func testHeaderLengthOffByOneIsRejected() throws {
        // The header padded with 8 spaces (as writers pad to 8-byte alignment), so that one
        // byte short is still valid JSON and every tensor would be read one byte off.
        let good = try bytes(try saveSmallModel())
        let n = headerLength(good)
        let padded = withHeaderLength(Array(good[0..<(8 + n)]), n + 8) + [UInt8](repeating: 0x20, count: 8) + good[(8 + n)...]
        XCTAssertNoThrow(try ModelFile.load(try write(padded, "padded.safetensors")))
        let short = try write(withHeaderLength(padded, n + 7), "short.safetensors")
        assertMessage(errorMessage { try ModelFile.load(short) }, contains: [short, "header length is wrong"])
        let long = try write(withHeaderLength(padded, n + 9), "long.safetensors")
        assertMessage(errorMessage { try ModelFile.load(long) }, contains: [long, "header"])
        let trailing = try write(good + [0], "trailing.safetensors")
        assertMessage(errorMessage { try ModelFile.load(trailing) }, contains: [trailing, "trailing bytes"])
    }

    func testNonFiniteWeightsAreRejected() throws {
        var b = try bytes(try saveSmallModel())
        let dataStart = 8 + headerLength(b)
        // 0.weight is the first tensor: set its 3rd float to +inf (0x7f800000, little-endian).
        b.replaceSubrange((dataStart + 8)..<(dataStart + 12), with: [0x00, 0x00, 0x80, 0x7f])
        let path = try write(b, "inf.safetensors")
        assertMessage(errorMessage { try ModelFile.load(path) }, contains: [path, "tensor '0.weight'", "inf", "index 3", "damaged"])
    }

    /// One flipped bit in every 4th byte of the shipped model's header (the bit rotating with
    /// the byte): never a crash, and every rejection names the file. The fuzzer goes further.
    func testEveryBitFlipOfTheShippedHeaderLoadsOrFailsCleanly() throws {
        let shipped = repositoryRoot.appendingPathComponent("inp/lenet5.safetensors").path
        let good = try bytes(shipped)
        let n = headerLength(good)
        var rejected = 0
        for i in stride(from: 0, to: 8 + n, by: 4) where good[i] != 0x20 {
            var b = good
            b[i] ^= 1 << UInt8(i / 4 % 8)
            let path = folder + "/flip.safetensors"
            try Data(b).write(to: URL(fileURLWithPath: path))
            do { _ = try ModelFile.load(path) } catch let e as EngineError {
                XCTAssertTrue(e.message.hasPrefix(path), e.message)
                rejected += 1
            }
        }
        XCTAssertGreaterThan(rejected, 0)
    }

    /// A device, a pipe or a folder given as a model or data file: refused at once, never read
    /// without end (/dev/zero) or waited on (a FIFO with no writer).
    func testDevicesPipesAndFoldersAreRefused() throws {
        assertMessage(errorMessage { try ModelFile.load("/dev/zero") }, contains: ["/dev/zero", "not a regular file"])
        assertMessage(errorMessage { try IDXFile.readImages("/dev/zero") }, contains: ["/dev/zero", "not a regular file"])
        let fifo = folder + "/fifo.safetensors"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        assertMessage(errorMessage { try ModelFile.load(fifo) }, contains: [fifo, "not a regular file"])
        assertMessage(errorMessage { try ModelFile.load(folder) }, contains: [folder, "is a folder, not a model file"])
        assertMessage(errorMessage { try ModelFile.load(folder + "/none.safetensors") }, contains: ["none.safetensors", "no such file"])
    }

    private func residentMegabytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }
}
