import CZlib

/// gzip streams in memory, through zlib: detection by the 1f 8b magic, inflation with
/// gzip/zlib header auto-detection (windowBits 15 + 32) and CRC check, and deflation for
/// writers and tests.
public enum Gzip {
    /// True when `bytes` start with the gzip magic 1f 8b.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    /// What a stream may decompress to: at most `bytes`, and `reason` says why (for errors:
    /// "the 47,040,016 bytes its IDX header announces").
    public struct Limit {
        public let bytes: Int
        public let reason: String
        public init(_ bytes: Int, _ reason: String) { self.bytes = bytes; self.reason = reason }
        /// The default for data of unknown size: 2 GiB.
        public static let `default` = Limit(1 << 31, "2 GiB, the limit for a gzip file of unknown size")
    }

    /// The bytes themselves, or their decompression (at most `limit`) when they are gzip data.
    /// `file` names the source in error messages.
    public static func decompressIfNeeded(_ bytes: [UInt8], file: String, limit: Limit = .default) throws -> [UInt8] {
        isGzip(bytes) ? try decompress(bytes, file: file, limit: limit) : bytes
    }

    /// The first `count` decompressed bytes of a gzip stream (fewer if it is shorter), for
    /// reading a header that says how large the whole is.
    public static func decompressPrefix(_ bytes: [UInt8], count: Int, file: String) throws -> [UInt8] {
        try decompress(bytes, file: file, limit: Limit(count, ""), stopAtLimit: true)
    }

    /// Inflates a gzip (or zlib) stream, including concatenated gzip members, to at most
    /// `limit.bytes` bytes: a stream that decompresses to more (a "gzip bomb", or trailing
    /// data) is refused before more memory than the limit is taken.
    /// Throws when the stream is garbled (bad header, bad deflate data, CRC mismatch)
    /// or ends early.
    public static func decompress(_ bytes: [UInt8], file: String, limit: Limit = .default) throws -> [UInt8] {
        try decompress(bytes, file: file, limit: limit, stopAtLimit: false)
    }

    private static func decompress(_ bytes: [UInt8], file: String, limit: Limit, stopAtLimit: Bool) throws -> [UInt8] {
        guard !bytes.isEmpty else { throw EngineError("\(file): empty gzip data") }
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw EngineError("\(file): zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }

        guard bytes.count <= Int(UInt32.max) else { throw EngineError("\(file): gzip data over 4 GiB is not supported") }
        // The gzip trailer holds the uncompressed size mod 2^32: a good first guess.
        // One byte of room beyond the limit tells "exactly the limit" from "more".
        let capacity = limit.bytes + (stopAtLimit ? 0 : 1)
        var out = [UInt8](repeating: 0, count: Swift.max(1, Swift.min(initialCapacity(bytes), capacity)))
        var produced = 0
        try bytes.withUnsafeBufferPointer { input in
            let base = UnsafeMutablePointer(mutating: input.baseAddress!)
            stream.next_in = base
            stream.avail_in = UInt32(input.count)
            while true {
                if produced >= capacity {
                    if stopAtLimit { return }
                    throw EngineError("\(file): the gzip data decompresses to more than \(limit.reason)")
                }
                if produced == out.count {
                    out.append(contentsOf: repeatElement(0, count: Swift.min(out.count, capacity - out.count)))
                }
                let status: Int32 = out.withUnsafeMutableBufferPointer { o in
                    let room = UInt32(clamping: o.count - produced)
                    stream.next_out = o.baseAddress! + produced
                    stream.avail_out = room
                    let s = inflate(&stream, Z_NO_FLUSH)
                    produced += Int(room - stream.avail_out)
                    return s
                }
                let consumed = stream.next_in - base
                switch status {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    // Another gzip member may follow (as `cat a.gz b.gz` makes); trailing
                    // zero padding is tolerated as gzip(1) does.
                    let rest = input[consumed...]
                    if rest.allSatisfy({ $0 == 0 }) { return }
                    guard inflateReset(&stream) == Z_OK else { throw EngineError("\(file): zlib could not restart inflating") }
                case Z_BUF_ERROR:
                    // The output always has room here, so zlib wants input that is not there.
                    throw EngineError("\(file): truncated gzip data: the compressed stream ends early (\(input.count) bytes read, \(produced) bytes decompressed)")
                default:
                    let reason = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw EngineError("\(file): garbled gzip data: \(reason)")
                }
            }
        }
        if !stopAtLimit && produced > limit.bytes {
            throw EngineError("\(file): the gzip data decompresses to more than \(limit.reason)")
        }
        out.removeSubrange(Swift.min(produced, out.count)...)
        return out
    }

    /// gzip-compresses `bytes` (deflate level `level`, 0-9).
    public static func compress(_ bytes: [UInt8], level: Int32 = Z_DEFAULT_COMPRESSION) throws -> [UInt8] {
        try deflate(bytes, level: level, windowBits: 15 + 16, flush: Z_FINISH)
    }

    /// One call of zlib's deflate over all of `bytes`: `windowBits` 15 + 16 writes a gzip
    /// member, -15 raw deflate; `flush` Z_FINISH ends the stream, Z_FULL_FLUSH ends a piece
    /// that another can follow (the fuzzer's bombs are built so).
    static func deflate(_ bytes: [UInt8], level: Int32, windowBits: Int32, flush: Int32) throws -> [UInt8] {
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY,
                            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw EngineError("gzip: zlib could not start deflating")
        }
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
        var input = bytes
        let status: Int32 = input.withUnsafeMutableBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                stream.next_in = i.baseAddress ?? UnsafeMutablePointer<UInt8>(bitPattern: 1)
                stream.avail_in = UInt32(i.count)
                stream.next_out = o.baseAddress!
                stream.avail_out = UInt32(o.count)
                return CZlib.deflate(&stream, flush)
            }
        }
        guard status == (flush == Z_FINISH ? Z_STREAM_END : Z_OK) else { throw EngineError("gzip: deflate failed (zlib status \(status))") }
        out.removeSubrange(Int(stream.total_out)...)
        return out
    }

    /// The size recorded in a gzip trailer (ISIZE), bounded to stay sane for garbled input.
    private static func initialCapacity(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        guard n >= 18 else { return 1 << 16 }
        let isize = Int(bytes[n - 4]) | Int(bytes[n - 3]) << 8 | Int(bytes[n - 2]) << 16 | Int(bytes[n - 1]) << 24
        return Swift.min(Swift.max(isize, 1 << 16), Swift.max(n * 64, 1 << 16))
    }
}
