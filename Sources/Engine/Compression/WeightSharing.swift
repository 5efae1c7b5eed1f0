/// Weight sharing (Deep Compression, Han et al. 2016): the stored entries of a layer's weight
/// take one of K = 2^bits shared values (a codebook), found by k-means (Lloyd's iterations)
/// over the entries, with the centroids started evenly spaced between the smallest and the
/// largest entry (the paper's linear initialisation). In one dimension the centroids stay
/// sorted, so each entry's nearest centroid is found by binary search between midpoints
/// (ties to the lower centroid). Iterations stop when no assignment changes, or after
/// `maxIterations`. A centroid no entry is nearest to keeps its value.
///
/// When the entries have at most K distinct values, the codebook is those values, sorted:
/// so sharing weights that already take codebook values (after `quantize` and fine-tuning)
/// finds their codebook exactly.
public struct Codebook {
    public let centroids: [Float]
    /// For each entry, its centroid's index.
    public let codes: [Int]

    public static let maxIterations = 100
    public static let bitRange = 1...16

    public init(values: [Float], bits: Int) {
        precondition(Self.bitRange.contains(bits))
        let k = 1 << bits
        let distinct = Array(Set(values.map { $0 == 0 ? Float(0) : $0 })).sorted()
        if distinct.count <= k {
            var index = [Float: Int]()
            for (i, v) in distinct.enumerated() { index[v] = i }
            centroids = distinct.isEmpty ? [0] : distinct
            codes = values.map { index[$0 == 0 ? 0 : $0]! }
            return
        }
        let lo = distinct.first!, hi = distinct.last!
        var c = (0..<k).map { lo + (hi - lo) * Float($0) / Float(k - 1) }
        var assign = [Int](repeating: -1, count: values.count)
        for _ in 0..<Self.maxIterations {
            var changed = false
            var sums = [Double](repeating: 0, count: k), counts = [Int](repeating: 0, count: k)
            for (i, v) in values.enumerated() {
                let a = Self.nearest(v, c)
                if a != assign[i] { assign[i] = a; changed = true }
                sums[a] += Double(v)
                counts[a] += 1
            }
            if !changed { break }
            for j in 0..<k where counts[j] > 0 { c[j] = Float(sums[j] / Double(counts[j])) }
        }
        centroids = c
        codes = values.map { Self.nearest($0, c) }
    }

    /// The index of the centroid nearest to v (sorted centroids; ties to the lower one).
    static func nearest(_ v: Float, _ c: [Float]) -> Int {
        var lo = 0, hi = c.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            // v is nearer to c[mid] than to c[mid + 1] (or as near) when v ≤ their midpoint
            if v <= (c[mid] + c[mid + 1]) / 2 { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}

/// The entries of a parameter that a compressed file stores: where its mask is 1 when it has
/// a mask, else where its value's bit pattern is not 0 (so −0 is kept).
public func storedPositions(_ p: Parameter) -> [Int] { storedPositions(p.value, mask: p.mask) }

public func storedPositions(_ value: Tensor, mask: Tensor?) -> [Int] {
    var out = [Int]()
    if let m = mask?.data {
        for i in 0..<value.count where m[i] != 0 { out.append(i) }
    } else {
        let v = value.data
        for i in 0..<value.count where v[i].bitPattern != 0 { out.append(i) }
    }
    return out
}

/// A weight whose stored entries share a codebook, for fine-tuning the centroids.
public final class SharedWeight {
    public let parameter: Parameter
    public let positions: [Int]
    public let codes: [Int]
    public var centroids: [Float]

    /// Shares the stored entries of `parameter` over 2^bits values (k-means) and writes each
    /// entry's centroid into the parameter's value.
    public init(_ parameter: Parameter, bits: Int) {
        self.parameter = parameter
        positions = storedPositions(parameter)
        let v = parameter.value.data
        let book = Codebook(values: positions.map { v[$0] }, bits: bits)
        codes = book.codes
        centroids = book.centroids
        write()
    }

    /// value[p_i] = centroid[code_i].
    public func write() {
        let v = parameter.value.data
        for (i, p) in positions.enumerated() { v[p] = centroids[codes[i]] }
    }
}

/// Fine-tuning of shared centroids (Deep Compression): each centroid moves by the sum of the
/// gradients of the entries that share it, g_k = Σ_{i: code_i = k} ∂L/∂W_i, with SGD and
/// momentum (v ← g on the first step, then v ← μ·v + g; c_k ← c_k − lr · v_k); then every
/// entry takes its centroid's value again. Only the shared weights change; the other
/// parameters (biases, unshared layers) stay as they are.
public final class CodebookSGD: Optimizer {
    public let shared: [SharedWeight]
    public let defaults: ParameterGroup
    public var groups: [ParameterGroup] { get { [] } set {} }
    private var velocity: [[Double]]?

    public init(_ shared: [SharedWeight], learningRate: Float, momentum: Float) {
        self.shared = shared
        defaults = ParameterGroup([], learningRate: learningRate, momentum: momentum)
    }

    public func step(_ model: Module) {
        let lr = Double(defaults.learningRate), mom = Double(defaults.momentum)
        let first = velocity == nil
        var vel = velocity ?? shared.map { [Double](repeating: 0, count: $0.centroids.count) }
        for (s, w) in shared.enumerated() {
            var g = [Double](repeating: 0, count: w.centroids.count)
            let grad = w.parameter.grad.data
            for (i, p) in w.positions.enumerated() { g[w.codes[i]] += Double(grad[p]) }
            for k in g.indices {
                vel[s][k] = first ? g[k] : mom * vel[s][k] + g[k]
                w.centroids[k] = Float(Double(w.centroids[k]) - lr * vel[s][k])
            }
            w.write()
        }
        velocity = vel
    }

    public func reset() { velocity = nil }
    public func resetState(of p: Parameter, elements: [Int]?) throws {}
}
