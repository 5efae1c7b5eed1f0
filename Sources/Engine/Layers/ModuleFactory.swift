/// Builds modules from their `ModuleSpec` (the architecture stored in model files), in two
/// steps so that a file from anyone is checked before anything is allocated:
///
/// 1. `blueprint(_:)` reads every argument and option of every module, each checked to be an
///    integer (or number) in its valid range (`ArchitectureLimits`), and says which tensors
///    the model will hold (`ModuleBlueprint.tensors`) without allocating them;
/// 2. `ModuleBlueprint.build()` allocates and initialises the modules.
///
/// `make(_:)` does both. Every module type of the Engine registers here under its Torch name;
/// types defined outside it (Lua classes) come from the `ModuleTypeRegistry` passed as `types`.
public enum ModuleFactory {
    /// Builds the module `spec` describes (weights initialised from `GlobalRandom`).
    public static func make(_ spec: ModuleSpec, types: ModuleTypeRegistry? = nil) throws -> Module {
        try blueprint(spec, types: types).build()
    }

    /// Checks `spec` completely and returns what it would build; allocates no tensor.
    /// An external type's check may build one module to learn its tensors' shapes.
    public static func blueprint(_ spec: ModuleSpec, types: ModuleTypeRegistry? = nil) throws -> ModuleBlueprint {
        var modules = 0
        return try blueprint(spec, layer: "", depth: 0, modules: &modules, types: types)
    }

