import Foundation

/// Rectified linear unit (Torch's nn.ReLU, a Threshold(0, 0)):
/// y = max(0, x); ∂L/∂x = ∂L/∂y where x > 0, else 0.
///
/// Torch's `inplace` flag is accepted and kept in the module's spec, but the workbench always
/// writes a separate output buffer (memory is not the constraint it was on 2016 GPUs).
public final class ReLU: ElementwiseModule {
    /// Torch's `nn.ReLU(true)`: recorded for model files, otherwise ignored.
    public let inplace: Bool

    public init(inplace: Bool = false) {
        self.inplace = inplace
        super.init()
    }


    override public var typeName: String { "nn.ReLU" }

    override public func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = x[i] > 0 ? x[i] : 0 }
    }

    override public func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                                    _ gi: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { gi[i] = x[i] > 0 ? g[i] : 0 }
    }

    override public var spec: ModuleSpec {
        ModuleSpec(type: typeName, options: inplace ? ["inplace": 1] : nil)
    }
}
