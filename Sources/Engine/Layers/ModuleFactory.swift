/// Builds modules from their `ModuleSpec` (the architecture stored in model files).
/// Every module type registers here under its Torch name.
public enum ModuleFactory {
    public static func make(_ spec: ModuleSpec) throws -> Module {
        let a = spec.args.map { Int($0) }
        func need(_ n: Int) throws {
            guard a.count >= n else { throw EngineError("\(spec.type) needs \(n) arguments, the model file gives \(a.count)") }
        }
        switch spec.type {
        case "nn.Sequential":
            return Sequential(try (spec.modules ?? []).map(make))
        case "nn.Linear":
            try need(2)
            return Linear(a[0], a[1], bias: (spec.options?["bias"] ?? 1) != 0)
        case "nn.Tanh":
            return Tanh()
        case "nn.SpatialConvolution":
            try need(4)
            let x = a + [1, 1, 0, 0].suffix(Swift.max(0, 8 - a.count))
            return SpatialConvolution(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7],
                                      bias: (spec.options?["bias"] ?? 1) != 0)
        case "nn.SpatialMaxPooling":
            try need(2)
            let m = SpatialMaxPooling(a[0], a[1], a.count > 2 ? a[2] : nil, a.count > 3 ? a[3] : nil,
                                      a.count > 4 ? a[4] : 0, a.count > 5 ? a[5] : 0)
            if (spec.options?["ceil"] ?? 0) != 0 { m.ceil() }
            return m
        case "nn.ReLU": return ReLU(spec: spec)
        case "nn.Sigmoid": return Sigmoid()
        case "nn.Identity": return Identity()
        case "nn.View": return try View(spec: spec)
        case "nn.Reshape": return try Reshape(spec: spec)
        case "nn.Dropout": return try Dropout(spec: spec)
        case "nn.BatchNormalization": return try BatchNormalization(spec: spec)
        case "nn.SpatialBatchNormalization": return try SpatialBatchNormalization(spec: spec)
        case "nn.SoftMax": return SoftMax()
        case "nn.LogSoftMax": return LogSoftMax()
        default:
            throw EngineError("unknown module type '\(spec.type)' in the model's architecture")
        }
    }
}
