import Foundation

/// Vectorised transcendental functions for activation layers.
public enum FastMath {
    /// tanh(x) by the rational minimax approximation used by Eigen (see `tanhRatio`),
    /// accurate to a few ulp in float32; x itself for |x| < 0.0004. A plain loop that the
    /// compiler vectorises.
    public static func tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n {
            let v = x[i]
            let (p, q) = tanhRatio(v)
            y[i] = Swift.abs(v) < 0.0004 ? v : p / q
        }
    }

    /// tanh(x) ≈ p(x) / q(x) for x clamped to ±7.905: p odd of degree 13, q even of degree 6
    /// (Eigen's coefficients). Shared by `tanh` and the empirical pruner's exact deltas.
    @inlinable @inline(__always)
    public static func tanhRatio(_ v: Float) -> (p: Float, q: Float) {
        let c: Float = 7.90531110763549805
        let a1: Float = 4.89352455891786e-03, a3: Float = 6.37261928875436e-04
        let a5: Float = 1.48572235717979e-05, a7: Float = 5.12229709037114e-08
        let a9: Float = -8.60467152213735e-11, a11: Float = 2.00018790482477e-13
        let a13: Float = -2.76076847742355e-16
        let b0: Float = 4.89352518554385e-03, b2: Float = 2.26843463243900e-03
        let b4: Float = 1.18534705686654e-04, b6: Float = 1.19825839466702e-06
        let xc = Swift.min(Swift.max(v, -c), c)
        let x2 = xc * xc
        var p = a13
        p = p * x2 + a11; p = p * x2 + a9; p = p * x2 + a7; p = p * x2 + a5
        p = p * x2 + a3; p = p * x2 + a1
        p = p * xc
        var q = b6
        q = q * x2 + b4; q = q * x2 + b2; q = q * x2 + b0
        return (p, q)
    }

    /// σ(x) = 1 / (1 + e^{-x})
    public static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = 1 / (1 + Foundation.exp(-x[i])) }
    }
}

