import Foundation

/// Masks stored without a tensor of their own. A pruned parameter's saved value is W ⊙ M, so
/// its mask is M = (value ≠ 0) except where a kept weight is exactly 0; those exceptions are
/// listed. The metadata key "workbench.masks" holds a JSON object mapping each such
/// parameter's tensor name to its exceptions as runs [start, count] of flat 0-based indices
/// (in C order) where M = 1 though the value is 0:
///
///     "workbench.masks": "{\"7.weight\":[],\"9.weight\":[[3,1],[100,20]]}"
///
/// PyTorch's float mask is then `m = (w != 0).float()`, and `m.view(-1)[s:s+c] = 1` for each
/// run. A mask that cannot be written so (an entry removed by the mask whose value is not 0,
/// or more than `maxRuns` runs) is written as the tensor "<name>_mask" instead.
public enum CompactMasks {
    public static let metadataKey = "workbench.masks"
    /// More exception runs than this and the mask is written as a float tensor.
    public static let maxRuns = 4096

    /// The exception runs of `mask` over `value`, or nil when the mask is not M = (value ≠ 0)
    /// plus at most `maxRuns` runs.
    public static func exceptions(value: Tensor, mask: Tensor) -> [[Int]]? {
        precondition(value.count == mask.count)
        let v = value.data, m = mask.data
        var runs = [[Int]]()
        var i = 0
        while i < value.count {
            if m[i] == 0 {
                guard v[i] == 0 else { return nil }
                i += 1
                continue
            }
            if v[i] != 0 { i += 1; continue }
            let start = i
            while i < value.count && m[i] != 0 && v[i] == 0 { i += 1 }
            runs.append([start, i - start])
            if runs.count > maxRuns { return nil }
        }
        return runs
    }

    /// The metadata value for `masks` (tensor name → runs), with sorted keys.
    public static func encode(_ masks: [String: [[Int]]]) -> String {
        "{" + masks.keys.sorted().map { name in
            SafetensorsFile.jsonString(name) + ":[" + masks[name]!.map { "[\($0[0]),\($0[1])]" }.joined(separator: ",") + "]"
        }.joined(separator: ",") + "}"
    }

    /// The masks `json` describes, built over the tensors they belong to, as "<name>_mask"
    /// tensors; every name must be a tensor of `tensors` without a mask tensor of its own,
    /// every run inside it. `file` names the file in errors.
    public static func expand(_ json: String, over tensors: [String: Tensor], file: String) throws -> [(name: String, tensor: Tensor)] {
        let who = "\(file): \(metadataKey)"
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(json.utf8)) } catch {
            throw EngineError("\(who) is not valid JSON")
        }
        guard let dict = object as? [String: Any] else { throw EngineError("\(who) is not a JSON object") }
        var out = [(name: String, tensor: Tensor)]()
        for name in dict.keys.sorted() {
            let shown = String(name.prefix(120))
            guard let w = tensors[name] else { throw EngineError("\(who): mask of '\(shown)', which is not a tensor of the file") }
            guard tensors[name + ModelFile.maskSuffix] == nil else {
                throw EngineError("\(who): '\(shown)' has a mask tensor '\(shown)\(ModelFile.maskSuffix)' as well")
            }
            guard let list = dict[name] as? [Any] else { throw EngineError("\(who): the exceptions of '\(shown)' are not a list") }
            let m = Tensor(shape: w.shape)
            let v = w.data, d = m.data
            for i in 0..<w.count { d[i] = v[i] != 0 ? 1 : 0 }
            for run in list {
                guard let pair = run as? [Any], pair.count == 2,
                      let s = jsonInteger(pair[0]), let c = jsonInteger(pair[1]) else {
                    throw EngineError("\(who): an exception of '\(shown)' is not a pair [start, count] of integers")
                }
                guard s >= 0, c >= 1, s < w.count, c <= w.count - s else {
                    throw EngineError("\(who): exception run [\(s), \(c)] of '\(shown)' is outside its \(w.count) entries")
                }
                for i in s..<(s + c) { d[i] = 1 }
            }
            out.append((name + ModelFile.maskSuffix, m))
        }
        return out
    }
}
