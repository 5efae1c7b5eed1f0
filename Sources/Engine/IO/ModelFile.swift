import Foundation

/// Model files: a `Sequential` saved as safetensors, readable by PyTorch tooling.
///
/// Tensor names follow the state_dict of the equivalent PyTorch `nn.Sequential`: Torch layer
/// i (1-based) is PyTorch index i-1, so layer 8's tensors are "7.weight" and "7.bias"; batch
/// norm adds its buffers ("7.running_mean", "7.running_var"); a pruning mask is
/// "7.weight_mask"; nested Sequentials nest the names ("3.0.weight"). Per module the order is
/// parameters, buffers, masks.
///
/// `__metadata__` holds "format": "pt", "workbench.architecture" (the model's `ModuleSpec` as
/// JSON with sorted keys, enough to rebuild it with `ModuleFactory`) and any caller metadata.
public enum ModelFile {
    public static let architectureKey = "workbench.architecture"
    public static let formatKey = "format"
    /// Suffix of a parameter's mask tensor: "<prefix><parameter name>_mask".
    public static let maskSuffix = "_mask"

    // MARK: - Saving

    /// Saves `model` to `path` atomically (a failed save leaves any existing file as it was).
    /// `extra` adds metadata; the keys "format" and "workbench.architecture" are reserved.
    public static func save(_ model: Sequential, to path: String, metadata extra: [String: String] = [:]) throws {
        for key in [formatKey, architectureKey] where extra[key] != nil {
            throw EngineError("cannot save \(path): metadata key '\(key)' is reserved for the model file itself")
        }
        let architecture: String
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            architecture = String(decoding: try encoder.encode(model.spec), as: UTF8.self)
        } catch {
            throw EngineError("cannot save \(path): the architecture cannot be written as JSON (\(error))")
        }
        var metadata = extra
        metadata[formatKey] = "pt"
        metadata[architectureKey] = architecture
        let tensors: [(name: String, tensor: Tensor)]
        do {
            tensors = try stateDict(model).map { ($0.name, $0.tensor) }
        } catch let e as EngineError {
            throw EngineError("cannot save \(path): \(e.message)")
        }
        try AtomicFile.write(try SafetensorsFile.encode(tensors, metadata: metadata), to: path)
    }

    // MARK: - Loading

    /// Rebuilds the model from the file's architecture and loads every tensor into it.
    public static func load(_ path: String) throws -> Sequential {
        let file = try SafetensorsFile(contentsOf: path)
        guard let json = file.metadata[architectureKey] else {
            throw EngineError("\(path): no architecture in the metadata (\(architectureKey)); build the model and use loadWeights(into:from:)")
        }
        let spec: ModuleSpec
        do {
            spec = try JSONDecoder().decode(ModuleSpec.self, from: Data(json.utf8))
        } catch {
            throw EngineError("\(path): the architecture in the metadata is not a valid module description (\(error))")
        }
        let built: Module
        do { built = try ModuleFactory.make(spec) } catch let e as EngineError {
            throw EngineError("\(path): cannot rebuild the model: \(e.message)")
        }
        guard let model = built as? Sequential else {
            throw EngineError("\(path): the architecture's top module is \(spec.type), expected nn.Sequential")
        }
        try copyTensors(from: file, into: model)
        return model
    }

    /// Loads the file's tensors into an existing `model`, whose layers must match the file
    /// exactly (same names and shapes, no tensor missing or left over). The architecture
    /// metadata, if any, is not consulted. Masks in the file are installed; a parameter
    /// without a mask in the file has its mask removed, so the model ends as the file says.
    public static func loadWeights(into model: Sequential, from path: String) throws {
        try copyTensors(from: try SafetensorsFile(contentsOf: path), into: model)
    }

    /// The file's `__metadata__`.
    public static func metadata(_ path: String) throws -> [String: String] {
        try SafetensorsFile(contentsOf: path).metadata
    }

    // MARK: - Naming

    /// A tensor of the model under its state_dict name, and where it goes.
    public struct NamedTensor {
        public let name: String
        public let tensor: Tensor
        /// The parameter it is the value of, or whose mask it is (nil for buffers).
        public let parameter: Parameter?
        public let isMask: Bool
    }

    /// The model's tensors as PyTorch would name them, masks included (when present).
    public static func stateDict(_ model: Sequential) throws -> [NamedTensor] {
        var out = [NamedTensor]()
        try collect(model, prefix: "", layerPath: "", into: &out)
        return out
    }

    /// The names a complete file for `model` must hold, with the expected shapes, and the
    /// optional mask slots of every parameter.
    private static func slots(_ model: Sequential) throws -> (required: [NamedTensor], masks: [String: Parameter]) {
        var required = [NamedTensor](), masks = [String: Parameter]()
        for t in try stateDict(model) where !t.isMask {
            required.append(t)
            if let p = t.parameter { masks[t.name + maskSuffix] = p }
        }
        return (required, masks)
    }

    private static func collect(_ module: Module, prefix: String, layerPath: String, into out: inout [NamedTensor]) throws {
        if let seq = module as? Sequential {
            for (i, child) in seq.modules.enumerated() {
                try collect(child, prefix: "\(prefix)\(i).", layerPath: layerPath.isEmpty ? "\(i + 1)" : "\(layerPath).\(i + 1)", into: &out)
            }
            return
        }
        guard module.allParameters.count == module.parameters.count else {
            throw EngineError("layer \(layerPath) (\(module.typeName)) holds other modules; model files can only name the tensors of nn.Sequential containers")
        }
        for p in module.parameters { out.append(NamedTensor(name: prefix + p.name, tensor: p.value, parameter: p, isMask: false)) }
        for b in module.buffers { out.append(NamedTensor(name: prefix + b.name, tensor: b.value, parameter: nil, isMask: false)) }
        for p in module.parameters {
            if let m = p.mask { out.append(NamedTensor(name: prefix + p.name + maskSuffix, tensor: m, parameter: p, isMask: true)) }
        }
    }

    /// Checks that `file` holds exactly the model's tensors (masks optional), then copies them.
    /// Nothing in the model changes unless every check passes.
    private static func copyTensors(from file: SafetensorsFile, into model: Sequential) throws {
        let path = file.file
        let (required, maskSlots) = try slots(model)
        let requiredNames = Set(required.map(\.name))
        for e in file.entries where !requiredNames.contains(e.name) && maskSlots[e.name] == nil {
            throw EngineError("\(path): unknown tensor '\(e.name)': the model has no such parameter or buffer (it has \(describe(required.map(\.name))))")
        }
        var plan = [(SafetensorsEntry, Tensor)]()
        for t in required {
            guard let e = file.entry(t.name) else {
                throw EngineError("\(path): tensor '\(t.name)' is missing (expected shape \(shapeString(t.tensor.shape)))")
            }
            guard e.shape == t.tensor.shape else {
                throw EngineError("\(path): tensor '\(t.name)' has shape \(shapeString(e.shape)) but the model's is \(shapeString(t.tensor.shape))")
            }
            plan.append((e, t.tensor))
        }
        var masks = [(Parameter, Tensor, String)]()
        for name in maskSlots.keys.sorted() {
            guard let e = file.entry(name), let p = maskSlots[name] else { continue }
            guard e.shape == p.value.shape else {
                throw EngineError("\(path): mask '\(name)' has shape \(shapeString(e.shape)) but the \(p.name) is \(shapeString(p.value.shape))")
            }
            let m = Tensor(shape: e.shape)
            file.copy(e, into: m)
            if let bad = (0..<m.count).first(where: { m.data[$0] != 0 && m.data[$0] != 1 }) {
                throw EngineError("\(path): mask '\(name)' holds \(m.data[bad]) at index \(bad + 1); masks hold only 0 and 1")
            }
            masks.append((p, m, name))
        }
        for (e, t) in plan { file.copy(e, into: t) }
        for t in required { t.parameter?.removeMask() }
        for (p, m, name) in masks {
            do { try p.setMask(m) } catch let e as EngineError { throw EngineError("\(path): mask '\(name)': \(e.message)") }
        }
    }

    private static func describe(_ names: [String]) -> String {
        names.isEmpty ? "no tensors" : names.count <= 12 ? names.joined(separator: ", ") : names.prefix(12).joined(separator: ", ") + ", ..."
    }
}