    private static func blueprint(_ spec: ModuleSpec, layer: String, depth: Int, modules: inout Int,
                                  types: ModuleTypeRegistry?) throws -> ModuleBlueprint {
        modules += 1
        let a = SpecArguments(spec, layer: layer)
        guard modules <= ArchitectureLimits.maxModules else {
            throw a.error("the architecture has more than \(ArchitectureLimits.maxModules) modules (the limit)")
        }
        if !ModuleBlueprint.containerTypes.contains(spec.type) && spec.modules != nil {
            throw a.error("only containers (\(ModuleBlueprint.containerTypes.sorted().joined(separator: ", "))) hold modules")
        }
        let kind: ModuleBlueprint.Kind
        switch spec.type {
        case "nn.Sequential", "nn.ConcatTable", "nn.ParallelTable":
            try a.expect(arguments: 0, options: [])
            guard depth < ArchitectureLimits.maxDepth else {
                throw a.error("containers are nested more than \(ArchitectureLimits.maxDepth) deep (the limit)")
            }
            var children = [ModuleBlueprint]()
            for (i, child) in (spec.modules ?? []).enumerated() {
                let path = layer.isEmpty ? "\(i + 1)" : "\(layer).\(i + 1)"
                children.append(try blueprint(child, layer: path, depth: depth + 1, modules: &modules, types: types))
            }
            kind = .container(spec.type, children)
        case "nn.Linear":
            try a.expect(arguments: 2, required: 2, options: ["bias"])
            let i = try a.size(0, "inputSize"), o = try a.size(1, "outputSize")
            try a.checkElements([o, i], "the weight")
            kind = .linear(inputSize: i, outputSize: o, bias: try a.flag("bias", default: true))
        case "nn.SpatialConvolution":
            try a.expect(arguments: 8, required: 4, options: ["bias"])
            let nIn = try a.size(0, "nInputPlane"), nOut = try a.size(1, "nOutputPlane")
            let kW = try a.window(2, "kW"), kH = try a.window(3, "kH")
            let dW = try a.window(4, "dW", default: 1), dH = try a.window(5, "dH", default: 1)
            let padW = try a.padding(6, "padW", below: kW, "kW"), padH = try a.padding(7, "padH", below: kH, "kH")
            try a.checkElements([nOut, nIn, kH, kW], "the weight")
            kind = .convolution(nIn: nIn, nOut: nOut, kW: kW, kH: kH, dW: dW, dH: dH, padW: padW, padH: padH,
                                bias: try a.flag("bias", default: true))
        case "nn.SpatialMaxPooling":
            try a.expect(arguments: 6, required: 2, options: ["ceil"])
            let kW = try a.window(0, "kW"), kH = try a.window(1, "kH")
            let dW = try a.window(2, "dW", default: kW), dH = try a.window(3, "dH", default: kH)
            let padW = try a.padding(4, "padW", atMostHalfOf: kW, "kW"), padH = try a.padding(5, "padH", atMostHalfOf: kH, "kH")
            kind = .maxPooling(kW: kW, kH: kH, dW: dW, dH: dH, padW: padW, padH: padH, ceil: try a.flag("ceil", default: false))
        case "nn.BatchNormalization": kind = try batchNormalization(a, spatial: false)
        case "nn.SpatialBatchNormalization": kind = try batchNormalization(a, spatial: true)
        case "nn.Dropout":
            try a.expect(arguments: 1, options: ["v1", "inplace"])
            let p = try a.number(0, "p", in: 0...1, default: 0.5)
            guard p < 1 else { throw a.error("p (argument 1) must be in [0, 1), got 1") }
            kind = .dropout(p: p, v1: try a.flag("v1", default: false), inplace: try a.flag("inplace", default: false))
        case "nn.View":
            try a.expect(arguments: ArchitectureLimits.maxRank, required: 1, options: ["numInputDims"])
            let sizes = try a.sizes(allowInferred: true)
            kind = .view(sizes: sizes, numInputDims: try a.optionalInteger("numInputDims", in: 1...ArchitectureLimits.maxRank))
        case "nn.Reshape":
            try a.expect(arguments: ArchitectureLimits.maxRank, required: 1, options: ["batchMode"])
            let sizes = try a.sizes(allowInferred: false)
            kind = .reshape(sizes: sizes, batchMode: spec.options?["batchMode"] == nil ? nil : try a.flag("batchMode", default: false))
        case "nn.ReLU":
            try a.expect(arguments: 0, options: ["inplace"])
            kind = .relu(inplace: try a.flag("inplace", default: false))
        case "nn.Tanh": try a.expect(arguments: 0, options: []); kind = .tanh
        case "nn.Sigmoid": try a.expect(arguments: 0, options: []); kind = .sigmoid
        case "nn.Identity": try a.expect(arguments: 0, options: []); kind = .identity
        case "nn.SoftMax": try a.expect(arguments: 0, options: []); kind = .softMax
        case "nn.CAddTable":
            try a.expect(arguments: 0, options: ["inplace"])
            kind = .caddTable(inplace: try a.flag("inplace", default: false))
        case "nn.CMulTable": try a.expect(arguments: 0, options: []); kind = .cmulTable
        case "nn.JoinTable":
            try a.expect(arguments: 2, required: 1, options: [])
            let d = try a.nonzero(0, "dimension", limit: ArchitectureLimits.maxRank)
            kind = .joinTable(dimension: d, nInputDims: a.spec.args.count > 1 ? try a.integer(1, "nInputDims", in: 1...ArchitectureLimits.maxRank) : nil)
        case "nn.SelectTable":
            try a.expect(arguments: 1, required: 1, options: [])
            kind = .selectTable(index: try a.nonzero(0, "index", limit: ArchitectureLimits.maxSize))
        case "nn.Narrow":
            try a.expect(arguments: 3, required: 2, options: [])
            let d = try a.nonzero(0, "dimension", limit: ArchitectureLimits.maxRank)
            let offset = try a.integer(1, "offset", in: 1...ArchitectureLimits.maxSize)
            let length = a.spec.args.count > 2 ? try a.nonzero(2, "length", limit: ArchitectureLimits.maxSize) : 1
            kind = .narrow(dimension: d, offset: offset, length: length)
        case "nn.SpatialAveragePooling":
            try a.expect(arguments: 6, required: 2, options: ["ceil", "countIncludePad"])
            let kW = try a.window(0, "kW"), kH = try a.window(1, "kH")
            let dW = try a.window(2, "dW", default: 1), dH = try a.window(3, "dH", default: 1)
            let padW = try a.padding(4, "padW", atMostHalfOf: kW, "kW"), padH = try a.padding(5, "padH", atMostHalfOf: kH, "kH")
            kind = .averagePooling(kW: kW, kH: kH, dW: dW, dH: dH, padW: padW, padH: padH, ceil: try a.flag("ceil", default: false),
                                   countIncludePad: try a.flag("countIncludePad", default: true))
        case "nn.GlobalAveragePooling": try a.expect(arguments: 0, options: []); kind = .globalAveragePooling
        case "nn.SpatialZeroPadding":
            try a.expect(arguments: 4, required: 1, options: [])
            let pads = try (0..<4).map { i in
                try a.integer(i < a.spec.args.count ? i : 0, ["padLeft", "padRight", "padTop", "padBottom"][i],
                              in: -ArchitectureLimits.maxWindow...ArchitectureLimits.maxWindow)
            }
            kind = .zeroPadding(pads)
        case "nn.MulConstant":
            try a.expect(arguments: 1, required: 1, options: ["inplace"])
            let c = try a.number(0, "constant", in: -1e30...1e30, default: 0)
            kind = .mulConstant(c, inplace: try a.flag("inplace", default: false))
        case "nn.LogSoftMax": try a.expect(arguments: 0, options: []); kind = .logSoftMax
        default:
            if let external = types?.type(named: spec.type) {
                let tensors: [(name: String, shape: [Int], isParameter: Bool)]
                do { tensors = try external.tensors(of: spec) } catch let e as EngineError { throw a.error(e.message) }
                kind = .external(external, spec, tensors)
            } else if let origin = spec.definedIn {
                let advice = types?.advice[origin] ?? "define it before building the model"
                throw a.error("a module defined in \(String(origin.prefix(40))) that is not defined here: \(advice)")
            } else {
                throw a.error("unknown module type '\(String(spec.type.prefix(80)))'")
            }
        }
        return ModuleBlueprint(kind: kind)
    }

