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
}
