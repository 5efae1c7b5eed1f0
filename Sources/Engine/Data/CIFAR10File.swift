import Foundation

/// CIFAR-10's binary batches (the "binary version" from the CIFAR site): records of
/// 1 label byte (0-9) followed by 3072 pixel bytes, 1024 red, 1024 green, 1024 blue, each
/// plane 32x32 row-major, i.e. CHW. A full batch holds 10,000 records; any whole number
/// of records is accepted.
public enum CIFAR10File {
    public static let channels = 3, height = 32, width = 32, classes = 10
    public static let imageSize = channels * height * width
    public static let recordSize = 1 + imageSize
    public static let trainBatches = (1...5).map { "data_batch_\($0).bin" }
    public static let testBatch = "test_batch.bin"
    /// A gzipped batch decompresses to at most 60,000 records: all of CIFAR-10 in one file.
    public static let maxBatch = Gzip.Limit(60_000 * recordSize, "60,000 CIFAR-10 records (\(60_000 * recordSize) bytes), all of CIFAR-10 in one batch")

    /// Pixels (N·3·32·32, CHW per image) and labels of one batch file (plain or gzipped).
    public static func readBatch(_ path: String) throws -> (pixels: [UInt8], labels: [Int32]) {
        try parseBatch(try DataFile.read(path, limit: { _ in maxBatch }), file: path)
    }

    /// Splits the records of a batch; `file` names the source in errors.
    public static func parseBatch(_ bytes: [UInt8], file: String) throws -> (pixels: [UInt8], labels: [Int32]) {
        guard !bytes.isEmpty else { throw EngineError("\(file): empty: a CIFAR-10 batch holds records of \(recordSize) bytes") }
        guard bytes.count % recordSize == 0 else {
            throw EngineError("\(file): truncated or not a CIFAR-10 batch: \(bytes.count) bytes is not a whole number of \(recordSize)-byte records (1 label + 3x32x32 pixels); \(bytes.count / recordSize) whole records and \(bytes.count % recordSize) bytes left over")
        }
        let n = bytes.count / recordSize
        var pixels = [UInt8](repeating: 0, count: n * imageSize)
        var labels = [Int32](repeating: 0, count: n)
        try bytes.withUnsafeBufferPointer { src in
            try pixels.withUnsafeMutableBufferPointer { dst in
                for r in 0..<n {
                    let record = src.baseAddress! + r * recordSize
                    guard Int(record[0]) < classes else {
                        throw EngineError("\(file): record \(r + 1) has label \(record[0]), outside the classes 0..\(classes - 1): not a CIFAR-10 batch (CIFAR-100 has 2 label bytes)")
                    }
                    labels[r] = Int32(record[0])
                    (dst.baseAddress! + r * imageSize).update(from: record + 1, count: imageSize)
                }
            }
        }
        return (pixels, labels)
    }

    /// The batches `files` (in order) as one `Dataset`.
    public static func loadDataset(name: String, batches files: [String]) throws -> Dataset {
        var pixels = [UInt8](), labels = [Int32]()
        for f in files {
            let batch = try readBatch(f)
            pixels.append(contentsOf: batch.pixels)
            labels.append(contentsOf: batch.labels)
        }
        return try Dataset(name: name, pixels: pixels, labels: labels,
                           channels: channels, height: height, width: width, classes: classes)
    }
}