    /// nn.BatchNormalization(nOutput [, eps, momentum]) and its spatial variant; option affine.
    private static func batchNormalization(_ a: SpecArguments, spatial: Bool) throws -> ModuleBlueprint.Kind {
        try a.expect(arguments: 3, required: 1, options: ["affine"])
        let n = try a.size(0, "nOutput")
        let eps = try a.number(1, "eps", in: 0...1e10, default: 1e-5)
        let momentum = try a.number(2, "momentum", in: 0...1, default: 0.1)
        return .batchNormalization(nOutput: n, eps: eps, momentum: momentum, affine: try a.flag("affine", default: true), spatial: spatial)
    }
}

/// Limits on an architecture read from a file. Sizes beyond these are refused before any
/// allocation; a real model is far inside them.
public enum ArchitectureLimits {
    /// Any size: features, planes, a View's or Reshape's sizes (2^24).
    public static let maxSize = 1 << 24
    /// Kernel sizes and strides of convolutions and pooling.
    public static let maxWindow = 1 << 12
    /// Elements of one tensor the architecture implies, the product of its sizes (2^30: 4 GiB of float32).
    public static let maxElements = 1 << 30
    /// Modules in one architecture, containers included.
    public static let maxModules = 100_000
    /// Nesting of containers.
    public static let maxDepth = 64
    /// Sizes of a View or Reshape.
    public static let maxRank = 8
}

/// A module checked but not built: what `ModuleFactory.blueprint` read from a spec.
public struct ModuleBlueprint {
    /// The module types that hold modules.
    public static let containerTypes: Set<String> = ["nn.Sequential", "nn.ConcatTable", "nn.ParallelTable"]

