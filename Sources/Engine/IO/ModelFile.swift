import Foundation

/// Model files: a `Sequential` saved as safetensors, readable by PyTorch tooling.
///
/// Tensor names follow the state_dict of the equivalent PyTorch `nn.Sequential`: Torch layer
/// i (1-based) is PyTorch index i-1, so layer 8's tensors are "7.weight" and "7.bias"; batch
/// norm adds its buffers ("7.running_mean", "7.running_var"); a pruning mask is
/// "7.weight_mask" (beside the masked weights "7.weight" = W ⊙ M, so PyTorch reads the pruned
/// model as it is), written compactly in the metadata when it is (7.weight ≠ 0) but for listed
/// exceptions (`CompactMasks`), so a pruned file is the size of a dense one; a compressed file
/// (`CompressedModelFile`) is read by the same `load`, decoded to this layout first; the scores that choose a mask are "7.weight_scores"; the stored values
/// under a mask (W, PyTorch's "7.weight_orig") are written only when asked for. Nested
/// Sequentials nest the names ("3.0.weight"). Per module the order is parameters, buffers,
/// then per parameter its mask, scores and stored values.
///
/// `__metadata__` holds "format": "pt", "workbench.architecture" (the model's `ModuleSpec` as
/// JSON with sorted keys, enough to rebuild it with `ModuleFactory`) and any caller metadata.
public enum ModelFile {
    public static let architectureKey = "workbench.architecture"
    public static let formatKey = "format"
    /// Suffix of a parameter's mask tensor: "<prefix><parameter name>_mask".
    public static let maskSuffix = "_mask"
    /// Suffix of the scores that choose a parameter's mask.
    public static let scoresSuffix = "_scores"
    /// Suffix of a masked parameter's stored values W (PyTorch's weight_orig).
    public static let originalSuffix = "_orig"
    /// The tensors a parameter may bring besides its value, each shaped like it; all need a mask.
    static let companionSuffixes = [maskSuffix, scoresSuffix, originalSuffix]

    // MARK: - Saving

    /// How a model file stores the model.
    public enum Format {
        /// The PyTorch-loadable file: every tensor F32 under its state_dict name, masks
        /// compact (`CompactMasks`).
        case standard
        /// `CompressedModelFile`; `sharing` gives the bits of weight sharing of each
        /// parameter to share (by identity); the others are stored losslessly.
        case compressed(sharing: [ObjectIdentifier: Int])
    }

