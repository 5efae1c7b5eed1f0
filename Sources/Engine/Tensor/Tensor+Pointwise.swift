import Foundation

/// In-place elementwise functions used by scripts (custom pruning criteria, statistics).
extension Tensor {
    /// self = self ^ e (elementwise; e = 2 and e = 0.5 take exact fast paths)
    public func powInPlace(_ e: Float) {
        let p = data
        if e == 2 {
            for i in 0..<count { p[i] *= p[i] }
        } else if e == 0.5 {
            for i in 0..<count { p[i] = p[i].squareRoot() }
        } else {
            for i in 0..<count { p[i] = Foundation.pow(p[i], e) }
        }
    }

    /// self = √self
    public func sqrtInPlace() {
        let p = data
        for i in 0..<count { p[i] = p[i].squareRoot() }
    }

    /// self = sign(self) ∈ {-1, 0, 1}
    public func signInPlace() {
        let p = data
        for i in 0..<count { p[i] = p[i] > 0 ? 1 : (p[i] < 0 ? -1 : 0) }
    }

    /// self = min(max(self, lo), hi)
    public func clampInPlace(_ lo: Float, _ hi: Float) {
        let p = data
        for i in 0..<count { p[i] = Swift.min(Swift.max(p[i], lo), hi) }
    }

    /// self = eˢᵉˡᶠ
    public func expInPlace() {
        let p = data
        for i in 0..<count { p[i] = Foundation.exp(p[i]) }
    }

    /// self = ln(self) (−inf at 0, NaN below)
    public func logInPlace() {
        let p = data
        for i in 0..<count { p[i] = Foundation.log(p[i]) }
    }

    /// self = tanh(self), to float precision (not the layer's fast approximation)
    public func tanhInPlace() {
        let p = data
        for i in 0..<count { p[i] = Foundation.tanh(p[i]) }
    }

    /// self = σ(self) = 1 / (1 + e⁻ˢᵉˡᶠ)
    public func sigmoidInPlace() {
        let p = data
        for i in 0..<count { p[i] = 1 / (1 + Foundation.exp(-p[i])) }
    }
}
