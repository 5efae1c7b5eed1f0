import Foundation

/// Whole-file reads for dataset files, with errors that say which file and why, and
/// transparent gzip decompression.
public enum DataFile {
    /// The file's bytes, decompressed when the file is gzip data. A gzip stream may grow to
    /// at most the size its format's header states: `limit` gets the first `headerLength`
    /// decompressed bytes (fewer when the stream is shorter) and returns that size.
    public static func read(_ path: String, headerLength: Int = 0, limit: ([UInt8]) throws -> Gzip.Limit) throws -> [UInt8] {
        let raw = try readRaw(path)
        guard Gzip.isGzip(raw) else { return raw }
        let header = headerLength == 0 ? [] : try Gzip.decompressPrefix(raw, count: headerLength, file: path)
        return try Gzip.decompress(raw, file: path, limit: limit(header))
    }

    /// The file's bytes as stored.
    public static func readRaw(_ path: String) throws -> [UInt8] {
        try FileBytes.read(path, kind: "a data file")
    }

    /// The first of `name`, `name.gz` that exists in `folder`, or nil.
    public static func find(_ name: String, in folder: String) -> String? {
        for candidate in [name, name + ".gz"] {
            let path = join(folder, candidate)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return path
            }
        }
        return nil
    }

    /// `folder/name` without doubling the slash.
    public static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    /// True when `path` is an existing folder.
    public static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