    /// Saves `model` to `path` atomically (a failed save leaves any existing file as it was).
    /// Every value must be finite: a NaN or infinite weight is an error, not a file.
    /// `extra` adds metadata; the keys "format", "workbench.architecture", "workbench.masks"
    /// and "workbench.compressed" are reserved. With `originals` (standard format only), each
    /// masked parameter's stored values W are saved too ("N.weight_orig"); without, a pruned
    /// file holds what PyTorch needs (masked weights, and masks in the metadata) and no more.
    /// With `floatMasks` (standard format), masks are written as float tensors "N.weight_mask"
    /// as PyTorch's pruning holds them (and as files were before compact masks).
    /// Returns how each tensor was stored (compressed format; empty for the standard one).
    @discardableResult
    public static func save(_ model: Sequential, to path: String, metadata extra: [String: String] = [:],
                            originals: Bool = false, floatMasks: Bool = false, format: Format = .standard) throws -> [CompressedModelFile.Stored] {
        for key in [formatKey, architectureKey, CompactMasks.metadataKey, CompressedModelFile.layoutKey] where extra[key] != nil {
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
        let named: [NamedTensor]
        do {
            named = try stateDict(model, originals: originals)
        } catch let e as EngineError {
            throw EngineError("cannot save \(path): \(e.message)")
        }
        for t in named {
            if let i = (0..<t.tensor.count).first(where: { !t.tensor.data[$0].isFinite }) {
                throw EngineError("cannot save \(path): tensor '\(t.name)' holds \(t.tensor.data[i]) at index \(i + 1) (did training diverge?); a model file holds finite values only")
            }
        }
        switch format {
        case .standard:
            var tensors = [(name: String, tensor: Tensor)](), masks = [String: [[Int]]]()
            for t in named {
                if !floatMasks, t.isCompanion, t.name.hasSuffix(maskSuffix), let p = t.parameter,
                   let runs = CompactMasks.exceptions(value: p.value, mask: t.tensor) {
                    masks[String(t.name.dropLast(maskSuffix.count))] = runs
                    continue
                }
                tensors.append((t.name, t.tensor))
            }
            if !masks.isEmpty { metadata[CompactMasks.metadataKey] = CompactMasks.encode(masks) }
            try AtomicFile.write(try SafetensorsFile.encode(tensors, metadata: metadata), to: path)
            return []
        case .compressed(let sharing):
            guard !originals else { throw EngineError("cannot save \(path): a compressed file holds no stored weights under the masks (originals)") }
            let parts = try CompressedModelFile.payloads(named, sharing: sharing)
            metadata.merge(parts.metadata) { _, new in new }
            metadata[formatKey] = CompressedModelFile.format
            try AtomicFile.write(try SafetensorsFile.encode(payloads: parts.payloads, metadata: metadata), to: path)
            return parts.stored
        }
    }

    /// The bits of weight sharing per weight of `model`: `convolution` for the weights of
    /// convolutions, `linear` for those of linear layers (nil: not shared).
    public static func sharingPlan(_ model: Module, convolution: Int?, linear: Int?) -> [ObjectIdentifier: Int] {
        var plan = [ObjectIdentifier: Int]()
        for m in leafModules(model) {
            guard let w = m.weight else { continue }
            if m is SpatialConvolution, let b = convolution { plan[ObjectIdentifier(w)] = b }
            if m is Linear, let b = linear { plan[ObjectIdentifier(w)] = b }
        }
        return plan
    }

    // MARK: - Reading the layouts

    /// The bytes each model tensor takes in the file at `path` (its F32 data, or a compressed
    /// tensor's streams, values and codebook; a mask tensor counts for its parameter), and how
    /// each compressed tensor is stored ("relative+float32", ...).
    public static func storedBytes(_ path: String) throws -> (bytes: [String: Int], encodings: [String: String]) {
        let raw = try rawFile(path)
        var layoutNames = Set<String>(), encodings = [String: String]()
        if raw.metadata[formatKey] == CompressedModelFile.format, let json = raw.metadata[CompressedModelFile.layoutKey],
           let layout = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] {
            for (name, value) in layout {
                layoutNames.insert(name)
                if let e = value as? [String: Any], let p = e["positions"] as? String, let v = e["values"] as? String {
                    encodings[name] = p + "+" + (v == "shared" ? "shared\(jsonInteger(e["bits"]) ?? 0)" : v)
                }
            }
        }
        var bytes = [String: Int]()
        for e in raw.entries {
            var owner = e.name
            if let dot = e.name.lastIndex(of: "."), layoutNames.contains(String(e.name[..<dot])) { owner = String(e.name[..<dot]) }
            if owner.hasSuffix(maskSuffix) { owner.removeLast(maskSuffix.count) }
            bytes[owner, default: 0] += e.byteRange.count
        }
        return (bytes, encodings)
    }

    /// The file at `path` as it is, F32 and U8 tensors accepted.
    static func rawFile(_ path: String) throws -> SafetensorsFile {
        try SafetensorsFile(contentsOf: path, dtypes: ["F32", "U8"])
    }

    /// Whether the file at `path` is a compressed model file.
    public static func isCompressed(_ path: String) throws -> Bool {
        try rawFile(path).metadata[formatKey] == CompressedModelFile.format
    }

