/// The two protobuf messages of a TensorBoard scalar log, encoded by hand (TensorFlow's
/// `event.proto` and `summary.proto`; only the fields written here):
///
///     message Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
///     message Summary { repeated Value value = 1; }
///     message Value   { string tag = 1; float simple_value = 2; }
///
/// Protobuf's wire format: each field is a key varint (field number << 3 | wire type), then
/// its value. Wire types used: 0 varint (step: int64 as its two's complement, 10 bytes when
/// negative), 1 fixed 64-bit (wall_time, little-endian IEEE double), 2 length-delimited
/// (strings and embedded messages: a varint byte count, then the bytes), 5 fixed 32-bit
/// (simple_value, little-endian IEEE float). So the keys are 0x09 wall_time, 0x10 step,
/// 0x1A file_version, 0x2A summary; in Summary 0x0A value; in Value 0x0A tag, 0x15
/// simple_value. E.g. the scalar ("a", 1.0) at step 3, wall time 0:
/// `09 00×8  10 03  2A 0A  0A 08  0A 01 61  15 00 00 80 3F` (Event: wall_time, step,
/// summary of 10 bytes; Summary: value of 8 bytes; Value: tag "a", simple_value 1.0f).
public enum EventProtobuf {
    /// The first event of every file: `file_version = "brain.Event:2"`.
    public static func fileVersion(wallTime: Double) -> [UInt8] {
        var e = double(field: 1, wallTime)
        e += bytes(field: 3, Array("brain.Event:2".utf8))
        return e
    }

    /// An event holding one scalar summary value.
    public static func scalar(tag: String, value: Float, step: Int64, wallTime: Double) -> [UInt8] {
        var v = bytes(field: 1, Array(tag.utf8))
        v += key(2, wireType: 5) + TFRecord.littleEndian(value.bitPattern)
        let summary = bytes(field: 1, v)
        var e = double(field: 1, wallTime)
        e += key(2, wireType: 0) + varint(UInt64(bitPattern: step))
        e += bytes(field: 5, summary)
        return e
    }

    static func key(_ field: Int, wireType: Int) -> [UInt8] { varint(UInt64(field << 3 | wireType)) }

    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out = [UInt8]()
        repeat {
            let low = UInt8(v & 0x7F)
            v >>= 7
            out.append(v == 0 ? low : low | 0x80)
        } while v != 0
        return out
    }

    static func double(field: Int, _ d: Double) -> [UInt8] { key(field, wireType: 1) + TFRecord.littleEndian(d.bitPattern) }

    static func bytes(field: Int, _ b: [UInt8]) -> [UInt8] { key(field, wireType: 2) + varint(UInt64(b.count)) + b }
}
