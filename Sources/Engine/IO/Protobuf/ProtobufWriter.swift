/// One protobuf message being written by hand, field by field (the wire format; no protoc).
///
/// Each field is a key varint (field number << 3 | wire type), then its value. Wire types:
/// 0 varint (integers and enums; a negative int64 as its two's complement, 10 bytes),
/// 1 fixed 64-bit (double, little-endian IEEE), 2 length-delimited (strings, bytes, embedded
/// messages and packed repeated scalars: a varint byte count, then the bytes), 5 fixed 32-bit
/// (float). Fields are written in the order called; repeated fields are called once per value
/// (or packed, `packedInt64`).
public struct ProtobufWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func key(_ field: Int, wireType: Int) { Self.appendVarint(UInt64(field << 3 | wireType), to: &bytes) }

    /// An unsigned varint field (uint64, or a non-negative int32/int64, bool, enum).
    public mutating func varint(_ field: Int, _ v: UInt64) {
        key(field, wireType: 0)
        Self.appendVarint(v, to: &bytes)
    }

    /// A signed int64 or int32 field (two's complement, as protobuf's `int64`).
    public mutating func int64(_ field: Int, _ v: Int64) { varint(field, UInt64(bitPattern: v)) }

    public mutating func double(_ field: Int, _ d: Double) {
        key(field, wireType: 1)
        bytes += Self.littleEndian(d.bitPattern)
    }

    public mutating func float(_ field: Int, _ f: Float) {
        key(field, wireType: 5)
        bytes += Self.littleEndian(f.bitPattern)
    }

    /// A length-delimited field: raw bytes, or an embedded message's bytes.
    public mutating func bytes<C: Collection>(_ field: Int, _ b: C) where C.Element == UInt8 {
        key(field, wireType: 2)
        Self.appendVarint(UInt64(b.count), to: &bytes)
        bytes.append(contentsOf: b)
    }

    public mutating func string(_ field: Int, _ s: String) { bytes(field, Array(s.utf8)) }

    public mutating func message(_ field: Int, _ m: ProtobufWriter) { bytes(field, m.bytes) }

    /// A packed repeated int64 field: one length-delimited field holding the varints.
    public mutating func packedInt64(_ field: Int, _ values: [Int64]) {
        var payload = [UInt8]()
        for v in values { Self.appendVarint(UInt64(bitPattern: v), to: &payload) }
        bytes(field, payload)
    }

    /// Float values as little-endian IEEE bytes (a length-delimited field: raw tensor data).
    public mutating func rawFloats(_ field: Int, _ p: UnsafePointer<Float>, count: Int) {
        key(field, wireType: 2)
        Self.appendVarint(UInt64(count * 4), to: &bytes)
        bytes.reserveCapacity(bytes.count + count * 4)
        UnsafeRawBufferPointer(start: UnsafeRawPointer(p), count: count * 4).withMemoryRebound(to: UInt8.self) { raw in
            // The engine's platforms are little-endian, as protobuf's fixed-width values.
            bytes.append(contentsOf: raw)
        }
    }

    public static func varint(_ v: UInt64) -> [UInt8] {
        var out = [UInt8]()
        appendVarint(v, to: &out)
        return out
    }

    /// Seven bits at a time, least significant first, the high bit set on all but the last.
    static func appendVarint(_ v: UInt64, to out: inout [UInt8]) {
        var v = v
        repeat {
            let low = UInt8(v & 0x7F)
            v >>= 7
            out.append(v == 0 ? low : low | 0x80)
        } while v != 0
    }

    /// The integer's bytes, least significant first.
    static func littleEndian<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
    }
}
