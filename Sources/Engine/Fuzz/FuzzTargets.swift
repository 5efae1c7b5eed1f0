import Foundation

/// How the program treated one input.
public enum FuzzOutcomeKind: String, Codable, CaseIterable, Sendable {
    /// Loaded, and (for models) ran.
    case accepted
    /// Loaded, but the result is wrong: NaN/inf output of an accepted model, counts that
    /// disagree with the data.
    case wrong = "accepted-but-wrong"
    /// A thrown error whose message names the file.
    case cleanError = "clean-error"
    /// A thrown error that does not say which file is wrong.
    case unnamedError = "error-not-naming-file"
    /// Peak memory for the input beyond its limit.
    case runaway
    /// The process died (signal, trap, abort); seen by the parent only.
    case crash
    /// Over the per-input time limit; seen by the parent only.
    case hang

    /// Outcomes that fail a fuzz run.
    public var isFailure: Bool { self == .runaway || self == .crash || self == .hang }
}

public struct FuzzOutcome {
    public let kind: FuzzOutcomeKind
    public let message: String
    public init(_ kind: FuzzOutcomeKind, _ message: String = "") {
        self.kind = kind
        self.message = message
    }
}

/// One input format under fuzzing: its seeds and mutation schedule, and how to load a file
/// of it with the program's real loader.
///
/// Adding a format (the compressed model format, `.ini` or YAML configurations when they
/// exist): write a seed builder in `FuzzSeeds` (its boundaries, length fields and edits),
/// a target class here (or, when it needs Lua, in the workbench command, as `conf` does), and
/// list it in `FuzzFormats.engine` / `FuzzFormats.planned`.
public protocol FuzzTarget: AnyObject {
    var name: String { get }
    var fileExtension: String { get }
    var seeds: [FuzzSeed] { get }
    /// The mutation kinds in rotation (see `FuzzMutator`).
    var schedule: [FuzzMutationKind] { get }
    /// The size of the largest valid input consistent with these bytes (what a correct
    /// loader may need to hold); the memory limit is a base plus twice this.
    func validSize(_ bytes: [UInt8]) -> Int
    /// Loads the file at `path` (a mutant of the seed `mutant.seedName`). Returns accepted or
    /// wrong; a thrown error is classified by whether its message names `path`.
    func run(path: String, mutant: FuzzMutant) throws -> FuzzOutcome
}

extension FuzzTarget {
    public func validSize(_ bytes: [UInt8]) -> Int { bytes.count }
}

/// Options common to the targets.
public struct FuzzTargetOptions {
    /// Scratch folder for seeds and mutants.
    public var directory: String
    /// Extra seed files (e.g. the shipped inp/lenet5.safetensors for the long run).
    public var extraSeeds: [String]
    public init(directory: String, extraSeeds: [String] = []) {
        self.directory = directory
        self.extraSeeds = extraSeeds
    }
}

/// The formats the Engine can fuzz without Lua, and the ones to add when they exist.
public enum FuzzFormats {
    public static let engine = ["safetensors", "compressed", "idx", "idx-gz", "cifar"]

    /// Extension point: formats planned but not written yet. Each needs a seed builder and a
    /// target (see `FuzzTarget`); the fuzz command lists them in its help.
    public static let planned: [(name: String, what: String)] = [
        ("ini", ".ini configuration files"),
        ("yaml", "YAML configuration files"),
    ]

    public static func target(_ name: String, options: FuzzTargetOptions) throws -> FuzzTarget? {
        switch name {
        case "safetensors": return try SafetensorsFuzzTarget(options: options)
        case "compressed": return try CompressedFuzzTarget(options: options)
        case "idx": return try IDXFuzzTarget(gzipped: false)
        case "idx-gz": return try IDXFuzzTarget(gzipped: true)
        case "cifar": return CIFARFuzzTarget()
        default: return nil
        }
    }
}

/// Errors of the fuzzer itself (not of the program under test).
public struct FuzzError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

// MARK: - safetensors

/// Model files through `ModelFile.load(path)`, then one forward pass on a tiny seeded input
/// (NaN or inf output of an accepted model is "accepted but wrong").
public final class SafetensorsFuzzTarget: FuzzTarget {
    public let name = "safetensors"
    public let fileExtension = "safetensors"
    public let seeds: [FuzzSeed]
    public let schedule: [FuzzMutationKind] = [.architectureValue, .header, .architectureValue, .bitFlip, .architecture, .architectureValue,
                                               .truncate, .lengthField, .architectureValue, .tensorMismatch, .header, .architecture,
                                               .architectureValue, .byteSet, .insert, .architectureValue, .delete, .header]
    private var inputs: [String: Tensor] = [:]