    /// `raw` in the standard layout, every mask a tensor "<name>_mask": a compressed file
    /// decoded (`CompressedModelFile`), compact masks expanded (`CompactMasks`); a file already
    /// so is returned as it is. `shapes` are the model's tensors (for a compressed file's
    /// sparse entries). The result is then checked as any standard file.
    static func standardLayout(_ raw: SafetensorsFile, shapes: [String: [Int]]) throws -> SafetensorsFile {
        let path = raw.file
        var tensors: [(name: String, tensor: Tensor)]
        var metadata: [String: String]
        if raw.metadata[formatKey] == CompressedModelFile.format {
            (tensors, metadata) = try CompressedModelFile.decode(raw, shapes: shapes)
        } else {
            if let e = raw.entries.first(where: { $0.dtype != "F32" }) {
                throw EngineError("\(path): tensor '\(String(e.name.prefix(120)))': dtype \(e.dtype) is not supported; the workbench reads F32 tensors only (convert with .float() before saving)")
            }
            guard raw.metadata[CompactMasks.metadataKey] != nil else { return raw }
            tensors = raw.entries.map { ($0.name, raw.tensor($0.name)!) }
            metadata = raw.metadata
        }
        if let json = metadata[CompactMasks.metadataKey] {
            var byName = [String: Tensor]()
            for t in tensors { byName[t.name] = t.tensor }
            tensors += try CompactMasks.expand(json, over: byName, file: path)
            metadata[CompactMasks.metadataKey] = nil
        }
        return try SafetensorsFile(bytes: try SafetensorsFile.encode(tensors, metadata: metadata), file: path)
    }

    // MARK: - Loading

    /// Rebuilds the model from the file's architecture and loads every tensor into it.
    ///
    /// Nothing is allocated before the whole file is checked: the safetensors layout
    /// (`SafetensorsFile`), every argument of the architecture (`ModuleFactory.blueprint`,
    /// within `ArchitectureLimits`), and every tensor's name and shape against the tensors that
    /// architecture implies. Tensor values must be finite. `types` supplies the module types
    /// defined outside the Engine (Lua classes) the architecture may name; an external type
    /// it does not know is an error saying so, before anything else is checked.
    public static func load(_ path: String, types: ModuleTypeRegistry? = nil) throws -> Sequential {
        let raw = try rawFile(path)
        guard let json = raw.metadata[architectureKey] else {
            throw EngineError("\(path): no architecture in the metadata (\(architectureKey)); build the model and use loadWeights(into:from:)")
        }
        let spec: ModuleSpec
        do {
            spec = try JSONDecoder().decode(ModuleSpec.self, from: Data(json.utf8))
        } catch {
            throw EngineError("\(path): the architecture in the metadata is not a valid module description (\(error))")
        }
        if let missing = (types ?? ModuleTypeRegistry()).firstMissingType(in: spec, who: "model file \(path)") { throw missing }
        let blueprint: ModuleBlueprint
        do { blueprint = try ModuleFactory.blueprint(spec, types: types) } catch let e as EngineError {
            throw EngineError("\(path): bad architecture: \(e.message)")
        }
        guard blueprint.isSequential else {
            throw EngineError("\(path): the architecture's top module is \(String(spec.type.prefix(80))), expected nn.Sequential")
        }
        let slots = blueprint.tensors().map { Slot(name: $0.name, shape: $0.shape, isParameter: $0.isParameter) }
        let file = try standardLayout(raw, shapes: Dictionary(slots.map { ($0.name, $0.shape) }) { a, _ in a })
        try check(file, against: slots)
        let built: Module
        do { built = try blueprint.build() } catch let e as EngineError {
            throw EngineError("\(path): cannot rebuild the model: \(e.message)")
        }
        guard let model = built as? Sequential else {
            throw EngineError("\(path): the architecture's top module is \(spec.type), expected nn.Sequential")
        }
        try copyTensors(from: file, into: model, checked: true)
        return model
    }

    /// Loads the file's tensors into an existing `model`, whose layers must match the file
    /// exactly (same names and shapes, no tensor missing or left over). The architecture
    /// metadata, if any, is not consulted. Masks in the file are installed; a parameter
    /// without a mask in the file has its mask removed, so the model ends as the file says.
    public static func loadWeights(into model: Sequential, from path: String) throws {
        let shapes = Dictionary(try stateDict(model).filter { !$0.isCompanion }.map { ($0.name, $0.tensor.shape) }) { a, _ in a }
        try copyTensors(from: try standardLayout(try rawFile(path), shapes: shapes), into: model)
    }

