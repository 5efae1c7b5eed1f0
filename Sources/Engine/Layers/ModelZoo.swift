/// The small nets users know, built from their architectures (the same specs a model file
/// stores). The Lua definitions in scripts/models/ build the same nets.
public enum ModelZoo {
    /// The reference tool's LeNet-5: conv 1→6 (5x5, pad 2), tanh, pool, conv 6→96, tanh, pool,
    /// 2400→120→84→10 with tanh. 313,470 weights.
    public static var referenceLeNet5: ModuleSpec {
        seq([
            conv(1, 6, 5, pad: 2), layer("nn.Tanh"), pool(),
            conv(6, 96, 5), layer("nn.Tanh"), pool(),
            layer("nn.View", [2400]),
            layer("nn.Linear", [2400, 120]), layer("nn.Tanh"),
            layer("nn.Linear", [120, 84]), layer("nn.Tanh"),
            layer("nn.Linear", [84, 10]),
        ])
    }

    /// The classic LeNet-5: as the reference with 16 channels in conv2 and Linear(400, 120).
    public static var classicLeNet5: ModuleSpec {
        seq([
            conv(1, 6, 5, pad: 2), layer("nn.Tanh"), pool(),
            conv(6, 16, 5), layer("nn.Tanh"), pool(),
            layer("nn.View", [400]),
            layer("nn.Linear", [400, 120]), layer("nn.Tanh"),
            layer("nn.Linear", [120, 84]), layer("nn.Tanh"),
            layer("nn.Linear", [84, 10]),
        ])
    }

    /// LeNet-300-100: 784→300→100→10 with tanh.
    public static var lenet300100: ModuleSpec {
        seq([
            layer("nn.View", [784]),
            layer("nn.Linear", [784, 300]), layer("nn.Tanh"),
            layer("nn.Linear", [300, 100]), layer("nn.Tanh"),
            layer("nn.Linear", [100, 10]),
        ])
    }

    /// Names accepted by `named(_:)`, as used for `-model` and the benchmark.
    public static let names = ["lenet5", "lenet5-classic", "lenet300-100"]

    public static func named(_ name: String) -> ModuleSpec? {
        switch name {
        case "lenet5": return referenceLeNet5
        case "lenet5-classic": return classicLeNet5
        case "lenet300-100": return lenet300100
        default: return nil
        }
    }

    /// Builds a fresh model (weights from `GlobalRandom`).
    public static func build(_ spec: ModuleSpec) throws -> Sequential {
        guard let s = try ModuleFactory.make(spec) as? Sequential else {
            throw EngineError("the architecture's top module is \(spec.type), expected nn.Sequential")
        }
        return s
    }

    private static func seq(_ m: [ModuleSpec]) -> ModuleSpec { ModuleSpec(type: "nn.Sequential", modules: m) }
    private static func layer(_ t: String, _ a: [Double] = []) -> ModuleSpec { ModuleSpec(type: t, args: a) }
    private static func conv(_ i: Double, _ o: Double, _ k: Double, pad: Double = 0) -> ModuleSpec {
        ModuleSpec(type: "nn.SpatialConvolution", args: [i, o, k, k, 1, 1, pad, pad])
    }
    private static func pool() -> ModuleSpec { ModuleSpec(type: "nn.SpatialMaxPooling", args: [2, 2, 2, 2, 0, 0]) }
}
