/// DeepR (Bellec et al. 2018) on one weight parameter, as IntelAI/dynamic-reparameterization
/// runs it with `--DeepR`, fused: one pass over the active entries instead of indexed tensor
/// calls. W has n entries and a 0/1 mask M; A = (a_1, ..., a_m) are its active positions in a
/// fixed order and s_j the sign of W_{a_j} at the last step.
///
/// After backward, `addNoise(std: σ)` with σ = √(2·η·T):
///
///   g_{a_j} ← g_{a_j} + σ·z_j,   z_1, ..., z_m ~ N(0, 1) drawn in A's order.
///
/// After the optimiser step, `rewire`:
///
///   F = { j : sign(W_{a_j}) · s_j < 0 }                 (the active weights whose sign flipped)
///   G = k = |F| positions drawn uniformly without replacement among those with M = 0 (so
///       never one of F's, still active while drawing)
///   M_{a_j} ← 0, W_{a_j} ← 0 for j ∈ F;  M_p ← 1, W_p ← v_p, velocity_p ← 0 for p ∈ G
///       (v = 0, or N(0, 1/fan_in) with `newWeightStd`)
///   a_j ← the j-th of G for the j-th of F (in order);  s_j ← sign(W_{a_j}) for every j.
///
/// m never changes. The draws are, in order and bit for bit, the ones the Lua version made
/// from the same generator (scripts/lib/sparsetrain/masks.lua's drawFree and newValues): when
/// more than half of the positions are free and at least 4k are, by rejection — batches of
/// 2·(k − found) + 8 uniforms u, position ⌊u·n⌋ (at most n − 1) kept when inactive and new —,
/// otherwise k entries of a random permutation of the free positions in ascending order.
public final class DeepRConnections {
    public let parameter: Parameter
    /// A, 0-based, in its order.
    public private(set) var active: [Int]
    /// s_j, the sign of W_{a_j} at the last step (-1, 0 or 1).
    private var sign: [Float]
    /// The positions grown by the last `rewire` (nil before the first), for the original's
    /// "pruned x (y %) just grown weights" line.
    public private(set) var lastGrown: [Int]?

    /// What one `rewire` did: k pruned and grown, how many of the pruned were grown by the
    /// rewiring before (nil before a second rewiring) and how many that one grew.
    public struct Step: Equatable {
        public var moved: Int
        public var prunedJustGrown: Int?
        public var grownBefore: Int?
    }

    /// `active`: A in a saved order (0-based; the mask's active positions); nil: ascending.
    public init(parameter: Parameter, active: [Int]? = nil) throws {
        guard let mask = parameter.mask else { throw EngineError("DeepR needs a masked \(parameter.name): it moves the mask's active entries") }
        let m = mask.data, n = mask.count
        let ascending = (0..<n).filter { m[$0] != 0 }
        if let active {
            guard active.count == ascending.count, Set(active) == Set(ascending) else {
                throw EngineError("DeepR: \(active.count) saved positions are not the \(ascending.count) active entries of the \(parameter.name)")
            }
        }
        self.parameter = parameter
        self.active = active ?? ascending
        let w = parameter.value.data
        sign = self.active.map { Self.sign(w[$0]) }
    }

    @inline(__always) static func sign(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }

    /// g_{a_j} += σ·z_j, z_j ~ N(0, 1) from `rng` in A's order: the draws made in order, their
    /// Box-Muller transforms (the costly part) split across the engine's threads.
    public func addNoise(std: Float, _ rng: inout RandomGenerator) {
        let g = parameter.grad.data, m = active.count
        if draws.count < 2 * m { draws = [UInt64](repeating: 0, count: 2 * m) }
        draws.withUnsafeMutableBufferPointer { d in
            for i in 0..<(2 * m) { d[i] = rng.next() }
            let dp = UnsafePointer(d.baseAddress!)
            active.withUnsafeBufferPointer { a in
                let ap = a.baseAddress!
                Parallel.forChunks(m, costPerItem: 60) { r in
                    for j in r {
                        let z = 0 + 1 * RandomGenerator.normal(dp[2 * j], dp[2 * j + 1])   // as Tensor.fillNormal(mean: 0, std: 1) draws it
                        g[ap[j]] += z * std
                    }
                }
            }
        }
    }

    /// The generator's draws of one `addNoise`, reused.
    private var draws: [UInt64] = []

    /// The sign-flip rewiring after a step (above). `optimizer`: its state at grown positions
    /// is zeroed; `newWeightStd`: grown weights from N(0, std²) (nil: 0).
    public func rewire(optimizer: Optimizer?, newWeightStd: Float?, _ rng: inout RandomGenerator) throws -> Step {
        guard let maskTensor = parameter.mask else { throw EngineError("DeepR: the \(parameter.name) lost its mask") }
        let w = parameter.value.data, mask = maskTensor.data, n = maskTensor.count
        var flipped = [Int]()
        for j in 0..<active.count {
            let now = Self.sign(w[active[j]])
            if now * sign[j] < -0.5 { flipped.append(j) }
            sign[j] = now
        }
        let k = flipped.count
        let pruned = flipped.map { active[$0] }
        let grown = drawFree(k, mask: mask, n: n, &rng)
        var values = [Float](repeating: 0, count: k)
        if let std = newWeightStd {
            for i in 0..<k { values[i] = (0 + 1 * rng.normal()) * std }
        }
        for p in pruned { mask[p] = 0; w[p] = 0 }
        for (i, p) in grown.enumerated() { mask[p] = 1; w[p] = values[i] }
        if k > 0, let optimizer { try optimizer.resetState(of: parameter, elements: grown) }
        for (i, j) in flipped.enumerated() {
            active[j] = grown[i]
            sign[j] = Self.sign(w[grown[i]])
        }
        var step = Step(moved: k)
        if let before = lastGrown {
            let set = Set(before)
            step.prunedJustGrown = pruned.filter { set.contains($0) }.count
            step.grownBefore = before.count
        }
        lastGrown = grown
        return step
    }

    /// k inactive positions drawn uniformly without replacement (the Lua drawFree's draws).
    private func drawFree(_ k: Int, mask: UnsafeMutablePointer<Float>, n: Int, _ rng: inout RandomGenerator) -> [Int] {
        guard k > 0 else { return [] }
        let free = n - active.count
        precondition(free >= k, "fewer free positions than connections to grow")
        if Double(free) < Double(n) / 2 || free < 4 * k {
            let eligible = (0..<n).filter { mask[$0] == 0 }
            let order = rng.permutation(eligible.count)
            return (0..<k).map { eligible[order[$0]] }
        }
        var out = [Int](), taken = Set<Int>()
        while out.count < k {
            let u = (0..<(2 * (k - out.count) + 8)).map { _ in rng.uniform(0, 1) }
            for x in u {
                let p = min(Int((Double(x) * Double(n)).rounded(.down)), n - 1)
                if !taken.contains(p) && mask[p] == 0 {
                    taken.insert(p)
                    out.append(p)
                    if out.count == k { break }
                }
            }
        }
        return out
    }
}