    public init(options: FuzzTargetOptions) throws {
        var seeds = [try FuzzSeeds.safetensors(name: "tiny", bytes: try FuzzSeeds.tinyModelFile(temporaryDirectory: options.directory))]
        var rng = RandomGenerator(seed: 8)
        let tiny = Tensor(shape: FuzzSeeds.tinyInputShape)
        tiny.fillUniform(0, 1, &rng)
        inputs["tiny"] = tiny
        for path in options.extraSeeds {
            guard let data = FileManager.default.contents(atPath: path) else { throw FuzzError("cannot read the seed \(path)") }
            let model = try ModelFile.load(path)
            model.evaluate()
            let name = URL(fileURLWithPath: path).lastPathComponent
            let shapes = [[2, 1, 28, 28], [2, 1, 32, 32], [2, 3, 32, 32], [2, 784], [2, 1, 8, 8]]
            guard let shape = shapes.first(where: { s in (try? model.forward(Tensor(shape: s))) != nil }) else {
                throw FuzzError("\(path): none of the input shapes \(shapes) runs through the model")
            }
            let x = Tensor(shape: shape)
            x.fillUniform(0, 1, &rng)
            inputs[name] = x
            seeds.append(try FuzzSeeds.safetensors(name: name, bytes: [UInt8](data)))
        }
        self.seeds = seeds
    }

    public func run(path: String, mutant: FuzzMutant) throws -> FuzzOutcome {
        let model = try ModelFile.load(path)
        model.evaluate()
        let input = inputs[mutant.seedName]!
        let output: Tensor
        do {
            output = try model.forward(input)
        } catch {
            return FuzzOutcome(.accepted, "loaded; the forward pass refused the input: \(error)")
        }
        if let bad = (0..<output.count).first(where: { !output.data[$0].isFinite }) {
            return FuzzOutcome(.wrong, "loaded, but the output of a forward pass holds \(output.data[bad]) (element \(bad + 1) of \(output.count))")
        }
        return FuzzOutcome(.accepted)
    }
}

// MARK: - compressed model files

/// Compressed model files (`CompressedModelFile`) through `ModelFile.load(path)` and one
/// forward pass, as safetensors: seeds are the tiny model pruned further, written lossless
/// and with shared weights, so that every stream kind (relative gaps, CSR rows and columns,
/// codebook codes; fixed-width and Huffman) is in a seed.
public final class CompressedFuzzTarget: FuzzTarget {
    public let name = "compressed"
    public let fileExtension = "wbz"
    public let seeds: [FuzzSeed]
    public let schedule: [FuzzMutationKind] = [.compressedLayout, .header, .compressedLayout, .bitFlip, .tensorMismatch,
                                               .compressedLayout, .truncate, .lengthField, .compressedLayout, .byteSet,
                                               .architectureValue, .compressedLayout, .insert, .delete, .compressedLayout]
    private let input: Tensor

    public init(options: FuzzTargetOptions) throws {
        seeds = try FuzzSeeds.compressedModelFiles(temporaryDirectory: options.directory).map { try FuzzSeeds.compressed(name: $0.name, bytes: $0.bytes) }
        var rng = RandomGenerator(seed: 9)
        input = Tensor(shape: FuzzSeeds.tinyInputShape)
        input.fillUniform(0, 1, &rng)
    }

    public func run(path: String, mutant: FuzzMutant) throws -> FuzzOutcome {
        let model = try ModelFile.load(path)
        model.evaluate()
        let output: Tensor
        do { output = try model.forward(input) } catch {
            return FuzzOutcome(.accepted, "loaded; the forward pass refused the input: \(error)")
        }
        if let bad = (0..<output.count).first(where: { !output.data[$0].isFinite }) {
            return FuzzOutcome(.wrong, "loaded, but the output of a forward pass holds \(output.data[bad]) (element \(bad + 1) of \(output.count))")
        }
        return FuzzOutcome(.accepted)
    }
}

// MARK: - IDX

