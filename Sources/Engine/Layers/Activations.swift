import Kernels
import Foundation

/// Elementwise activations. Each keeps the Torch rule for its gradient in terms of the
/// output where possible (tanh' = 1 - y², σ' = y(1 - y)).
open class ElementwiseModule: Module {
    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        output.resize(input.shape)
        let x = input.data, y = output.data
        Parallel.forChunks(input.count, costPerItem: 8) { r in
            self.apply(x + r.lowerBound, y + r.lowerBound, r.count)
        }
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        guard gradOutput.count == input.count else {
            throw EngineError("\(typeName): gradOutput has \(gradOutput.count) elements, input \(input.count)")
        }
        gradInput.resize(input.shape)
        let x = input.data, y = output.data, g = gradOutput.data, gi = gradInput.data
        Parallel.forChunks(input.count, costPerItem: 2) { r in
            let o = r.lowerBound
            self.derivative(x + o, y + o, g + o, gi + o, r.count)
        }
        return gradInput
    }

    /// y[i] = f(x[i]) for i < n
    open func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) { fatalError("override apply") }
    /// gi[i] = f'(x[i]) g[i], given y = f(x)
    open func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                         _ gi: UnsafeMutablePointer<Float>, _ n: Int) { fatalError("override derivative") }
}

/// y = tanh(x); ∂L/∂x = (1 - y²) ∂L/∂y
public final class Tanh: ElementwiseModule {
    override public var typeName: String { "nn.Tanh" }
    override public func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        FastMath.tanh(x, y, n)
    }
    override public func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                                    _ gi: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { gi[i] = g[i] * (1 - y[i] * y[i]) }
    }
}
