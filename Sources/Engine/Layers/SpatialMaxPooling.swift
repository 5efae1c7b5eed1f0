import Foundation
import Kernels

/// Max pooling over kW×kH windows with strides dW, dH and padding padW, padH
/// (Torch's nn.SpatialMaxPooling): y[b, c, i, j] = max over the window of x, padding never
/// chosen. Output size ⌊(H + 2·padH - kH) / dH⌋ + 1, or with ⌈⌉ in ceil mode (a last window
/// that would start inside the padding only is dropped, as Torch).
/// ∂L/∂x gets ∂L/∂y at the position of each window's first maximum.
public final class SpatialMaxPooling: Module {
    public let kW: Int, kH: Int, dW: Int, dH: Int, padW: Int, padH: Int
    public private(set) var ceilMode = false
    /// Flat index within the input plane of each output's maximum.
    private var indices: [Int32] = []
    /// Whether the last forward pass left `indices` unwritten (2x2 windows in evaluation, where
    /// only the values are computed); a backward pass after it computes them from its input.
    private var indicesMissing = false

    public init(_ kW: Int, _ kH: Int, _ dW: Int? = nil, _ dH: Int? = nil, _ padW: Int = 0, _ padH: Int = 0) {
        self.kW = kW; self.kH = kH
        self.dW = dW ?? kW; self.dH = dH ?? kH
        self.padW = padW; self.padH = padH
        super.init()
    }

    override public var typeName: String { "nn.SpatialMaxPooling" }

    @discardableResult public func ceil() -> SpatialMaxPooling { ceilMode = true; return self }
    @discardableResult public func floor() -> SpatialMaxPooling { ceilMode = false; return self }

    private func outputSize(_ n: Int, _ k: Int, _ d: Int, _ pad: Int) -> Int {
        Self.pooledSize(n, kernel: k, stride: d, pad: pad, ceil: ceilMode)
    }

    /// Torch's pooled size of `n` entries: ⌊(n + 2·pad − k) / d⌋ + 1, or ⌈⌉ with `ceil`; with
    /// padding, a last window that would start in the padding only is dropped. The max and
    /// average poolings share it.
    static func pooledSize(_ n: Int, kernel k: Int, stride d: Int, pad: Int, ceil: Bool) -> Int {
        var o = ceil ? Int((Double(n + 2 * pad - k) / Double(d)).rounded(.up)) + 1
                     : (n + 2 * pad - k) / d + 1
        if pad > 0 && (o - 1) * d >= n + pad { o -= 1 }
        return o
    }

