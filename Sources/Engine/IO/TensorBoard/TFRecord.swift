/// The TFRecord framing of TensorBoard event files. One record is
///
///     uint64 length            (little-endian: the number of data bytes)
///     uint32 masked_crc(length) (CRC32C.masked of the 8 length bytes, little-endian)
///     data[length]
///     uint32 masked_crc(data)
///
/// so a record is 16 bytes longer than its data.
public enum TFRecord {
    /// The framed record of `data`.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(data.count + 16)
        let length = littleEndian(UInt64(data.count))
        out += length
        out += littleEndian(CRC32C.masked(CRC32C.checksum(length)))
        out += data
        out += littleEndian(CRC32C.masked(CRC32C.checksum(data)))
        return out
    }

    /// The records of `bytes`, each checked against its two CRCs; throws at the first record
    /// that is cut short or whose CRC does not match (naming its byte offset).
    public static func records(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var records = [[UInt8]](), at = 0
        while at < bytes.count {
            guard bytes.count - at >= 12 else { throw EngineError("TFRecord: record at byte \(at) is cut short (header)") }
            let lengthBytes = Array(bytes[at..<at + 8])
            let length = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            guard readUInt32(bytes, at + 8) == CRC32C.masked(CRC32C.checksum(lengthBytes)) else {
                throw EngineError("TFRecord: the length CRC of the record at byte \(at) does not match")
            }
            guard length <= UInt64(bytes.count - at - 16) else { throw EngineError("TFRecord: record at byte \(at) is cut short (data)") }
            let start = at + 12, end = start + Int(length)
            let data = Array(bytes[start..<end])
            guard readUInt32(bytes, end) == CRC32C.masked(CRC32C.checksum(data)) else {
                throw EngineError("TFRecord: the data CRC of the record at byte \(at) does not match")
            }
            records.append(data)
            at = end + 4
        }
        return records
    }

    static func readUInt32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    static func littleEndian<T: FixedWidthInteger>(_ v: T) -> [UInt8] { ProtobufWriter.littleEndian(v) }
}
