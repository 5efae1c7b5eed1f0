/// The IMP architecture string of the seed's `[Network] arch` (phiandark/SiftingFeatures),
/// colon separated, and the `[IMP] prune` string that goes with it.
///
/// - `f<n>`: batch norm on the layer's input, then Linear(in → n) + ReLU (the input is
///   flattened first when it is an image);
/// - `x`: the output layer, batch norm on its input then Linear(in → classes); last, once;
/// - `c<k>,<cout>[,<stride>]`: k×k VALID convolution to cout planes, stride s (default 1),
///   + ReLU; output side ⌈(side − k + 1)/s⌉ = ⌊(side − k)/s⌋ + 1;
/// - `p<k>,<stride>`: k×k VALID max pooling, same output-side rule.
///
/// `prune` is T/F per layer, colon separated: empty prunes every layer (`x` too); shorter than
/// `arch`, the missing layers are padded with F (as the original's code does; its README says
/// T); a `p` layer's entry is ignored (pooling has nothing to prune).
public enum ArchitectureLayer: Equatable {
    case fullyConnected(units: Int)
    case output
    case convolution(kernel: Int, channels: Int, stride: Int)
    case maxPool(kernel: Int, stride: Int)

    /// The layer's letter as the string writes it.
    public var letter: String {
        switch self {
        case .fullyConnected: return "f"
        case .output: return "x"
        case .convolution: return "c"
        case .maxPool: return "p"
        }
    }

    /// Whether the layer has weights a mask can cover.
    public var hasWeights: Bool { if case .maxPool = self { return false } else { return true } }
}

public enum ArchitectureString {
    /// Limits that keep a typo (`f3000000`) from allocating gigabytes.
    public static let maxUnits = 1 << 20
    public static let maxKernel = 1024

    /// The layers of `text`; errors say which layer (1-based) and why.
    public static func parse(_ text: String) throws -> [ArchitectureLayer] {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw EngineError("the architecture is empty (e.g. arch = f300:f100:x)") }
        let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var layers = [ArchitectureLayer]()
        for (i, p) in parts.enumerated() {
            let n = i + 1
            func numbers(_ count: ClosedRange<Int>, _ form: String) throws -> [Int] {
                let fields = p.dropFirst().split(separator: ",", omittingEmptySubsequences: false)
                let values = fields.map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard count.contains(values.count), values.allSatisfy({ $0 != nil }) else {
                    throw EngineError("layer \(n) '\(p)': expected \(form)")
                }
                return values.map { $0! }
            }
            func check(_ v: Int, _ what: String, _ range: ClosedRange<Int>) throws {
                guard range.contains(v) else { throw EngineError("layer \(n) '\(p)': \(what) must be in \(range.lowerBound)...\(range.upperBound), got \(v)") }
            }
            switch p.first {
            case "f":
                let v = try numbers(1...1, "f<units>, e.g. f300")
                try check(v[0], "the number of units", 1...maxUnits)
                layers.append(.fullyConnected(units: v[0]))
            case "x":
                guard p == "x" else { throw EngineError("layer \(n) '\(p)': the output layer is written x alone (it has as many units as classes)") }
                layers.append(.output)
            case "c":
                let v = try numbers(2...3, "c<kernel>,<channels>[,<stride>], e.g. c5,32 or c3,64,2")
                try check(v[0], "the kernel", 1...maxKernel)
                try check(v[1], "the number of channels", 1...maxUnits)
                if v.count == 3 { try check(v[2], "the stride", 1...maxKernel) }
                layers.append(.convolution(kernel: v[0], channels: v[1], stride: v.count == 3 ? v[2] : 1))
            case "p":
                let v = try numbers(2...2, "p<kernel>,<stride>, e.g. p2,2")
                try check(v[0], "the kernel", 1...maxKernel)
                try check(v[1], "the stride", 1...maxKernel)
                layers.append(.maxPool(kernel: v[0], stride: v[1]))
            default:
                throw EngineError("layer \(n) '\(p)': unknown layer type (f<units>, x, c<kernel>,<channels>[,<stride>], p<kernel>,<stride>)")
            }
        }
        guard layers.last == .output, layers.filter({ $0 == .output }).count == 1 else {
            throw EngineError("the architecture must end with the output layer x, once (e.g. f300:f100:x), got '\(trimmed)'")
        }
        if let f = layers.firstIndex(where: { if case .fullyConnected = $0 { return true } else { return false } }),
           let i = layers[f...].firstIndex(where: { if case .convolution = $0 { return true }; if case .maxPool = $0 { return true }; return false }) {
            throw EngineError("layer \(i + 1) '\(parts[i])': a convolution or pooling layer cannot follow a fully connected one")
        }
        return layers
    }

    /// Which layers are pruned, one flag per layer of `layers`, from the prune string.
    public static func pruneFlags(_ text: String, for layers: [ArchitectureLayer]) throws -> [Bool] {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return layers.map(\.hasWeights) }
        let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count <= layers.count else {
            throw EngineError("\(parts.count) entries for an architecture of \(layers.count) layers")
        }
        var flags = [Bool]()
        for (i, p) in parts.enumerated() {
            switch p {
            case "T": flags.append(layers[i].hasWeights)
            case "F": flags.append(false)
            default: throw EngineError("entry \(i + 1) is '\(p)': each entry is T or F (e.g. T:T:F)")
            }
        }
        flags += Array(repeating: false, count: layers.count - parts.count)
        return flags
    }
}
