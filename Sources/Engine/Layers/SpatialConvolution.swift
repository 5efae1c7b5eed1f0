import Foundation

/// 2-D convolution (Torch's nn.SpatialConvolution(nIn, nOut, kW, kH, dW, dH, padW, padH)):
///
///   y[b, o, i, j] = bias[o] + Σ_{c, u, v} W[o, c, v, u] · x[b, c, i·dH + v - padH, j·dW + u - padW]
///
/// with zero padding. Computed as one matrix product per batch: the input is unfolded
/// (im2col) into `columns` [K, B·P] with K = nIn·kH·kW and P = oH·oW, then
/// Y [nOut, B·P] = W [nOut, K] · columns. The unfolded input is kept for the backward pass:
///   ∂L/∂W += ∂L/∂Y · columnsᵀ,   ∂L/∂columns = Wᵀ · ∂L/∂Y  (then folded back, col2im).
public final class SpatialConvolution: Module {
    public let nInputPlane: Int, nOutputPlane: Int
    public let kW: Int, kH: Int, dW: Int, dH: Int, padW: Int, padH: Int
    public let weightParameter: Parameter
    public let biasParameter: Parameter?

    /// Unfolded input of the last forward pass [K, B·P].
    private var columns = Tensor()
    /// Output or its gradient in [nOut, B·P] layout.
    private var planeMajor = Tensor()
    /// Which input `columns` was unfolded from (data pointer and shape), so that a backward
    /// pass on another input unfolds again instead of using stale columns.
    private var columnsSource: (UnsafeMutablePointer<Float>, [Int])?

    public init(_ nInputPlane: Int, _ nOutputPlane: Int, _ kW: Int, _ kH: Int,
                _ dW: Int = 1, _ dH: Int = 1, _ padW: Int = 0, _ padH: Int = 0, bias: Bool = true) {
        self.nInputPlane = nInputPlane; self.nOutputPlane = nOutputPlane
        self.kW = kW; self.kH = kH; self.dW = dW; self.dH = dH; self.padW = padW; self.padH = padH
        weightParameter = Parameter(name: "weight", shape: [nOutputPlane, nInputPlane, kH, kW])
        biasParameter = bias ? Parameter(name: "bias", shape: [nOutputPlane]) : nil
        super.init()
        reset(&GlobalRandom.generator)
    }

    override public var typeName: String { "nn.SpatialConvolution" }
    override public var parameters: [Parameter] { [weightParameter] + (biasParameter.map { [$0] } ?? []) }
    override public var weight: Parameter? { weightParameter }
    override public var bias: Parameter? { biasParameter }

    /// U(-1/√(kW·kH·nIn), 1/√(kW·kH·nIn)) for weight and bias, as Torch.
    override public func reset(_ rng: inout RandomGenerator) {
        let stdv = 1 / Float(kW * kH * nInputPlane).squareRoot()
        weightParameter.value.fillUniform(-stdv, stdv, &rng)
        biasParameter?.value.fillUniform(-stdv, stdv, &rng)
    }

    struct Geometry { let b, h, w, oh, ow: Int; var p: Int { oh * ow } }

    private func geometry(_ input: Tensor) throws -> Geometry {
        try checkRank(input, [3, 4], description)
        let b = input.dim == 4 ? input.shape[0] : 1
        let c = input.shape[input.dim - 3], h = input.shape[input.dim - 2], w = input.shape[input.dim - 1]
        guard c == nInputPlane else {
            throw EngineError("\(description): input has \(c) planes (shape \(shapeString(input.shape))), expected \(nInputPlane)")
        }
        let oh = (h + 2 * padH - kH) / dH + 1, ow = (w + 2 * padW - kW) / dW + 1
        guard h + 2 * padH >= kH, w + 2 * padW >= kW, oh > 0, ow > 0 else {
            throw EngineError("\(description): input \(h)x\(w) is smaller than the \(kW)x\(kH) kernel")
        }
        return Geometry(b: b, h: h, w: w, oh: oh, ow: ow)
    }

