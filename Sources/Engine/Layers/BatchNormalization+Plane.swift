/// The loops of spatial batch normalisation over one channel plane (S contiguous values of one
/// feature and example), vectorised 16 floats at a time.
///
/// The sums widen every value to double and add it into two 8-lane double accumulators, whose
/// lanes are then added in a fixed order, and the last S mod 16 values one by one: the
/// precision of a double loop, a fixed order, so the same bits on any thread count. The
/// element-wise passes compute each value with the same operations in the same order as
/// their scalar form, so their bits are the scalar loop's.
enum BatchNormPlane {
    /// Σ_k p[k] in double precision.
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var a = SIMD8<Double>(), b = SIMD8<Double>()
        var k = 0
        while k + 16 <= n {
            let v = UnsafeRawPointer(p + k).loadUnaligned(as: SIMD16<Float>.self)
            a += SIMD8<Double>(v.lowHalf)
            b += SIMD8<Double>(v.highHalf)
            k += 16
        }
        var s = (a + b).sum()
        while k < n { s += Double(p[k]); k += 1 }
        return s
    }

    /// Σ_k (p[k] - μ)², the difference in float (as the scalar loop), squared and added in double.
    @inline(__always)
    static func centredSquares(_ p: UnsafePointer<Float>, _ n: Int, mean: Float) -> Double {
        var a = SIMD8<Double>(), b = SIMD8<Double>()
        let m = SIMD16<Float>(repeating: mean)
        var k = 0
        while k + 16 <= n {
            let d = UnsafeRawPointer(p + k).loadUnaligned(as: SIMD16<Float>.self) - m
            let lo = SIMD8<Double>(d.lowHalf), hi = SIMD8<Double>(d.highHalf)
            a += lo * lo
            b += hi * hi
            k += 16
        }
        var s = (a + b).sum()
        while k < n { let d = Double(p[k] - mean); s += d * d; k += 1 }
        return s
    }

    /// (Σ_k g[k], Σ_k (x[k] - μ)·g[k]) in double precision.
    @inline(__always)
    static func gradientSums(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ n: Int, mean: Float) -> (sum: Double, dot: Double) {
        var sa = SIMD8<Double>(), sb = SIMD8<Double>(), da = SIMD8<Double>(), db = SIMD8<Double>()
        let m = SIMD16<Float>(repeating: mean)
        var k = 0
        while k + 16 <= n {
            let gv = UnsafeRawPointer(g + k).loadUnaligned(as: SIMD16<Float>.self)
            let d = UnsafeRawPointer(x + k).loadUnaligned(as: SIMD16<Float>.self) - m
            let glo = SIMD8<Double>(gv.lowHalf), ghi = SIMD8<Double>(gv.highHalf)
            sa += glo
            sb += ghi
            da += SIMD8<Double>(d.lowHalf) * glo
            db += SIMD8<Double>(d.highHalf) * ghi
            k += 16
        }
        var sum = (sa + sb).sum(), dot = (da + db).sum()
        while k < n {
            sum += Double(g[k])
            dot += Double(x[k] - mean) * Double(g[k])
            k += 1
        }
        return (sum, dot)
    }

    /// y[k] = (x[k] - μ)·s·γ + β.
    @inline(__always)
    static func normalize(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                          mean: Float, invStd: Float, gamma: Float, beta: Float) {
        let m = SIMD16<Float>(repeating: mean), s = SIMD16<Float>(repeating: invStd)
        let g = SIMD16<Float>(repeating: gamma), b = SIMD16<Float>(repeating: beta)
        var k = 0
        while k + 16 <= n {
            let v = UnsafeRawPointer(x + k).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(y + k).storeBytes(of: (v - m) * s * g + b, as: SIMD16<Float>.self)
            k += 16
        }
        while k < n { y[k] = (x[k] - mean) * invStd * gamma + beta; k += 1 }
    }

    /// ∂L/∂x[k] = (g[k] - Σg/N - (x[k] - μ)·κ)·s·γ with κ = s²·Σ(x - μ)g/N (training).
    @inline(__always)
    static func trainingGradient(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ gi: UnsafeMutablePointer<Float>, _ n: Int,
                                 mean: Float, gradMean: Float, kappa: Float, invStd: Float, gamma: Float) {
        let m = SIMD16<Float>(repeating: mean), gm = SIMD16<Float>(repeating: gradMean), kv = SIMD16<Float>(repeating: kappa)
        let s = SIMD16<Float>(repeating: invStd), gv = SIMD16<Float>(repeating: gamma)
        var k = 0
        while k + 16 <= n {
            let xv = UnsafeRawPointer(x + k).loadUnaligned(as: SIMD16<Float>.self)
            let dv = UnsafeRawPointer(g + k).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(gi + k).storeBytes(of: (dv - gm - (xv - m) * kv) * s * gv, as: SIMD16<Float>.self)
            k += 16
        }
        while k < n { gi[k] = (g[k] - gradMean - (x[k] - mean) * kappa) * invStd * gamma; k += 1 }
    }

    /// ∂L/∂x[k] = g[k]·s·γ (evaluation).
    @inline(__always)
    static func evaluationGradient(_ g: UnsafePointer<Float>, _ gi: UnsafeMutablePointer<Float>, _ n: Int, invStd: Float, gamma: Float) {
        let s = SIMD16<Float>(repeating: invStd), gv = SIMD16<Float>(repeating: gamma)
        var k = 0
        while k + 16 <= n {
            let dv = UnsafeRawPointer(g + k).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(gi + k).storeBytes(of: dv * s * gv, as: SIMD16<Float>.self)
            k += 16
        }
        while k < n { gi[k] = g[k] * invStd * gamma; k += 1 }
    }
}
