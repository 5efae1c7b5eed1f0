import Foundation

/// Vectorised transcendental functions for activation layers.
public enum FastMath {
    /// tanh(x) by the rational minimax approximation used by Eigen
    /// (x clamped to ±7.905; p(x)/q(x) with odd p of degree 13 and even q of degree 6),
    /// accurate to a few ulp in float32. 16 lanes at a time.
    public static func tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        typealias V = SIMD16<Float>
        let c = V(repeating: 7.90531110763549805)
        let a1 = V(repeating: 4.89352455891786e-03), a3 = V(repeating: 6.37261928875436e-04)
        let a5 = V(repeating: 1.48572235717979e-05), a7 = V(repeating: 5.12229709037114e-08)
        let a9 = V(repeating: -8.60467152213735e-11), a11 = V(repeating: 2.00018790482477e-13)
        let a13 = V(repeating: -2.76076847742355e-16)
        let b0 = V(repeating: 4.89352518554385e-03), b2 = V(repeating: 2.26843463243900e-03)
        let b4 = V(repeating: 1.18534705686654e-04), b6 = V(repeating: 1.19825839466702e-06)
        let tiny = V(repeating: 0.0004)
        @inline(__always) func eval(_ v: V) -> V {
            let xc = v.clamped(lowerBound: -c, upperBound: c)
            let x2 = xc * xc
            var p = a13
            p = p * x2 + a11; p = p * x2 + a9; p = p * x2 + a7; p = p * x2 + a5
            p = p * x2 + a3; p = p * x2 + a1
            p = p * xc
            var q = b6
            q = q * x2 + b4; q = q * x2 + b2; q = q * x2 + b0
            let r = p / q
            return r.replacing(with: v, where: abs(v) .< tiny)
        }
        var i = 0
        let raw = UnsafeRawPointer(x), out = UnsafeMutableRawPointer(y)
        while i + 16 <= n {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            out.storeBytes(of: eval(v), toByteOffset: i * 4, as: V.self)
            i += 16
        }
        if i < n {
            var v = V(repeating: 0)
            for j in 0..<(n - i) { v[j] = x[i + j] }
            let r = eval(v)
            for j in 0..<(n - i) { y[i + j] = r[j] }
        }
    }

    /// σ(x) = 1 / (1 + e^{-x})
    public static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = 1 / (1 + Foundation.exp(-x[i])) }
    }
}

@inline(__always) private func abs(_ v: SIMD16<Float>) -> SIMD16<Float> {
    SIMD16<Float>(bitPattern: v.bitPattern(as: SIMD16<UInt32>.self) & SIMD16<UInt32>(repeating: 0x7FFF_FFFF))
}

extension SIMD16 where Scalar == Float {
    @inline(__always) init(bitPattern b: SIMD16<UInt32>) { self = unsafeBitCast(b, to: SIMD16<Float>.self) }
    @inline(__always) func bitPattern(as: SIMD16<UInt32>.Type) -> SIMD16<UInt32> { unsafeBitCast(self, to: SIMD16<UInt32>.self) }
}