    indirect enum Kind {
        case container(String, [ModuleBlueprint])
        case linear(inputSize: Int, outputSize: Int, bias: Bool)
        case convolution(nIn: Int, nOut: Int, kW: Int, kH: Int, dW: Int, dH: Int, padW: Int, padH: Int, bias: Bool)
        case maxPooling(kW: Int, kH: Int, dW: Int, dH: Int, padW: Int, padH: Int, ceil: Bool)
        case batchNormalization(nOutput: Int, eps: Double, momentum: Double, affine: Bool, spatial: Bool)
        case dropout(p: Double, v1: Bool, inplace: Bool)
        case view(sizes: [Int], numInputDims: Int?)
        case reshape(sizes: [Int], batchMode: Bool?)
        case relu(inplace: Bool)
        case tanh, sigmoid, identity, softMax, logSoftMax
        case caddTable(inplace: Bool), cmulTable, globalAveragePooling
        case joinTable(dimension: Int, nInputDims: Int?)
        case selectTable(index: Int)
        case narrow(dimension: Int, offset: Int, length: Int)
        case averagePooling(kW: Int, kH: Int, dW: Int, dH: Int, padW: Int, padH: Int, ceil: Bool, countIncludePad: Bool)
        case zeroPadding([Int])
        case mulConstant(Double, inplace: Bool)
        /// A type from a `ModuleTypeRegistry`, its spec, and the tensors its check reported.
        case external(ExternalModuleType, ModuleSpec, [(name: String, shape: [Int], isParameter: Bool)])
    }

    let kind: Kind

    /// True for an nn.Sequential.
    public var isSequential: Bool { if case .container("nn.Sequential", _) = kind { return true } else { return false } }

    /// The tensors the built model holds, as `ModelFile` names them (PyTorch state_dict keys,
    /// `prefix` first), with their shapes, in state_dict order; masks are not included.
    /// `isParameter` tells a learnable tensor (which may have a mask) from a buffer.
    public func tensors(prefix: String = "") -> [(name: String, shape: [Int], isParameter: Bool)] {
        switch kind {
        case .container(_, let children):
            return children.enumerated().flatMap { i, c in c.tensors(prefix: "\(prefix)\(i).") }
        case let .linear(i, o, bias):
            return [(prefix + "weight", [o, i], true)] + (bias ? [(prefix + "bias", [o], true)] : [])
        case let .convolution(nIn, nOut, kW, kH, _, _, _, _, bias):
            return [(prefix + "weight", [nOut, nIn, kH, kW], true)] + (bias ? [(prefix + "bias", [nOut], true)] : [])
        case let .batchNormalization(n, _, _, affine, _):
            return (affine ? [(prefix + "weight", [n], true), (prefix + "bias", [n], true)] : [])
                + [(prefix + "running_mean", [n], false), (prefix + "running_var", [n], false)]
        case let .external(_, _, tensors):
            return tensors.map { (prefix + $0.name, $0.shape, $0.isParameter) }
        default:
            return []
        }
    }

