import Foundation

/// A seeded 64-bit generator (xoshiro256**, seeded by SplitMix64): the same seed gives the
/// same stream on every machine.
public struct RandomGenerator: RandomNumberGenerator {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    /// The generator's four words of state: `RandomGenerator(state: g.state)` continues g's
    /// stream exactly (a checkpoint's way to resume the same numbers).
    public var state: [UInt64] { [s.0, s.1, s.2, s.3] }

    /// The generator whose state is `state` (four words, not all zero: xoshiro's one
    /// unreachable state).
    public init(state: [UInt64]) throws {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else {
            throw EngineError("a generator state is 4 words, not all 0; got \(state.count) words")
        }
        s = (state[0], state[1], state[2], state[3])
    }

    /// The state as 64 hex digits (the four words in order), and back.
    public var stateText: String { state.map { String(repeating: "0", count: 16 - String($0, radix: 16).count) + String($0, radix: 16) }.joined() }

    public init(stateText: String) throws {
        let c = Array(stateText.utf8)
        guard c.count == 64 else { throw EngineError("a generator state is 64 hex digits, got \(c.count) characters") }
        var words = [UInt64]()
        for w in 0..<4 {
            guard let x = UInt64(String(decoding: c[(16 * w)..<(16 * w + 16)], as: UTF8.self), radix: 16) else {
                throw EngineError("a generator state is 64 hex digits, got '\(stateText)'")
            }
            words.append(x)
        }
        try self.init(state: words)
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * nextUniform() }

    /// Standard normal by Box-Muller, from two draws.
    public mutating func normal() -> Float {
        let a = next()
        return Self.normal(a, next())
    }

    /// The Box-Muller transform of two draws a, b (in the order `next` gave them):
    /// √(−2 ln u₁) · cos(2π u₂) with u = 53-bit uniforms in [0, 1) (u₁ at least 1e-300). Pure,
    /// so the transforms of draws made in order can run on any thread.
    @inline(__always) public static func normal(_ a: UInt64, _ b: UInt64) -> Float {
        let u1 = Swift.max(Double(a >> 11) * (1.0 / 9_007_199_254_740_992.0), 1e-300)
        let u2 = Double(b >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float(sqrt(-2 * log(u1)) * cos(2 * .pi * u2))
    }

    /// A uniformly random permutation of 0..<n (Fisher-Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) {
                let j = Int(next() % UInt64(i + 1))
                p.swapAt(i, j)
            }
        }
        return p
    }
}

extension Tensor {
    /// Fills with U(lo, hi) from `rng`.
    public func fillUniform(_ lo: Float, _ hi: Float, _ rng: inout RandomGenerator) {
        let p = data
        for i in 0..<count { p[i] = rng.uniform(lo, hi) }
    }

    /// Fills with N(mean, std²) from `rng`.
    public func fillNormal(mean: Float = 0, std: Float = 1, _ rng: inout RandomGenerator) {
        let p = data
        for i in 0..<count { p[i] = mean + std * rng.normal() }
    }
}

/// The process-wide generator layers draw their initial weights from, like Torch's global
/// generator: `GlobalRandom.seed(0)` then building a model gives the same weights each time.
public enum GlobalRandom {
    nonisolated(unsafe) public static var generator = RandomGenerator(seed: 0)
    public static func seed(_ s: UInt64) { generator = RandomGenerator(seed: s) }
}