/// idx3 image and idx1 label files, plain or gzipped, through `IDXFile.readImages/readLabels`.
public final class IDXFuzzTarget: FuzzTarget {
    public let name: String
    public let fileExtension: String
    public let seeds: [FuzzSeed]
    public let schedule: [FuzzMutationKind]
    let gzipped: Bool

    public init(gzipped: Bool) throws {
        self.gzipped = gzipped
        let images = FuzzSeeds.idxImages(), labels = FuzzSeeds.idxLabels()
        if gzipped {
            name = "idx-gz"
            fileExtension = "gz"
            seeds = [try FuzzSeeds.gzipped(name: "images.gz", inner: images, innerEdits: FuzzSeeds.idxEdits(images)),
                     try FuzzSeeds.gzipped(name: "labels.gz", inner: labels, innerEdits: FuzzSeeds.idxEdits(labels))]
            // One bomb in 22: there are 12 bomb variants, and before the loader bounds its
            // output each one costs a worker the time or memory limit.
            schedule = [.gzipCorruption, .lengthField, .gzipBomb, .bitFlip, .truncate, .gzipCorruption, .byteSet, .lengthField,
                        .insert, .delete, .gzipCorruption, .lengthField, .gzipCorruption, .bitFlip, .truncate, .gzipCorruption,
                        .byteSet, .lengthField, .insert, .delete, .gzipCorruption, .truncate]
        } else {
            name = "idx"
            fileExtension = "idx"
            seeds = [FuzzSeeds.idx(name: "images", bytes: images), FuzzSeeds.idx(name: "labels", bytes: labels)]
            schedule = [.lengthField, .bitFlip, .truncate, .lengthField, .byteSet, .insert, .delete, .lengthField, .truncate]
        }
    }

    /// For gzip: what the inner header states (up to 256 MiB), since a correct loader may
    /// have to inflate that much; for plain files the file itself.
    public func validSize(_ bytes: [UInt8]) -> Int {
        guard gzipped, Gzip.isGzip(bytes) else { return bytes.count }
        let stated = FuzzSeeds.idxStatedSize(FuzzGzip.prefix(of: bytes, limit: 16)) ?? 0
        return Swift.max(bytes.count, Swift.min(stated, FuzzRunner.largestValidInput))
    }

    public func run(path: String, mutant: FuzzMutant) throws -> FuzzOutcome {
        if mutant.seedName.hasPrefix("images") {
            let images = try IDXFile.readImages(path)
            guard images.count >= 0, images.rows > 0, images.cols > 0, images.pixels.count == images.count * images.rows * images.cols else {
                return FuzzOutcome(.wrong, "accepted \(images.count) images of \(images.rows)x\(images.cols) with \(images.pixels.count) pixel bytes")
            }
        } else {
            let labels = try IDXFile.readLabels(path)
            // The header again (the labels were read, so the file is exactly 8 + count bytes).
            let raw = try DataFile.read(path, headerLength: 8) { _ in Gzip.Limit(8 + labels.count, "the labels read") }
            let stated = raw.count >= 8 ? Int(IDXFile.bigEndian32(raw, 4)) : -1
            guard labels.count == stated else { return FuzzOutcome(.wrong, "accepted \(labels.count) labels, the header says \(stated)") }
        }
        return FuzzOutcome(.accepted)
    }
}

// MARK: - CIFAR-10

/// CIFAR-10 binary batches through `CIFAR10File.readBatch`.
public final class CIFARFuzzTarget: FuzzTarget {
    public let name = "cifar"
    public let fileExtension = "bin"
    public let seeds = [FuzzSeeds.cifar(name: "batch", bytes: FuzzSeeds.cifarBatch())]
    public let schedule: [FuzzMutationKind] = [.lengthField, .bitFlip, .truncate, .byteSet, .insert, .delete, .truncate]

    public init() {}

    public func run(path: String, mutant: FuzzMutant) throws -> FuzzOutcome {
        let batch = try CIFAR10File.readBatch(path)
        guard batch.pixels.count == batch.labels.count * CIFAR10File.imageSize,
              batch.labels.allSatisfy({ (0..<Int32(CIFAR10File.classes)).contains($0) }) else {
            return FuzzOutcome(.wrong, "accepted \(batch.labels.count) labels with \(batch.pixels.count) pixel bytes")
        }
        return FuzzOutcome(.accepted)
    }
}
