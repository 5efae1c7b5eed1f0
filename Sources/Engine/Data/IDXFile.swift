import Foundation

/// MNIST's IDX format, as LeCun published it: a big-endian header, then unsigned bytes.
///
///     images (idx3): 00 00 08 03 | count | rows | cols | count·rows·cols pixel bytes
///     labels (idx1): 00 00 08 01 | count | count label bytes
///
/// Files may be gzipped (detected by the 1f 8b magic). Every check names the file and what
/// is wrong, because these files come from users and downloads that break halfway.
public enum IDXFile {
    public static let imagesMagic: UInt32 = 0x0000_0803
    public static let labelsMagic: UInt32 = 0x0000_0801

    /// Images of an idx3 file: `count` images of `rows`×`cols` bytes, image-major.
    public struct Images {
        public let count: Int
        public let rows: Int
        public let cols: Int
        public let pixels: [UInt8]
    }

    /// Reads an idx3 image file (plain or gzipped: decompressed to at most the size its header states).
    public static func readImages(_ path: String) throws -> Images {
        let bytes = try DataFile.read(path, headerLength: 16) { try sizeLimit($0, magic: imagesMagic, kind: "idx3 image", file: path) }
        return try parseImages(bytes, file: path)
    }

    /// Reads an idx1 label file (plain or gzipped: decompressed to at most the size its header states).
    public static func readLabels(_ path: String) throws -> [UInt8] {
        let bytes = try DataFile.read(path, headerLength: 8) { try sizeLimit($0, magic: labelsMagic, kind: "idx1 label", file: path) }
        return try parseLabels(bytes, file: path)
    }

    /// The whole file's size as its (decompressed) header states it: the header and the
    /// product of the dimensions. A header that is short or of the wrong kind is an error here,
    /// before the rest is decompressed.
    static func sizeLimit(_ header: [UInt8], magic: UInt32, kind: String, file: String) throws -> Gzip.Limit {
        try checkMagic(header, expected: magic, kind: kind, file: file)
        let dimensions = Int(magic & 0xff), headerLength = 4 + 4 * dimensions
        guard header.count >= headerLength else {
            throw EngineError("\(file): truncated: an \(kind) header is \(headerLength) bytes, the gzip data decompresses to \(header.count)")
        }
        let dims = (0..<dimensions).map { Int(bigEndian32(header, 4 + 4 * $0)) }
        var product = 1
        for d in dims {
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard !overflow else { throw EngineError("\(file): header says \(dims.map(String.init).joined(separator: "x")), an impossible size") }
            product = p
        }
        let (size, overflow) = product.addingReportingOverflow(headerLength)
        guard !overflow else { throw EngineError("\(file): header says \(dims.map(String.init).joined(separator: "x")), an impossible size") }
        return Gzip.Limit(size, "the \(size) bytes its \(kind) header announces (\(dims.map(String.init).joined(separator: "x")))")
    }

    /// Parses decompressed idx3 bytes; `file` names the source in errors.
    public static func parseImages(_ bytes: [UInt8], file: String) throws -> Images {
        try checkMagic(bytes, expected: imagesMagic, kind: "idx3 image", file: file)
        guard bytes.count >= 16 else {
            throw EngineError("\(file): truncated: an idx3 header is 16 bytes, the file has \(bytes.count)")
        }
        let count = Int(bigEndian32(bytes, 4)), rows = Int(bigEndian32(bytes, 8)), cols = Int(bigEndian32(bytes, 12))
        guard rows > 0, cols > 0 else {
            throw EngineError("\(file): header says images of \(rows)x\(cols): both sides must be positive")
        }
        let (imageSize, overflow1) = rows.multipliedReportingOverflow(by: cols)
        let (expected, overflow2) = count.multipliedReportingOverflow(by: imageSize)
        guard !overflow1, !overflow2 else { throw EngineError("\(file): header says \(count) images of \(rows)x\(cols), an impossible size") }
        let available = bytes.count - 16
        if available < expected {
            throw EngineError("\(file): truncated: header says \(count) images of \(rows)x\(cols) (\(expected) bytes) but only \(available) follow")
        }
        if available > expected {
            throw EngineError("\(file): \(available - expected) unexpected bytes after the data: header says \(count) images of \(rows)x\(cols) (\(expected) bytes) but \(available) follow")
        }
        return Images(count: count, rows: rows, cols: cols, pixels: Array(bytes[16...]))
    }

    /// Parses decompressed idx1 bytes; `file` names the source in errors.
    public static func parseLabels(_ bytes: [UInt8], file: String) throws -> [UInt8] {
        try checkMagic(bytes, expected: labelsMagic, kind: "idx1 label", file: file)
        guard bytes.count >= 8 else {
            throw EngineError("\(file): truncated: an idx1 header is 8 bytes, the file has \(bytes.count)")
        }
        let count = Int(bigEndian32(bytes, 4))
        let available = bytes.count - 8
        if available < count {
            throw EngineError("\(file): truncated: header says \(count) labels but only \(available) follow")
        }
        if available > count {
            throw EngineError("\(file): \(available - count) unexpected bytes after the data: header says \(count) labels but \(available) follow")
        }
        return Array(bytes[8...])
    }

    /// Images and labels of one split as a `Dataset`, checking that the counts agree and
    /// that every label is a class in 0..<classes.
    public static func loadDataset(name: String, images imagesPath: String, labels labelsPath: String,
                                   classes: Int = 10) throws -> Dataset {
        let images = try readImages(imagesPath)
        let labels = try readLabels(labelsPath)
        guard images.count == labels.count else {
            throw EngineError("\(imagesPath) has \(images.count) images but \(labelsPath) has \(labels.count) labels: they must be the same count")
        }
        if let i = labels.firstIndex(where: { Int($0) >= classes }) {
            throw EngineError("\(labelsPath): label \(labels[i]) of image \(i + 1) is outside the classes 0..\(classes - 1)")
        }
        return try Dataset(name: name, pixels: images.pixels, labels: labels.map { Int32($0) },
                           channels: 1, height: images.rows, width: images.cols, classes: classes)
    }

    private static func checkMagic(_ bytes: [UInt8], expected: UInt32, kind: String, file: String) throws {
        guard bytes.count >= 4 else {
            throw EngineError("\(file): truncated: \(bytes.count) bytes, too short for an \(kind) file")
        }
        let magic = bigEndian32(bytes, 0)
        guard magic == expected else {
            let hex = { (v: UInt32) in "0x" + String(format: "%08x", v) }
            var hint = ""
            if magic == imagesMagic { hint = " (that is an idx3 image file)" }
            if magic == labelsMagic { hint = " (that is an idx1 label file)" }
            throw EngineError("\(file): not an \(kind) file: magic number \(hex(magic))\(hint), expected \(hex(expected))")
        }
    }

    @inline(__always)
    static func bigEndian32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }
}
