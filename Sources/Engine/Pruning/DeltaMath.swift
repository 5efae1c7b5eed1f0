import Kernels
import Foundation

/// Branch-free float32 kernels for computing *changes* of activations and losses precisely.
///
/// The fast empirical pruner measures f(a + δ) - f(a) for tiny δ. Computing f(a + δ) and
/// subtracting f(a) loses all precision when δ ≪ a; these kernels use identities whose
/// rounding error is relative to the change itself. Written as plain loops over raw buffers
/// without calls, so that the release build vectorises them.
enum DeltaMath {
    /// tanh(a + δ) - tanh(a) given t = tanh(a) and s = 1 - tanh²(a) = sech²(a):
    ///
    ///   tanh(a + δ) - tanh(a) = s · τ / (1 + t · τ),   τ = tanh(δ) = p(δ) / q(δ),
    ///
    /// evaluated as s · p / (q + t · p) (one division); relative error a few ulp of the result.
    @inline(__always)
    static func tanhDelta(t: Float, slope s: Float, delta d: Float) -> Float {
        let (p, q) = FastMath.tanhRatio(d)
        let small = d < 0.0004 && d > -0.0004
        let pp = small ? d : p
        let qq = small ? 1 : q
        return s * pp / (qq + t * pp)
    }

    /// In place over n values: δ[i] ← tanh(a_i + δ_i) - tanh(a_i), with t and s as in `tanhDelta`.
    @inline(__always)
    static func tanhDelta(_ delta: UnsafeMutablePointer<Float>, t: UnsafePointer<Float>, slope: UnsafePointer<Float>, _ n: Int) {
        for i in 0..<n { delta[i] = tanhDelta(t: t[i], slope: slope[i], delta: delta[i]) }
    }

    /// e^x - 1 for float x, relative error ~1e-7 including near 0 (x ≤ -88 gives -1, x is
    /// clamped at 88). Cody-Waite reduction x = k·ln2 + r, |r| ≤ ln2/2, a degree-8 Taylor
    /// polynomial for e^r - 1, then e^x - 1 = 2^k (e^r - 1) + (2^k - 1).
    @inline(__always)
    static func expm1(_ x: Float) -> Float {
        let xc = x < -88 ? -88 : (x > 88 ? 88 : x)
        let shifter: Float = 12_582_912 // 1.5 · 2²³: adding it rounds to an integer
        let k = (xc * 1.44269504088896341 + shifter) - shifter
        let r = (xc - k * 0.693145751953125) - k * 1.42860682030941723e-06
        var p: Float = 1.0 / 40320
        p = p * r + 1.0 / 5040; p = p * r + 1.0 / 720; p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24; p = p * r + 1.0 / 6; p = p * r + 0.5
        p = p * r * r + r
        let ki = Int32(k) + 127
        let scale = Float(bitPattern: UInt32(ki < 0 ? 0 : ki) << 23)
        return scale * p + (scale - 1)
    }

    /// log(1 + s) for float s > -1, relative error a few ulp including near 0: with u = 1 + s
    /// rounded, log1p(s) = log(u) · s / (u - 1) (Kahan), and log(u) = e·ln2 + 2 atanh(f),
    /// f = (m - 1)/(m + 1) for u = m·2^e, m ∈ [√½, √2), by its odd series to f¹¹.
    @inline(__always)
    static func log1p(_ s: Float) -> Float {
        let u = 1 + s
        let bits = u.bitPattern
        var e = Int32(bitPattern: (bits >> 23) & 0xFF) - 127
        var m = Float(bitPattern: (bits & 0x007F_FFFF) | 0x3F80_0000)
        let big = m > 1.41421356237
        m = big ? m * 0.5 : m
        e = big ? e + 1 : e
        let f = (m - 1) / (m + 1)
        let f2 = f * f
        var poly: Float = 1.0 / 11
        poly = poly * f2 + 1.0 / 9; poly = poly * f2 + 1.0 / 7; poly = poly * f2 + 1.0 / 5
        poly = poly * f2 + 1.0 / 3; poly = poly * f2 + 1
        let logU = Float(e) * 0.693147180559945309 + 2 * f * poly
        let um1 = u - 1
        return um1 == 0 ? s : logU * (s / um1)
    }
}
