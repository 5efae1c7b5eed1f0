/// DeepR (Bellec et al. 2018) on one weight parameter, as IntelAI/dynamic-reparameterization
/// runs it with `--DeepR`, fused: one pass over the active entries instead of indexed tensor
/// calls. W has n entries and a 0/1 mask M; A = (a_1, ..., a_m) are its active positions in a
/// fixed order and s_j the sign of W_{a_j} at the last step.
///
/// After backward, `addNoise(std: σ)` with σ = √(2·η·T):
///
///   g_{a_j} ← g_{a_j} + σ·z_j,   z_1, ..., z_m ~ N(0, 1) drawn in A's order (ziggurat).
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
/// m never changes. The positions grown and their values are, in order and bit for bit, the
/// draws the Lua version made from the same generator (scripts/lib/sparsetrain/masks.lua's drawFree and newValues): when
/// more than half of the positions are free and at least 4k are, by rejection — batches of
/// 2·(k − found) + 8 uniforms u, position ⌊u·n⌋ (at most n − 1) kept when inactive and new —,
/// otherwise k entries of a random permutation of the free positions in ascending order.
public final class DeepRConnections {
    public let parameter: Parameter
    /// A, 0-based, in its order.
    public private(set) var active: [Int]
    /// s_j, the sign of W_{a_j} at the last step, as a code (`signCode`).
    private var sign: [UInt8]
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
        sign = self.active.map { Self.signCode(w[$0]) }
    }

    /// sign(x) as a code: 0 for ±0 (and NaN, as x > 0 and x < 0 are both false), 1 for
    /// x > 0, 2 for x < 0, from the bits and without a branch (the signs of trained weights
    /// are not predictable, and a mispredicted branch throws away the loads in flight). Two
    /// signs have a product < 0 exactly when their codes OR to 3.
    @inline(__always) static func signCode(_ x: Float) -> UInt8 {
        let b = x.bitPattern, magnitude = b & 0x7fff_ffff
        let nonzero: UInt32 = magnitude &- 1 < 0x7f80_0000 ? 1 : 0   // 0 < |x| ≤ ∞
        return UInt8(truncatingIfNeeded: nonzero &* ((b >> 31) &+ 1))
    }

    /// g_{a_j} += σ·z_j, z_j ~ N(0, 1) from `rng` in A's order, by the ziggurat
    /// (`RandomGenerator.zigguratNormal`: about one draw per entry and no transcendental
    /// function on ~99% of them).
    public func addNoise(std: Float, _ rng: inout RandomGenerator) {
        let g = parameter.grad.data
        active.withUnsafeBufferPointer { a in
            for p in a { g[p] += rng.zigguratNormal() * std }
        }
    }

    /// F's list, reused.
    private var flippedScratch: [Int] = []

    /// The sign-flip rewiring after a step (above). `optimizer`: its state at the grown and the
    /// pruned positions is zeroed; `newWeightStd`: grown weights from N(0, std²) (nil: 0).
    public func rewire(optimizer: Optimizer?, newWeightStd: Float?, _ rng: inout RandomGenerator) throws -> Step {
        guard let maskTensor = parameter.mask else { throw EngineError("DeepR: the \(parameter.name) lost its mask") }
        let w = parameter.value.data, mask = maskTensor.data, n = maskTensor.count
        // F, collected without a branch: j is written at the end of the list, which grows by
        // one when j flipped.
        if flippedScratch.count < active.count + 1 { flippedScratch = [Int](repeating: 0, count: active.count + 1) }
        var count = 0
        active.withUnsafeBufferPointer { a in
            sign.withUnsafeMutableBufferPointer { s in
                flippedScratch.withUnsafeMutableBufferPointer { f in
                    for j in 0..<a.count {
                        let now = Self.signCode(w[a[j]])
                        f[count] = j
                        count &+= Int((now | s[j]) == 3 ? 1 : 0)
                        s[j] = now
                    }
                }
            }
        }
        let flipped = Array(flippedScratch[0..<count])
        let k = flipped.count
        let pruned = flipped.map { active[$0] }
        let grown = drawFree(k, mask: mask, n: n, &rng)
        var values = [Float](repeating: 0, count: k)
        if let std = newWeightStd {
            for i in 0..<k { values[i] = (0 + 1 * rng.normal()) * std }
        }
        for p in pruned { mask[p] = 0; w[p] = 0 }
        for (i, p) in grown.enumerated() { mask[p] = 1; w[p] = values[i] }
        if k > 0, let optimizer {
            // No state at the grown positions, none at the pruned ones either (an optimiser's
            // next step would zero it under the mask): the layout of the active entries can
            // then move with the mask (MaskPattern.move), and sparse training's next step
            // stays on the active entries.
            try optimizer.resetState(of: parameter, elements: grown + pruned)
            if let pattern = parameter.maskPattern, !pattern.move(removing: pruned, adding: grown) {
                parameter.maskPattern = nil
            }
        }
        for (i, j) in flipped.enumerated() {
            active[j] = grown[i]
            sign[j] = Self.signCode(w[grown[i]])
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
