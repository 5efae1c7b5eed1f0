import Foundation

/// Standard normal draws by Marsaglia and Tsang's ziggurat ("The ziggurat method for generating
/// random variables", J. Stat. Software 5(8), 2000), for work that draws a normal per entry at
/// every step (DeepR's gradient noise): ~1 draw and one compare per number, against Box-Muller's
/// two draws, a logarithm, a square root and a cosine.
///
/// The density f(x) = exp(−x²/2) is covered by 128 strips of equal area v: strip 0 is the base
/// (the rectangle [0, r] × [0, f(r)] plus the tail x > r = 3.442619855899), strip i ≥ 1 the
/// rectangle [0, x_i] × [f(x_i), f(x_{i−1})], with r = x_127 > x_126 > ... > x_1 and f(x_0) = 1
/// (the top strip). A draw takes a strip i (7 bits) and a signed 32-bit h, x = h · w_i with
/// w_i = x_i / 2³¹ (w_0 = (v / f(r)) / 2³¹, the base's width as a rectangle of area v);
/// |h| < k_i = 2³¹ · x_{i−1}/x_i (x under the narrower strip above, so under the curve)
/// returns x at once (~98.8% of draws); otherwise the base draws from the tail by Marsaglia's
/// method (x = −ln(u₁)/r, y = −ln(u₂), kept when 2y ≥ x²: r + x), a strip i ≥ 1 accepts x when
/// f(x_i) + u · (f(x_{i−1}) − f(x_i)) < f(x), /// and a rejection draws again. Strip and h come from separate bits of one 64-bit draw (the
/// original reused h's low bits for the strip).
extension RandomGenerator {
    /// A standard normal number by the ziggurat.
    @inline(__always) public mutating func zigguratNormal() -> Float {
        let t = Ziggurat.tables
        while true {
            let r = next()
            let i = Int(r & 127)
            let h = Int32(truncatingIfNeeded: r >> 32)
            if h.magnitude < t.k[i] { return Float(Double(h) * t.w[i]) }
            let x = Double(h) * t.w[i]
            if i == 0 {
                // the tail beyond r, on the side of h's sign
                while true {
                    let a = -log(Swift.max(nextUniformDouble(), 1e-300)) / Ziggurat.r
                    let b = -log(Swift.max(nextUniformDouble(), 1e-300))
                    if b + b >= a * a { return Float(h > 0 ? Ziggurat.r + a : -Ziggurat.r - a) }
                }
            }
            if t.f[i] + nextUniformDouble() * (t.f[i - 1] - t.f[i]) < exp(-0.5 * x * x) { return Float(x) }
        }
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always) mutating func nextUniformDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }
}

/// The ziggurat's strips (Marsaglia and Tsang's RNOR with 128 strips): k_i = ⌊2³¹ · x_{i−1}/x_i⌋
/// (k_0 = ⌊2³¹ · r·f(r)/v⌋, the base rectangle's share under the curve; k_1 = 0), w_i = x_i / 2³¹,
/// f_i = f(x_i) (f_0 = 1); x_i solves x_{i+1} · (f(x_i) − f(x_{i+1})) = v from x_127 = r down.
enum Ziggurat {
    static let r = 3.442619855899
    /// The area of each strip.
    static let v = 9.91256303526217e-3

    struct Tables { var k: [UInt32], w: [Double], f: [Double] }

    static let tables: Tables = {
        let m = 2147483648.0
        var k = [UInt32](repeating: 0, count: 128), w = [Double](repeating: 0, count: 128), f = [Double](repeating: 0, count: 128)
        var d = r, t = r
        let q = v / exp(-0.5 * d * d)
        k[0] = UInt32(d / q * m)
        k[1] = 0
        w[0] = q / m
        w[127] = d / m
        f[0] = 1
        f[127] = exp(-0.5 * d * d)
        for i in stride(from: 126, through: 1, by: -1) {
            d = sqrt(-2 * log(v / d + exp(-0.5 * d * d)))
            k[i + 1] = UInt32(d / t * m)
            t = d
            f[i] = exp(-0.5 * d * d)
            w[i] = d / m
        }
        return Tables(k: k, w: w, f: f)
    }()
}
