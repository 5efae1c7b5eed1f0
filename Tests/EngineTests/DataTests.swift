import Foundation
import XCTest
@testable import Engine

/// Dataset files: MNIST IDX (plain and gzipped), CIFAR-10 batches, and the messages for
/// broken files. Every test writes its own tiny files into a fresh temporary folder.
final class DataTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dataio-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    // MARK: - Tiny files

    /// An idx3 file: magic 0x803, count, rows, cols (big-endian), then the pixels.
    private func idx3(count: Int, rows: Int, cols: Int, pixels: [UInt8], magic: UInt32 = 0x803) -> [UInt8] {
        bigEndian(magic) + bigEndian(UInt32(count)) + bigEndian(UInt32(rows)) + bigEndian(UInt32(cols)) + pixels
    }

    /// An idx1 file: magic 0x801, count, then the labels.
    private func idx1(_ labels: [UInt8], count: Int? = nil) -> [UInt8] {
        bigEndian(0x801) + bigEndian(UInt32(count ?? labels.count)) + labels
    }

    private func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    /// Pixels 0, 1, 2, ... (mod 251) so that any misplaced byte shows.
    private func ramp(_ n: Int, from start: Int = 0) -> [UInt8] { (0..<n).map { UInt8((start + $0) % 251) } }

    @discardableResult
    private func write(_ bytes: [UInt8], _ name: String, in dir: String? = nil) throws -> String {
        let d = dir ?? folder
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        let path = d + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Writes a complete MNIST-style folder: 5 train and 3 test images of 3x2.
    private func writeMNISTFolder(_ dir: String, gzipped: Bool = false) throws {
        let files: [(String, [UInt8])] = [
            ("train-images-idx3-ubyte", idx3(count: 5, rows: 3, cols: 2, pixels: ramp(30))),
            ("train-labels-idx1-ubyte", idx1([3, 1, 4, 1, 5])),
            ("t10k-images-idx3-ubyte", idx3(count: 3, rows: 3, cols: 2, pixels: ramp(18, from: 100))),
            ("t10k-labels-idx1-ubyte", idx1([9, 2, 6])),
        ]
        for (name, bytes) in files {
            if gzipped { try write(try Gzip.compress(bytes), name + ".gz", in: dir) } else { try write(bytes, name, in: dir) }
        }
    }

    // MARK: - IDX

    func testPlainIDXFolderLoadsAsTrainAndTestDatasets() throws {
        try writeMNISTFolder(folder)
        let splits = try Datasets.load(path: folder)
        XCTAssertEqual(splits.train.count, 5)
        XCTAssertEqual(splits.test.count, 3)
        XCTAssertEqual(splits.train.pixels, ramp(30))
        XCTAssertEqual(splits.test.pixels, ramp(18, from: 100))
        XCTAssertEqual(splits.train.labels, [3, 1, 4, 1, 5])
        XCTAssertEqual(splits.test.labels, [9, 2, 6])
        XCTAssertEqual([splits.train.channels, splits.train.height, splits.train.width, splits.train.classes], [1, 3, 2, 10])
    }

    func testGzippedIDXFromZlibAndFromGzipToolLoadTheSame() throws {
        try writeMNISTFolder(folder + "/zlib", gzipped: true)
        // The same files compressed by gzip(1), to check interoperability with the real tool.
        try writeMNISTFolder(folder + "/tool")
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
        gzip.arguments = ["-n", "-9"] + Datasets.idxNames.map { folder + "/tool/" + $0 }
        try gzip.run()
        gzip.waitUntilExit()
        XCTAssertEqual(gzip.terminationStatus, 0)
        XCTAssertNil(DataFile.find("train-images-idx3-ubyte", in: folder + "/tool").flatMap { $0.hasSuffix(".gz") ? nil : $0 })

        for dir in ["zlib", "tool"] {
            let splits = try Datasets.load(path: folder + "/" + dir)
            XCTAssertEqual(splits.train.pixels, ramp(30), dir)
            XCTAssertEqual(splits.test.labels, [9, 2, 6], dir)
        }
    }

    func testMNISTByNameReadsDataRootAndKeepsTheFirstImages() throws {
        // Mixed: images gzipped, labels plain.
        let dir = folder + "/mnist"
        try write(try Gzip.compress(idx3(count: 5, rows: 3, cols: 2, pixels: ramp(30))), "train-images-idx3-ubyte.gz", in: dir)
        try write(idx1([3, 1, 4, 1, 5]), "train-labels-idx1-ubyte", in: dir)
        try write(try Gzip.compress(idx3(count: 3, rows: 3, cols: 2, pixels: ramp(18))), "t10k-images-idx3-ubyte.gz", in: dir)
        try write(idx1([9, 2, 6]), "t10k-labels-idx1-ubyte", in: dir)

        let splits = try Datasets.load("MNIST", trainLimit: 2, testLimit: 1, dataRoot: folder)
        XCTAssertEqual(splits.train.labels, [3, 1])
        XCTAssertEqual(splits.train.pixels, ramp(12))
        XCTAssertEqual(splits.test.labels, [9])
        XCTAssertEqual(splits.train.name, "mnist train")
        let all = try Datasets.load(name: "mnist", trainLimit: 100, dataRoot: folder)
        XCTAssertEqual(all.train.count, 5)
        assertMessage(errorMessage { try Datasets.load(name: "mnist", trainLimit: -1, dataRoot: folder) }, contains: ["-1"])
    }

    func testMissingDatasetsSayWhatWasLookedForAndHowToGetThem() throws {
        let mnist = errorMessage { try Datasets.load(name: "mnist", dataRoot: folder) }
        assertMessage(mnist, contains: [folder + "/mnist", "train-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "scripts/setup/prepare-mnist.sh"])
        let cifar = errorMessage { try Datasets.load(name: "cifar10", dataRoot: folder) }
        assertMessage(cifar, contains: [folder + "/cifar-10-batches-bin", "data_batch_1.bin", "test_batch.bin"])
        let unknown = errorMessage { try Datasets.load("no-such-set") }
        assertMessage(unknown, contains: ["no-such-set", "fashion-mnist", "mnist", "cifar10"])
        let empty = errorMessage { try Datasets.load(path: folder) }
        assertMessage(empty, contains: [folder, "neither", "train-images-idx3-ubyte", "data_batch_1.bin"])
        try write(idx1([1]), "train-labels-idx1-ubyte")
        let partial = errorMessage { try Datasets.load(path: folder) }
        assertMessage(partial, contains: ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"])
    }

    func testTruncatedImagesFileNamesTheFileAndTheSizes() throws {
        let path = try write(idx3(count: 5, rows: 3, cols: 2, pixels: ramp(20)), "train-images-idx3-ubyte")
        let m = errorMessage { try IDXFile.readImages(path) }
        assertMessage(m, contains: [path, "truncated", "header says 5 images of 3x2 (30 bytes) but only 20 follow"])
        let short = try write([0, 0, 8, 3, 0, 0], "short")
        assertMessage(errorMessage { try IDXFile.readImages(short) }, contains: [short, "truncated"])
        let labels = try write(idx1([1, 2], count: 3), "labels")
        assertMessage(errorMessage { try IDXFile.readLabels(labels) }, contains: [labels, "truncated", "3 labels but only 2"])
    }

    func testExtraBytesAfterTheDataAreRejected() throws {
        let path = try write(idx3(count: 1, rows: 2, cols: 2, pixels: ramp(5)), "images")
        assertMessage(errorMessage { try IDXFile.readImages(path) }, contains: [path, "1 unexpected bytes"])
    }

    func testWrongMagicIsRejected() throws {
        let labels = try write(idx1([1, 2]), "train-images-idx3-ubyte")
        let m = errorMessage { try IDXFile.readImages(labels) }
        assertMessage(m, contains: [labels, "magic number 0x00000801", "idx1 label file", "expected 0x00000803"])
        let junk = try write(Array("hello, world".utf8), "junk")
        assertMessage(errorMessage { try IDXFile.readLabels(junk) }, contains: [junk, "not an idx1 label file"])
        let floats = try write(idx3(count: 1, rows: 1, cols: 1, pixels: [0], magic: 0x0D03), "floats")
        assertMessage(errorMessage { try IDXFile.readImages(floats) }, contains: [floats, "0x00000d03"])
    }

    func testImageAndLabelCountsMustAgree() throws {
        try writeMNISTFolder(folder)
        let labels = try write(idx1([1, 2, 3, 4]), "train-labels-idx1-ubyte")
        let m = errorMessage { try Datasets.load(path: self.folder) }
        assertMessage(m, contains: [folder + "/train-images-idx3-ubyte", "5 images", labels, "4 labels"])
    }

    func testLabelsOutsideTheTenClassesAreRejected() throws {
        try writeMNISTFolder(folder)
        let labels = try write(idx1([1, 2, 10, 4, 5]), "train-labels-idx1-ubyte")
        assertMessage(errorMessage { try Datasets.load(path: self.folder) }, contains: [labels, "label 10", "image 3"])
    }

    func testGarbledAndTruncatedGzipAreRejectedNamingTheFile() throws {
        var gz = try Gzip.compress(idx3(count: 20, rows: 5, cols: 5, pixels: ramp(500)))
        let cut = try write(Array(gz.prefix(gz.count / 2)), "cut.gz")
        assertMessage(errorMessage { try IDXFile.readImages(cut) }, contains: [cut, "truncated gzip"])
        for i in 12..<(gz.count - 8) { gz[i] ^= 0x5a }
        let garbled = try write(gz, "garbled.gz")
        assertMessage(errorMessage { try IDXFile.readImages(garbled) }, contains: [garbled, "garbled gzip"])
        // A good stream whose CRC in the trailer is wrong.
        var badCRC = try Gzip.compress(idx1([1, 2, 3]))
        badCRC[badCRC.count - 8] ^= 0xff
        let crc = try write(badCRC, "crc.gz")
        assertMessage(errorMessage { try IDXFile.readLabels(crc) }, contains: [crc, "garbled gzip", "check"])
    }

    /// A gzip bomb: 40 MB of zeros (40 KB compressed) behind an IDX header that announces two
    /// 2x2 images. Decompression stops at the announced size, without taking the 40 MB.
    func testGzipBombsStopAtTheSizeTheHeaderAnnounces() throws {
        let bomb = try write(try Gzip.compress(idx3(count: 2, rows: 2, cols: 2, pixels: [UInt8](repeating: 0, count: 40_000_000))), "bomb.gz")
        assertMessage(errorMessage { try IDXFile.readImages(bomb) }, contains: [bomb, "decompresses to more than the 24 bytes its idx3 image header announces (2x2x2)"])
        let labels = try write(try Gzip.compress(idx1([1, 2, 3]) + [7]), "labels.gz")
        assertMessage(errorMessage { try IDXFile.readLabels(labels) }, contains: [labels, "more than the 11 bytes its idx1 label header announces"])
        // A stream of zeros has no IDX magic: said from its first bytes, before the rest is inflated.
        let zeros = try write(try Gzip.compress([UInt8](repeating: 0, count: 1_000_000)), "zeros.gz")
        assertMessage(errorMessage { try IDXFile.readImages(zeros) }, contains: [zeros, "not an idx3 image file"])
        // Exactly the announced size is fine; a limit is a limit for any caller.
        let exact = idx3(count: 3, rows: 2, cols: 2, pixels: ramp(12))
        XCTAssertEqual(try Gzip.decompress(try Gzip.compress(exact), file: "x", limit: Gzip.Limit(exact.count, "")), exact)
        assertMessage(errorMessage { try Gzip.decompress(try Gzip.compress(exact), file: "x", limit: Gzip.Limit(27, "27 bytes")) },
                      contains: ["x: the gzip data decompresses to more than 27 bytes"])
        XCTAssertEqual(CIFAR10File.maxBatch.bytes, 60_000 * 3073)
    }

    func testGzipRoundTripAndConcatenatedMembers() throws {
        let a = ramp(100_000), b = Array("second member".utf8)
        XCTAssertEqual(try Gzip.decompress(try Gzip.compress(a), file: "a"), a)
        XCTAssertEqual(try Gzip.decompress(try Gzip.compress(a) + (try Gzip.compress(b)), file: "ab"), a + b)
        XCTAssertEqual(try Gzip.decompressIfNeeded(b, file: "plain"), b)
        XCTAssertEqual(try Gzip.decompress(try Gzip.compress([]), file: "empty"), [])
    }

    // MARK: - CIFAR-10

    /// A batch of `labels.count` records: label byte, then 3072 pixels starting at `seed`.
    private func cifarBatch(_ labels: [UInt8], seed: Int) -> [UInt8] {
        labels.enumerated().flatMap { i, l in [l] + ramp(3072, from: seed + 7 * i) }
    }

    private func writeCIFARFolder(_ dir: String) throws {
        for b in 1...5 { try write(cifarBatch([UInt8(b), UInt8(b + 4)], seed: b), "data_batch_\(b).bin", in: dir) }
        try write(cifarBatch([7], seed: 99), "test_batch.bin", in: dir)
    }

    func testCIFARBatchesLoadInOrderWithCHWPixels() throws {
        try writeCIFARFolder(folder + "/cifar-10-batches-bin")
        let byName = try Datasets.load(name: "cifar-10", dataRoot: folder)
        let byPath = try Datasets.load(folder + "/cifar-10-batches-bin")
        for s in [byName, byPath] {
            XCTAssertEqual(s.train.count, 10)
            XCTAssertEqual(s.test.count, 1)
            XCTAssertEqual(s.train.labels, [1, 5, 2, 6, 3, 7, 4, 8, 5, 9])
            XCTAssertEqual([s.train.channels, s.train.height, s.train.width], [3, 32, 32])
            XCTAssertEqual(Array(s.train.pixels[0..<3072]), ramp(3072, from: 1))
            XCTAssertEqual(Array(s.train.pixels[(3 * 3072)..<(4 * 3072)]), ramp(3072, from: 2 + 7))
            XCTAssertEqual(s.test.pixels, ramp(3072, from: 99))
        }
    }

    func testBrokenCIFARBatchesAreRejected() throws {
        let dir = folder + "/cifar"
        try writeCIFARFolder(dir)
        let batch3 = try write(Array(cifarBatch([1, 2], seed: 0).dropLast(100)), "data_batch_3.bin", in: dir)
        assertMessage(errorMessage { try Datasets.load(path: dir) }, contains: [batch3, "3073-byte records", "1 whole records"])
        let test = try write(cifarBatch([3, 12], seed: 0), "test_batch.bin", in: dir)
        try write(cifarBatch([1], seed: 0), "data_batch_3.bin", in: dir)
        assertMessage(errorMessage { try Datasets.load(path: dir) }, contains: [test, "record 2", "label 12"])
        try FileManager.default.removeItem(atPath: dir + "/data_batch_5.bin")
        assertMessage(errorMessage { try Datasets.load(path: dir) }, contains: [dir, "data_batch_5.bin"])
    }

    // MARK: - The real Fashion-MNIST (Debian's dataset-fashion-mnist), when installed

    func testInstalledFashionMNISTLoads() throws {
        guard Datasets.missingIDXFiles(in: Datasets.debianFashionMNISTFolder).isEmpty else {
            throw XCTSkip("dataset-fashion-mnist is not installed")
        }
        let splits = try Datasets.load(name: "fashion-mnist", testLimit: 100, dataRoot: folder)
        XCTAssertEqual(splits.train.count, 60_000)
        XCTAssertEqual(splits.test.count, 100)
        XCTAssertEqual([splits.train.height, splits.train.width], [28, 28])
        var perClass = [Int](repeating: 0, count: 10)
        for l in splits.train.labels { perClass[Int(l)] += 1 }
        XCTAssertEqual(perClass, [Int](repeating: 6000, count: 10))
    }
}
