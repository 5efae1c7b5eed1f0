import CZlib

/// gzip helpers for the fuzzer: building streams piece by piece (bombs), and reading the
/// first bytes of a stream without inflating all of it.
public enum FuzzGzip {
    static let header: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]

    /// Raw deflate of `bytes` ended by a full flush (byte-aligned, history reset, not final),
    /// or by the final block when `final`. Pieces made this way concatenate into one stream.
    static func rawDeflate(_ bytes: [UInt8], final: Bool) -> [UInt8] {
        (try? Gzip.deflate(bytes, level: 9, windowBits: -15, flush: final ? Z_FINISH : Z_FULL_FLUSH)) ?? []
    }

    static func crc(_ bytes: [UInt8], _ start: UInt = 0) -> UInt {
        bytes.withUnsafeBufferPointer { UInt(crc32(uLong(start), $0.baseAddress, uInt($0.count))) }
    }

    static func littleEndian32(_ v: UInt64) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

    /// A gzip member holding `prefix` followed by `zeros` zero bytes, built from repeated
    /// deflate pieces of 1 MiB of zeros (about 1 KB each), so a 3 GB bomb costs 3 MB and
    /// milliseconds. `isize` overrides the trailer's size (mod 2^32) when given.
    public static func bomb(prefix: [UInt8], zeros: Int, isize: UInt64? = nil) -> [UInt8] {
        let mib = 1 << 20
        let piece = rawDeflate([UInt8](repeating: 0, count: mib), final: false)
        let pieceCRC = crc([UInt8](repeating: 0, count: mib))
        var out = header + rawDeflate(prefix, final: false)
        var check = crc(prefix)
        let whole = zeros / mib, rest = zeros % mib
        out.reserveCapacity(out.count + whole * piece.count + 64)
        for _ in 0..<whole {
            out += piece
            check = UInt(crc32_combine(uLong(check), uLong(pieceCRC), Int(mib)))
        }
        if rest > 0 {
            let tail = [UInt8](repeating: 0, count: rest)
            out += rawDeflate(tail, final: false)
            check = crc(tail, check)
        }
        out += rawDeflate([], final: true)
        out += littleEndian32(UInt64(check))
        out += littleEndian32(isize ?? UInt64(prefix.count + zeros))
        return out
    }

    /// Up to `limit` bytes of the decompressed stream (fewer if it ends or is garbled first).
    public static func prefix(of bytes: [UInt8], limit: Int) -> [UInt8] {
        guard !bytes.isEmpty else { return [] }
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return [] }
        defer { inflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: limit)
        var input = bytes
        let produced: Int = input.withUnsafeMutableBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                stream.next_in = i.baseAddress!
                stream.avail_in = UInt32(clamping: i.count)
                stream.next_out = o.baseAddress!
                stream.avail_out = UInt32(o.count)
                while stream.avail_out > 0 {
                    let s = inflate(&stream, Z_SYNC_FLUSH)
                    if s != Z_OK { break }
                }
                return o.count - Int(stream.avail_out)
            }
        }
        return Array(out[0..<produced])
    }
}