    private var kernelSize: Int { nInputPlane * kH * kW }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        let g = try geometry(input)
        let n = g.b * g.p
        columns.resize([kernelSize, n])
        unfold(input, g)
        columnsSource = (input.data, input.shape)
        planeMajor.resize([nOutputPlane, n])
        BLAS.gemm(m: nOutputPlane, n: n, k: kernelSize, a: weightParameter.value.data, b: columns.data, c: planeMajor.data)
        output.resize(input.dim == 4 ? [g.b, nOutputPlane, g.oh, g.ow] : [nOutputPlane, g.oh, g.ow])
        // [nOut, B, P] -> [B, nOut, P], adding the bias.
        let src = planeMajor.data, dst = output.data, p = g.p, nOut = nOutputPlane, bias = biasParameter?.value.data
        Parallel.forChunks(g.b * nOut, costPerItem: p) { r in
            for bo in r {
                let b = bo / nOut, o = bo % nOut
                let s = src + (o * g.b + b) * p, d = dst + bo * p
                let bv = bias?[o] ?? 0
                for i in 0..<p { d[i] = s[i] + bv }
            }
        }
        return output
    }

    /// columns[(c·kH + v)·kW + u, b·P + i·oW + j] = x[b, c, i·dH + v - padH, j·dW + u - padW] (0 outside).
    private func unfold(_ input: Tensor, _ g: Geometry) {
        let x = input.data, col = columns.data
        let (h, w, oh, ow, p) = (g.h, g.w, g.oh, g.ow, g.p)
        let rowLength = g.b * p
        let (kH, kW, dH, dW, padH, padW) = (self.kH, self.kW, self.dH, self.dW, self.padH, self.padW)
        let rows = kernelSize, planes = nInputPlane
        Parallel.forChunks(rows * g.b, costPerItem: p) { r in
            for rb in r {
                let row = rb / g.b, b = rb % g.b
                let c = row / (kH * kW), v = (row / kW) % kH, u = row % kW
                let plane = x + (b * planes + c) * h * w
                let out = col + row * rowLength + b * p
                for i in 0..<oh {
                    let y = i * dH + v - padH
                    let o = out + i * ow
                    if y < 0 || y >= h {
                        o.update(repeating: 0, count: ow)
                        continue
                    }
                    let line = plane + y * w
                    if dW == 1 {
                        // j range with 0 <= j + u - padW < w
                        let lo = Swift.max(0, padW - u), hi = Swift.min(ow, w + padW - u)
                        if lo > 0 { o.update(repeating: 0, count: lo) }
                        if hi > lo { (o + lo).update(from: line + lo + u - padW, count: hi - lo) }
                        if hi < ow { (o + Swift.max(hi, 0)).update(repeating: 0, count: ow - Swift.max(hi, 0)) }
                    } else {
                        for j in 0..<ow {
                            let xx = j * dW + u - padW
                            o[j] = (xx >= 0 && xx < w) ? line[xx] : 0
                        }
                    }
                }
            }
        }
    }

    /// Lays ∂L/∂y out as [nOut, B·P] in `planeMajor`.
    private func gatherGradOutput(_ gradOutput: Tensor, _ g: Geometry) throws {
        guard gradOutput.count == g.b * nOutputPlane * g.p else {
            throw EngineError("\(description): gradOutput has \(gradOutput.count) elements, expected \(g.b * nOutputPlane * g.p)")
        }
        planeMajor.resize([nOutputPlane, g.b * g.p])
        let src = gradOutput.data, dst = planeMajor.data, p = g.p, nOut = nOutputPlane
        Parallel.forChunks(g.b * nOut, costPerItem: p) { r in
            for bo in r {
                let b = bo / nOut, o = bo % nOut
                (dst + (o * g.b + b) * p).update(from: src + bo * p, count: p)
            }
        }
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        let g = try geometry(input)
        try gatherGradOutput(gradOutput, g)
        // The columns buffer is reused for ∂L/∂columns; the parameter gradient must be
        // accumulated first when both are needed (see `backward`).
        columnsSource = nil
        let n = g.b * g.p
        columns.resize([kernelSize, n])
        BLAS.gemm(transA: true, m: kernelSize, n: n, k: nOutputPlane,
                  a: weightParameter.value.data, b: planeMajor.data, c: columns.data)
        gradInput.resize(input.shape)
        fold(g)
        return gradInput
    }

    /// ∂L/∂x[b, c, y, x] = Σ over the columns entries that read it (col2im). Each (b, c) plane is
    /// written by one thread, summing in a fixed order.
    private func fold(_ g: Geometry) {
        let gi = gradInput.data, col = columns.data
        let (h, w, oh, ow, p) = (g.h, g.w, g.oh, g.ow, g.p)
        let rowLength = g.b * p
        let (kH, kW, dH, dW, padH, padW) = (self.kH, self.kW, self.dH, self.dW, self.padH, self.padW)
        let planes = nInputPlane
        Parallel.forChunks(g.b * planes, costPerItem: p * kH * kW) { r in
            for bc in r {
                let b = bc / planes, c = bc % planes
                let plane = gi + bc * h * w
                plane.update(repeating: 0, count: h * w)
                for v in 0..<kH {
                    for u in 0..<kW {
                        let row = (c * kH + v) * kW + u
                        let src = col + row * rowLength + b * p
                        for i in 0..<oh {
                            let y = i * dH + v - padH
                            if y < 0 || y >= h { continue }
                            let line = plane + y * w
                            let s = src + i * ow
                            if dW == 1 {
                                let lo = Swift.max(0, padW - u), hi = Swift.min(ow, w + padW - u)
                                if hi > lo {
                                    let dst = line + u - padW
                                    for j in lo..<hi { dst[j] += s[j] }
                                }
                            } else {
                                for j in 0..<ow {
                                    let xx = j * dW + u - padW
                                    if xx >= 0 && xx < w { line[xx] += s[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// ∂L/∂W += scale · ∂L/∂Y · columnsᵀ ; ∂L/∂b[o] += scale · Σ_{b, i, j} ∂L/∂y[b, o, i, j]
    override public func accGradParameters(_ input: Tensor, _ gradOutput: Tensor, scale: Float) throws {
        let g = try geometry(input)
        if columnsSource?.0 != input.data || columnsSource?.1 != input.shape {
            columns.resize([kernelSize, g.b * g.p])
            unfold(input, g)
            columnsSource = (input.data, input.shape)
        }
        try gatherGradOutput(gradOutput, g)
        let n = g.b * g.p
        BLAS.gemm(transB: true, m: nOutputPlane, n: kernelSize, k: n, alpha: scale,
                  a: planeMajor.data, b: columns.data, beta: 1, c: weightParameter.grad.data)
        if let gb = biasParameter?.grad.data {
            let src = planeMajor.data
            for o in 0..<nOutputPlane {
                let row = src + o * n
                var s: Float = 0
                for i in 0..<n { s += row[i] }
                gb[o] += scale * s
            }
        }
    }

    /// Parameter gradients first (they need the unfolded input), then the input gradient.
    override public func backward(_ input: Tensor, _ gradOutput: Tensor, scale: Float = 1) throws -> Tensor {
        if !isFrozen {
            try accGradParameters(input, gradOutput, scale: scale)
            for p in parameters { p.maskGradient() }
        }
        return try updateGradInput(input, gradOutput)
    }

    override public func clearState() {
        super.clearState()
        columns = Tensor(); planeMajor = Tensor(); columnsSource = nil
    }

    override public var spec: ModuleSpec {
        ModuleSpec(type: typeName, args: [nInputPlane, nOutputPlane, kW, kH, dW, dH, padW, padH].map(Double.init),
                   options: biasParameter == nil ? ["bias": 0] : nil)
    }

    /// As Torch prints it: `nn.SpatialConvolution(1 -> 6, 5x5, 1,1, 2,2)`; stride shown when not 1,
    /// padding when not 0.
    override public var description: String {
        var s = "nn.SpatialConvolution(\(nInputPlane) -> \(nOutputPlane), \(kW)x\(kH)"
        if dW != 1 || dH != 1 || padW != 0 || padH != 0 { s += ", \(dW),\(dH)" }
        if padW != 0 || padH != 0 { s += ", \(padW),\(padH)" }
        return s + ")" + (biasParameter == nil ? " without bias" : "")
    }
}