    /// The tensors of the model file at `path` (standard or compressed) in the standard
    /// layout: every mask a float tensor "<name>_mask", a compressed file decoded. For reading
    /// a file's tensors by name; `load` is what checks them against the architecture.
    public static func standardTensors(_ path: String) throws -> SafetensorsFile {
        let raw = try rawFile(path)
        var shapes = [String: [Int]]()
        if let json = raw.metadata[architectureKey], let spec = try? JSONDecoder().decode(ModuleSpec.self, from: Data(json.utf8)),
           let blueprint = try? ModuleFactory.blueprint(spec, types: nil) {
            for t in blueprint.tensors() { shapes[t.name] = t.shape }
        }
        return try standardLayout(raw, shapes: shapes)
    }

    /// The file's `__metadata__` (of a standard or compressed file).
    public static func metadata(_ path: String) throws -> [String: String] {
        try rawFile(path).metadata
    }

    // MARK: - Naming

    /// A tensor of the model under its state_dict name, and where it goes.
    public struct NamedTensor {
        public let name: String
        public let tensor: Tensor
        /// The parameter it is the value of, or whose mask, scores or stored values it is (nil
        /// for buffers).
        public let parameter: Parameter?
        /// A mask, scores or stored values (not the parameter's value itself).
        public let isCompanion: Bool
    }

    /// The model's tensors as PyTorch would name them, with masks and scores (when present)
    /// and, with `originals`, the stored values under each mask.
    public static func stateDict(_ model: Sequential, originals: Bool = false) throws -> [NamedTensor] {
        var out = [NamedTensor]()
        try collect(model, prefix: "", layerPath: "", originals: originals, into: &out)
        return out
    }

    /// A tensor a complete file must hold: its name, shape, and whether it is a parameter
    /// (which may come with a mask "<name>_mask", scores "<name>_scores" and stored values
    /// "<name>_orig" of the same shape).
    private struct Slot {
        let name: String
        let shape: [Int]
        let isParameter: Bool
    }

    /// Checks, from the file's header and bytes only, that `file` holds exactly the tensors
    /// `slots` (masks, scores and stored values optional; the last two only beside a mask),
    /// with their shapes and finite values.
    private static func check(_ file: SafetensorsFile, against slots: [Slot]) throws {
        let path = file.file
        var expected = [String: [Int]](), masks = [String: (shape: [Int], of: String)]()
        for s in slots {
            expected[s.name] = s.shape
            if s.isParameter { for suffix in companionSuffixes { masks[s.name + suffix] = (s.shape, s.name) } }
        }
        for e in file.entries where expected[e.name] == nil && masks[e.name] == nil {
            throw EngineError("\(path): unknown tensor '\(String(e.name.prefix(120)))': the model has no such parameter or buffer (it has \(describe(slots.map(\.name))))")
        }
        for s in slots {
            guard let e = file.entry(s.name) else {
                throw EngineError("\(path): tensor '\(s.name)' is missing (expected shape \(shapeString(s.shape)))")
            }
            guard e.shape == s.shape else {
                throw EngineError("\(path): tensor '\(s.name)' has shape \(shapeString(e.shape)) but the model's is \(shapeString(s.shape))")
            }
            if let (i, v) = file.firstNonFinite(e) {
                throw EngineError("\(path): tensor '\(s.name)' holds \(v) at index \(i + 1): the file is damaged")
            }
        }
        for name in masks.keys.sorted() {
            guard let e = file.entry(name), let slot = masks[name] else { continue }
            guard e.shape == slot.shape else {
                let kind = name.hasSuffix(maskSuffix) ? "mask" : name.hasSuffix(scoresSuffix) ? "scores" : "stored weights"
                throw EngineError("\(path): \(kind) '\(name)' has shape \(shapeString(e.shape)) but \(slot.of) is \(shapeString(slot.shape))")
            }
            if name.hasSuffix(maskSuffix) { continue }
            guard file.entry(slot.of + maskSuffix) != nil else {
                throw EngineError("\(path): tensor '\(name)' comes without the mask '\(slot.of + maskSuffix)' it belongs to")
            }
            if let (i, v) = file.firstNonFinite(e) {
                throw EngineError("\(path): tensor '\(name)' holds \(v) at index \(i + 1): the file is damaged")
            }
        }
    }