    /// Allocates and initialises the module (weights from `GlobalRandom`).
    public func build() throws -> Module {
        switch kind {
        case let .container(type, children):
            let modules = try children.map { try $0.build() }
            switch type {
            case "nn.ConcatTable": return ConcatTable(modules)
            case "nn.ParallelTable": return ParallelTable(modules)
            default: return Sequential(modules)
            }
        case let .linear(i, o, bias): return Linear(i, o, bias: bias)
        case let .convolution(nIn, nOut, kW, kH, dW, dH, padW, padH, bias):
            return SpatialConvolution(nIn, nOut, kW, kH, dW, dH, padW, padH, bias: bias)
        case let .maxPooling(kW, kH, dW, dH, padW, padH, ceil):
            let m = SpatialMaxPooling(kW, kH, dW, dH, padW, padH)
            if ceil { m.ceil() }
            return m
        case let .batchNormalization(n, eps, momentum, affine, spatial):
            return spatial ? try SpatialBatchNormalization(n, eps: eps, momentum: momentum, affine: affine)
                           : try BatchNormalization(n, eps: eps, momentum: momentum, affine: affine)
        case let .dropout(p, v1, inplace): return try Dropout(p, v1: v1, inplace: inplace)
        case let .view(sizes, numInputDims): return try View(sizes, numInputDims: numInputDims)
        case let .reshape(sizes, batchMode): return try Reshape(sizes, batchMode: batchMode)
        case .relu(let inplace): return ReLU(inplace: inplace)
        case .tanh: return Tanh()
        case .sigmoid: return Sigmoid()
        case .identity: return Identity()
        case .softMax: return SoftMax()
        case .logSoftMax: return LogSoftMax()
        case .caddTable(let inplace): return CAddTable(inplace: inplace)
        case .cmulTable: return CMulTable()
        case .globalAveragePooling: return GlobalAveragePooling()
        case let .joinTable(d, n): return try JoinTable(d, nInputDims: n)
        case .selectTable(let i): return try SelectTable(i)
        case let .narrow(d, o, l): return try Narrow(d, o, l)
        case let .averagePooling(kW, kH, dW, dH, padW, padH, ceil, countIncludePad):
            let m = SpatialAveragePooling(kW, kH, dW, dH, padW, padH)
            if ceil { m.ceil() }
            m.countIncludePad = countIncludePad
            return m
        case .zeroPadding(let p): return SpatialZeroPadding(p[0], p[1], p[2], p[3])
        case let .mulConstant(c, inplace): return MulConstant(Float(c), inplace: inplace)
        case let .external(type, spec, _): return try type.build(spec)
        }
    }
}

/// Reads one spec's arguments and options, each checked before use; errors name the layer
/// ("layer 4 (nn.SpatialMaxPooling): dW (argument 3) must be ..."), or only the type for a
/// module on its own.
private struct SpecArguments {
    let spec: ModuleSpec
    let layer: String

    init(_ spec: ModuleSpec, layer: String) { self.spec = spec; self.layer = layer }

    func error(_ what: String) -> EngineError {
        let type = String(spec.type.prefix(80))
        return EngineError(layer.isEmpty ? "\(type): \(what)" : "layer \(layer) (\(type)): \(what)")
    }

    /// At most `arguments` arguments, at least `required`, and only the named options.
    func expect(arguments: Int, required: Int = 0, options: Set<String>) throws {
        guard spec.args.count >= required else {
            throw error("needs \(required) argument\(required == 1 ? "" : "s"), the architecture gives \(spec.args.count)")
        }
        guard spec.args.count <= arguments else {
            throw error("takes at most \(arguments) argument\(arguments == 1 ? "" : "s"), the architecture gives \(spec.args.count)")
        }
        for key in (spec.options ?? [:]).keys.sorted() where !options.contains(key) {
            let known = options.isEmpty ? "none" : options.sorted().joined(separator: ", ")
            throw error("unknown option '\(String(key.prefix(80)))' (its options: \(known))")
        }
    }

    /// Argument `i` (0-based) as an integer in `range`, or `fallback` when absent.
    func integer(_ i: Int, _ name: String, in range: ClosedRange<Int>, default fallback: Int? = nil) throws -> Int {
        guard i < spec.args.count else {
            if let fallback { return fallback }
            throw error("\(name) (argument \(i + 1)) is missing")
        }
        guard let n = Self.integer(spec.args[i], in: range) else {
            throw error("\(name) (argument \(i + 1)) must be an integer in \(range.lowerBound)...\(range.upperBound), got \(Self.show(spec.args[i]))")
        }
        return n
    }

    /// `x` as an Int when it is integral and in `range` (checked as a Double first, so that
    /// ±1e300 or NaN never reach `Int(_:)`).
    static func integer(_ x: Double, in range: ClosedRange<Int>) -> Int? {
        guard x.isFinite, x == x.rounded(), x >= Double(range.lowerBound), x <= Double(range.upperBound) else { return nil }
        return Int(x)
    }

    func size(_ i: Int, _ name: String) throws -> Int { try integer(i, name, in: 1...ArchitectureLimits.maxSize) }

    func window(_ i: Int, _ name: String, default fallback: Int? = nil) throws -> Int {
        try integer(i, name, in: 1...ArchitectureLimits.maxWindow, default: fallback)
    }

