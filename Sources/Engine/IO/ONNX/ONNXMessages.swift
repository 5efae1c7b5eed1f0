/// The messages of ONNX's `onnx.proto` the exporter writes, encoded with `ProtobufWriter`
/// (only the fields used here, with their field numbers):
///
///     ModelProto      { int64 ir_version = 1; string producer_name = 2; string producer_version = 3;
///                       GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8; }
///     OperatorSetIdProto { string domain = 1; int64 version = 2; }
///     GraphProto      { repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5;
///                       repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12; }
///     NodeProto       { repeated string input = 1; repeated string output = 2; string name = 3;
///                       string op_type = 4; repeated AttributeProto attribute = 5; }
///     AttributeProto  { string name = 1; float f = 2; int64 i = 3; repeated int64 ints = 8;
///                       AttributeType type = 20; }   (FLOAT = 1, INT = 2, INTS = 7)
///     TensorProto     { repeated int64 dims = 1; int32 data_type = 2; string name = 8; bytes raw_data = 9; }
///                       (FLOAT = 1, INT64 = 7; raw_data little-endian)
///     ValueInfoProto  { string name = 1; TypeProto type = 2; }
///     TypeProto       { TypeProto.Tensor tensor_type = 1; }
///     TypeProto.Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
///     TensorShapeProto { repeated Dimension dim = 1; }  Dimension { int64 dim_value = 1; string dim_param = 2; }
enum ONNXMessages {
    /// One node attribute.
    enum Attribute {
        case int(String, Int)
        case ints(String, [Int])
        case float(String, Float)
    }

    /// One dimension of a value's shape: a size or a named (symbolic) one.
    enum Dimension {
        case size(Int)
        case named(String)
    }

    static func attribute(_ a: Attribute) -> ProtobufWriter {
        var m = ProtobufWriter()
        switch a {
        case let .int(name, v):
            m.string(1, name); m.int64(3, Int64(v)); m.varint(20, 2)
        case let .ints(name, v):
            m.string(1, name)
            for x in v { m.int64(8, Int64(x)) }
            m.varint(20, 7)
        case let .float(name, v):
            m.string(1, name); m.float(2, v); m.varint(20, 1)
        }
        return m
    }

    static func node(_ op: String, name: String, inputs: [String], outputs: [String], attributes: [Attribute] = []) -> ProtobufWriter {
        var m = ProtobufWriter()
        for i in inputs { m.string(1, i) }
        for o in outputs { m.string(2, o) }
        m.string(3, name)
        m.string(4, op)
        for a in attributes { m.message(5, attribute(a)) }
        return m
    }

    /// A float32 tensor with its values as raw data.
    static func floatTensor(_ name: String, _ t: Tensor, shape: [Int]) -> ProtobufWriter {
        var m = ProtobufWriter()
        m.packedInt64(1, shape.map(Int64.init))
        m.varint(2, 1)
        m.string(8, name)
        m.rawFloats(9, t.data, count: t.count)
        return m
    }

    /// An int64 tensor of one dimension (e.g. Reshape's target shape).
    static func int64Tensor(_ name: String, _ values: [Int]) -> ProtobufWriter {
        var m = ProtobufWriter()
        m.packedInt64(1, [Int64(values.count)])
        m.varint(2, 7)
        m.string(8, name)
        var raw = [UInt8]()
        for v in values { raw += ProtobufWriter.littleEndian(Int64(v)) }
        m.bytes(9, raw)
        return m
    }

    /// A float32 value of the given shape (a graph input or output).
    static func valueInfo(_ name: String, shape: [Dimension]) -> ProtobufWriter {
        var shapeMessage = ProtobufWriter()
        for d in shape {
            var dim = ProtobufWriter()
            switch d {
            case .size(let n): dim.int64(1, Int64(n))
            case .named(let s): dim.string(2, s)
            }
            shapeMessage.message(1, dim)
        }
        var tensorType = ProtobufWriter()
        tensorType.varint(1, 1)
        tensorType.message(2, shapeMessage)
        var type = ProtobufWriter()
        type.message(1, tensorType)
        var m = ProtobufWriter()
        m.string(1, name)
        m.message(2, type)
        return m
    }
}
