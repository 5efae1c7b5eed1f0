import Foundation

/// Average pooling over kW×kH windows with strides dW, dH (default 1, as Torch) and padding
/// padW, padH (Torch's nn.SpatialAveragePooling(kW, kH [, dW, dH, padW, padH]); `ceil()`,
/// `floor()`): y[b, c, i, j] = (1/n) Σ over the window of x, the padding counting as zeros.
/// n is the window's size clipped to the padded input (Torch's default, count_include_pad),
/// or with `countIncludePad = false` the number of input entries it covers. Output size
/// ⌊(H + 2·padH − kH) / dH⌋ + 1, or ⌈⌉ in ceil mode (a last window starting in the padding
/// only is dropped). ∂L/∂x[p] = Σ over the windows w containing p of ∂L/∂y[w] / n_w.
public final class SpatialAveragePooling: Module {
    public let kW: Int, kH: Int, dW: Int, dH: Int, padW: Int, padH: Int
    public private(set) var ceilMode = false
    public var countIncludePad = true

    public init(_ kW: Int, _ kH: Int, _ dW: Int = 1, _ dH: Int = 1, _ padW: Int = 0, _ padH: Int = 0) {
        self.kW = kW; self.kH = kH; self.dW = dW; self.dH = dH; self.padW = padW; self.padH = padH
        super.init()
    }

    override public var typeName: String { "nn.SpatialAveragePooling" }

    @discardableResult public func ceil() -> SpatialAveragePooling { ceilMode = true; return self }
    @discardableResult public func floor() -> SpatialAveragePooling { ceilMode = false; return self }

    private func outputSize(_ n: Int, _ k: Int, _ d: Int, _ pad: Int) -> Int {
        SpatialMaxPooling.pooledSize(n, kernel: k, stride: d, pad: pad, ceil: ceilMode)
    }

    private func geometry(_ input: Tensor) throws -> (planes: Int, h: Int, w: Int, oh: Int, ow: Int) {
        try checkRank(input, [3, 4], description)
        let h = input.shape[input.dim - 2], w = input.shape[input.dim - 1]
        guard h + 2 * padH >= kH, w + 2 * padW >= kW else {
            throw EngineError("\(description): input \(h)x\(w) is smaller than the \(kW)x\(kH) window")
        }
        return (input.count / (h * w), h, w, outputSize(h, kH, dH, padH), outputSize(w, kW, dW, padW))
    }

    /// Window (i, j)'s clipped rows and columns and its divisor n.
    @inline(__always)
    private func window(_ i: Int, _ j: Int, h: Int, w: Int) -> (Range<Int>, Range<Int>, Float) {
        let h0 = i * dH - padH, w0 = j * dW - padW
        let h1 = min(h0 + kH, h + padH), w1 = min(w0 + kW, w + padW)
        let padded = (h1 - h0) * (w1 - w0)
        let rows = max(h0, 0)..<min(h1, h), cols = max(w0, 0)..<min(w1, w)
        let n = countIncludePad ? padded : rows.count * cols.count
        return (rows, cols, Float(max(n, 1)))
    }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        let g = try geometry(input)
        var s = input.shape
        s[s.count - 2] = g.oh; s[s.count - 1] = g.ow
        output.resize(s)
        let x = input.data, y = output.data
        Parallel.forChunks(g.planes, costPerItem: g.oh * g.ow * kH * kW) { r in
            for p in r {
                let src = x + p * g.h * g.w, dst = y + p * g.oh * g.ow
                for i in 0..<g.oh {
                    for j in 0..<g.ow {
                        let (rows, cols, n) = window(i, j, h: g.h, w: g.w)
                        var sum: Float = 0
                        for a in rows { for b in cols { sum += src[a * g.w + b] } }
                        dst[i * g.ow + j] = sum / n
                    }
                }
            }
        }
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        let g = try geometry(input)
        guard gradOutput.count == g.planes * g.oh * g.ow else {
            throw EngineError("\(description): gradOutput has size \(shapeString(gradOutput.shape)), expected \(g.planes) planes of \(g.oh)x\(g.ow)")
        }
        gradInput.resize(input.shape)
        gradInput.zero()
        let gi = gradInput.data, go = gradOutput.data
        Parallel.forChunks(g.planes, costPerItem: g.oh * g.ow * kH * kW) { r in
            for p in r {
                let dst = gi + p * g.h * g.w, src = go + p * g.oh * g.ow
                for i in 0..<g.oh {
                    for j in 0..<g.ow {
                        let (rows, cols, n) = window(i, j, h: g.h, w: g.w)
                        let v = src[i * g.ow + j] / n
                        for a in rows { for b in cols { dst[a * g.w + b] += v } }
                    }
                }
            }
        }
        return gradInput
    }

    override public var spec: ModuleSpec {
        var options: [String: Double] = [:]
        if ceilMode { options["ceil"] = 1 }
        if !countIncludePad { options["countIncludePad"] = 0 }
        return ModuleSpec(type: typeName, args: [kW, kH, dW, dH, padW, padH].map(Double.init), options: options.isEmpty ? nil : options)
    }

    /// As Torch prints it: `nn.SpatialAveragePooling(2x2, 2,2)`, with `, padW,padH` when padded.
    override public var description: String {
        "\(typeName)(\(kW)x\(kH), \(dW),\(dH)" + (padW != 0 || padH != 0 ? ", \(padW),\(padH)" : "") + ")"
    }
}
