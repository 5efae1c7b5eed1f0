import Kernels
import Foundation

/// Logistic sigmoid (Torch's nn.Sigmoid): y = σ(x) = 1 / (1 + e^{-x});
/// ∂L/∂x = y (1 - y) ∂L/∂y.
public final class Sigmoid: ElementwiseModule {
    override public init() { super.init() }

    override public var typeName: String { "nn.Sigmoid" }

    override public func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        FastMath.sigmoid(x, y, n)
    }

    override public func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                                    _ gi: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { gi[i] = g[i] * y[i] * (1 - y[i]) }
    }
}