    /// A convolution's padding: 0 ≤ pad < kernel (a wider padding only adds outputs that see zeros).
    func padding(_ i: Int, _ name: String, below kernel: Int, _ kernelName: String) throws -> Int {
        let pad = try integer(i, name, in: 0...ArchitectureLimits.maxWindow, default: 0)
        guard pad < kernel else { throw error("\(name) (argument \(i + 1)) must be smaller than \(kernelName) = \(kernel), got \(pad)") }
        return pad
    }

    /// A pooling's padding: 0 ≤ pad ≤ kernel / 2, as Torch requires.
    func padding(_ i: Int, _ name: String, atMostHalfOf kernel: Int, _ kernelName: String) throws -> Int {
        let pad = try integer(i, name, in: 0...ArchitectureLimits.maxWindow, default: 0)
        guard pad <= kernel / 2 else {
            throw error("\(name) (argument \(i + 1)) must be at most half of \(kernelName) = \(kernel), got \(pad)")
        }
        return pad
    }

    /// Argument `i` as a finite number in `range`, or `fallback` when absent.
    func number(_ i: Int, _ name: String, in range: ClosedRange<Double>, default fallback: Double) throws -> Double {
        guard i < spec.args.count else { return fallback }
        let x = spec.args[i]
        guard x.isFinite, range.contains(x) else {
            throw error("\(name) (argument \(i + 1)) must be a number in [\(Self.show(range.lowerBound)), \(Self.show(range.upperBound))], got \(Self.show(x))")
        }
        return x
    }

    /// Argument `i` as a nonzero integer in -limit...limit (negative counts from the end).
    func nonzero(_ i: Int, _ name: String, limit: Int) throws -> Int {
        let n = try integer(i, name, in: -limit...limit)
        guard n != 0 else { throw error("\(name) (argument \(i + 1)) must be a nonzero integer, got 0") }
        return n
    }

    /// A boolean option stored as 0 or 1.
    func flag(_ key: String, default fallback: Bool) throws -> Bool {
        guard let v = spec.options?[key] else { return fallback }
        guard v == 0 || v == 1 else { throw error("option '\(key)' must be 0 or 1, got \(Self.show(v))") }
        return v == 1
    }

    func optionalInteger(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = spec.options?[key] else { return nil }
        guard let n = Self.integer(v, in: range) else {
            throw error("option '\(key)' must be an integer in \(range.lowerBound)...\(range.upperBound), got \(Self.show(v))")
        }
        return n
    }

    /// All arguments as the sizes of a View or Reshape (one may be -1 when `allowInferred`).
    func sizes(allowInferred: Bool) throws -> [Int] {
        var sizes = [Int]()
        for (i, x) in spec.args.enumerated() {
            if allowInferred && x == -1 { sizes.append(-1); continue }
            guard let s = Self.integer(x, in: 1...ArchitectureLimits.maxSize) else {
                throw error("size \(i + 1) must be an integer in 1...\(ArchitectureLimits.maxSize)\(allowInferred ? " or -1" : ""), got \(Self.show(x))")
            }
            sizes.append(s)
        }
        guard sizes.filter({ $0 == -1 }).count <= 1 else { throw error("only one size can be -1") }
        try checkElements(sizes.filter { $0 != -1 }, "the sizes")
        return sizes
    }

    /// The product of `sizes` is at most `ArchitectureLimits.maxElements`.
    func checkElements(_ sizes: [Int], _ what: String) throws {
        var n = 1
        for s in sizes {
            let (p, overflow) = n.multipliedReportingOverflow(by: s)
            guard !overflow, p <= ArchitectureLimits.maxElements else {
                throw error("\(what) would have \(sizes.map(String.init).joined(separator: "x")) elements, over the limit of \(ArchitectureLimits.maxElements)")
            }
            n = p
        }
    }

    static func show(_ x: Double) -> String {
        x.isFinite && x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
    }
}