    private func geometry(_ input: Tensor) throws -> Geometry {
        try checkRank(input, [3, 4], description)
        let h = input.shape[input.dim - 2], w = input.shape[input.dim - 1]
        guard 2 * padW <= kW, 2 * padH <= kH else {
            throw EngineError("\(description): padding must be at most half the kernel size")
        }
        guard h + 2 * padH >= kH, w + 2 * padW >= kW else {
            throw EngineError("\(description): input \(h)x\(w) is smaller than the \(kW)x\(kH) window")
        }
        let planes = input.count / (h * w)
        return (planes, h, w, outputSize(h, kH, dH, padH), outputSize(w, kW, dW, padW))
    }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        let g = try geometry(input)
        var s = input.shape
        s[s.count - 2] = g.oh; s[s.count - 1] = g.ow
        output.resize(s)
        let window = self.window(g)
        if !isTraining && window.isUnpadded2x2 {
            let x = input.data, y = output.data, plane = g.oh * g.ow, hw = g.h * g.w
            Parallel.forChunks(g.planes, costPerItem: plane * kH * kW) { r in
                for pl in r { window.maxPool2x2(x + pl * hw, into: y + pl * plane) }
            }
            indicesMissing = true
            return output
        }
        pool(input, g, into: output.data)
        return output
    }

    /// For a convolution's fused pass in evaluation (SpatialConvolution+Activation.swift): the
    /// output sized for `input` (the activation's output, sized already, not yet written) and
    /// what pools its planes, when this layer runs the values-only 2x2 path on it; else nil
    /// (training, other windows, or an input it would refuse: its own pass then says why).
    func fusedEvaluation(of input: Tensor) -> FusedPooling? {
        guard !isTraining, let g = try? geometry(input) else { return nil }
        let window = self.window(g)
        guard window.isUnpadded2x2 else { return nil }
        var s = input.shape
        s[s.count - 2] = g.oh; s[s.count - 1] = g.ow
        output.resize(s)
        indicesMissing = true
        return FusedPooling(window: window, inPlane: g.h * g.w, outPlane: g.oh * g.ow, y: output.data)
    }

    /// The 2x2 max pooling of planes of the fused pass's input into this layer's output.
    struct FusedPooling {
        let window: MaxPoolingPlane
        let inPlane: Int, outPlane: Int
        let y: UnsafeMutablePointer<Float>

        /// y's planes `planes` from x's (the same values as `updateOutput`'s 2x2 path).
        func pool(_ x: UnsafePointer<Float>, planes: Range<Int>) {
            for pl in planes { window.maxPool2x2(x + pl * inPlane, into: y + pl * outPlane) }
        }
    }

    private typealias Geometry = (planes: Int, h: Int, w: Int, oh: Int, ow: Int)

    private func window(_ g: Geometry) -> MaxPoolingPlane {
        MaxPoolingPlane(kW: kW, kH: kH, dW: dW, dH: dH, padW: padW, padH: padH, h: g.h, w: g.w, oh: g.oh, ow: g.ow)
    }

    /// y and `indices` from the input, plane by plane across the threads.
    private func pool(_ input: Tensor, _ g: Geometry, into y: UnsafeMutablePointer<Float>) {
        let plane = g.oh * g.ow, hw = g.h * g.w
        if indices.count < g.planes * plane { indices = [Int32](repeating: 0, count: g.planes * plane) }
        let x = input.data, window = self.window(g)
        let fast2x2 = window.isUnpadded2x2
        indices.withUnsafeMutableBufferPointer { ib in
            let idx = ib.baseAddress!
            Parallel.forChunks(g.planes, costPerItem: plane * kH * kW) { r in
                for pl in r {
                    let src = x + pl * hw, dst = y + pl * plane, id = idx + pl * plane
                    if fast2x2 { window.maxPool2x2(src, into: dst, indices: id) } else { window.maxPool(src, into: dst, indices: id) }
                }
            }
        }
        indicesMissing = false
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        let g = try geometry(input)
        let plane = g.oh * g.ow
        if indicesMissing && gradOutput.count == g.planes * plane {
            // the forward pass was an evaluation one: the maxima's positions from the input
            let values = Tensor(shape: [g.planes * plane])
            pool(input, g, into: values.data)
        }
        guard gradOutput.count == g.planes * plane, indices.count >= gradOutput.count else {
            throw EngineError("\(description): gradOutput has \(gradOutput.count) elements, expected \(g.planes * plane) (call forward first)")
        }
        gradInput.resize(input.shape)
        let gi = gradInput.data, go = gradOutput.data, hw = g.h * g.w
        indices.withUnsafeBufferPointer { ib in
            let idx = ib.baseAddress!
            Parallel.forChunks(g.planes, costPerItem: hw) { r in
                for pl in r {
                    let dst = gi + pl * hw, src = go + pl * plane, id = idx + pl * plane
                    dst.update(repeating: 0, count: hw)
                    for k in 0..<plane { dst[Int(id[k])] += src[k] }
                }
            }
        }
        return gradInput
    }

    override public func clearState() {
        super.clearState()
        indices = []
        indicesMissing = false
    }

    override public var spec: ModuleSpec {
        ModuleSpec(type: typeName, args: [kW, kH, dW, dH, padW, padH].map(Double.init), options: ceilMode ? ["ceil": 1] : nil)
    }

    /// As Torch prints it: `nn.SpatialMaxPooling(2x2, 2,2)` (padding shown when not 0; ` ceil` not shown, as Torch).
    override public var description: String {
        var s = "nn.SpatialMaxPooling(\(kW)x\(kH), \(dW),\(dH)"
        if padW != 0 || padH != 0 { s += ", \(padW),\(padH)" }
        return s + ")"
    }
}
