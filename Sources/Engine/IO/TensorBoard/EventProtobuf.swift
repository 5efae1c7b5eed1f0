/// The two protobuf messages of a TensorBoard scalar log, encoded by hand with
/// `ProtobufWriter` (TensorFlow's `event.proto` and `summary.proto`; only the fields written here):
///
///     message Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
///     message Summary { repeated Value value = 1; }
///     message Value   { string tag = 1; float simple_value = 2; }
///
/// So the keys are 0x09 wall_time, 0x10 step (a negative step takes 10 bytes), 0x1A
/// file_version, 0x2A summary; in Summary 0x0A value; in Value 0x0A tag, 0x15 simple_value.
/// E.g. the scalar ("a", 1.0) at step 3, wall time 0:
/// `09 00×8  10 03  2A 0A  0A 08  0A 01 61  15 00 00 80 3F` (Event: wall_time, step,
/// summary of 10 bytes; Summary: value of 8 bytes; Value: tag "a", simple_value 1.0f).
public enum EventProtobuf {
    /// The first event of every file: `file_version = "brain.Event:2"`.
    public static func fileVersion(wallTime: Double) -> [UInt8] {
        var e = ProtobufWriter()
        e.double(1, wallTime)
        e.string(3, "brain.Event:2")
        return e.bytes
    }

    /// An event holding one scalar summary value.
    public static func scalar(tag: String, value: Float, step: Int64, wallTime: Double) -> [UInt8] {
        var v = ProtobufWriter()
        v.string(1, tag)
        v.float(2, value)
        var summary = ProtobufWriter()
        summary.message(1, v)
        var e = ProtobufWriter()
        e.double(1, wallTime)
        e.int64(2, step)
        e.message(5, summary)
        return e.bytes
    }
}