    private static func collect(_ module: Module, prefix: String, layerPath: String, originals: Bool,
                                into out: inout [NamedTensor]) throws {
        if let seq = module as? Container {
            for (i, child) in seq.modules.enumerated() {
                try collect(child, prefix: "\(prefix)\(i).", layerPath: layerPath.isEmpty ? "\(i + 1)" : "\(layerPath).\(i + 1)",
                            originals: originals, into: &out)
            }
            return
        }
        guard module.allParameters.count == module.parameters.count else {
            throw EngineError("layer \(layerPath) (\(module.typeName)) holds other modules; model files can only name the tensors of nn.Sequential containers")
        }
        for p in module.parameters { out.append(NamedTensor(name: prefix + p.name, tensor: p.value, parameter: p, isCompanion: false)) }
        for b in module.buffers { out.append(NamedTensor(name: prefix + b.name, tensor: b.value, parameter: nil, isCompanion: false)) }
        for p in module.parameters {
            guard let m = p.mask else { continue }
            let name = prefix + p.name
            out.append(NamedTensor(name: name + maskSuffix, tensor: m, parameter: p, isCompanion: true))
            if let s = p.scores { out.append(NamedTensor(name: name + scoresSuffix, tensor: s.value, parameter: p, isCompanion: true)) }
            if originals { out.append(NamedTensor(name: name + originalSuffix, tensor: p.weights(), parameter: p, isCompanion: true)) }
        }
    }

    /// Checks that `file` holds exactly the model's tensors (masks, scores and stored values
    /// optional), unless `checked` says `load` did so already against the same architecture,
    /// then copies them: each parameter ends as the file says (W_eff, and its mask, scores and
    /// stored values when the file has them; without them, none). Nothing in the model
    /// changes unless every check passes.
    private static func copyTensors(from file: SafetensorsFile, into model: Sequential, checked: Bool = false) throws {
        let path = file.file
        let named = try stateDict(model).filter { !$0.isCompanion }
        if !checked {
            try check(file, against: named.map { Slot(name: $0.name, shape: $0.tensor.shape, isParameter: $0.parameter != nil) })
        }
        /// A companion tensor of `name` read from the file, or nil when the file has none.
        func companion(_ name: String, _ suffix: String) -> (tensor: Tensor, name: String)? {
            guard let e = file.entry(name + suffix) else { return nil }
            let t = Tensor(shape: e.shape)
            file.copy(e, into: t)
            return (t, e.name)
        }
        var restored = [(Parameter, mask: (tensor: Tensor, name: String), scores: Tensor?, original: Tensor?)]()
        for t in named {
            guard let p = t.parameter, let m = companion(t.name, maskSuffix) else { continue }
            if let bad = (0..<m.tensor.count).first(where: { m.tensor.data[$0] != 0 && m.tensor.data[$0] != 1 }) {
                throw EngineError("\(path): mask '\(m.name)' holds \(m.tensor.data[bad]) at index \(bad + 1); masks hold only 0 and 1")
            }
            restored.append((p, m, companion(t.name, scoresSuffix)?.tensor, companion(t.name, originalSuffix)?.tensor))
        }
        for t in named {
            t.parameter?.removeMask()
            file.copy(file.entry(t.name)!, into: t.tensor)
        }
        for (p, m, scores, original) in restored {
            do {
                try p.setMask(m.tensor)
                if let original { try p.setWeights(original) }
                if let scores { try p.restoreScores(scores) }
            } catch let e as EngineError { throw EngineError("\(path): mask '\(m.name)': \(e.message)") }
        }
    }

    private static func describe(_ names: [String]) -> String {
        names.isEmpty ? "no tensors" : names.count <= 12 ? names.joined(separator: ", ") : names.prefix(12).joined(separator: ", ") + ", ..."
    }
}
