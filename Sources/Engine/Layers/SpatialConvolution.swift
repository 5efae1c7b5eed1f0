import Foundation
import Kernels

/// 2-D convolution (Torch's nn.SpatialConvolution(nIn, nOut, kW, kH, dW, dH, padW, padH)):
///
///   y[b, o, i, j] = bias[o] + Σ_{c, v, u} W[o, c, v, u] · x[b, c, i·dH + v - padH, j·dW + u - padW]
///
/// with zero padding. Per image, the input is unfolded (im2col) into columns [K, P] with
/// K = nIn·kH·kW and P = oH·oW, and Y_b [nOut, P] = W [nOut, K] · columns_b, which is the
/// image's NCHW output block. Backward, per image:
///   ∂L/∂W += ∂L/∂Y_b · columns_bᵀ,   ∂L/∂columns_b = Wᵀ · ∂L/∂Y_b  (then folded back, col2im).
/// The batch is split into one contiguous chunk per thread, each with its own small
/// workspace (it stays in cache); weight-gradient partial sums are added in chunk order.
/// Small output planes (P ≤ 64, the deep layers of VGG-style nets) unfold a group of images
/// side by side and run one product per group (`SpatialConvolution+ImageGroups`): per image,
/// the products would be thin (n = P) and repack W every time.
/// In evaluation, a pruned weight runs as sparse rows (Y_b = W · columns_b with W's nonzeros
/// only) when `SparseChoice` prefers them (equal to the dense product up to float rounding).
public final class SpatialConvolution: Module {
    public let nInputPlane: Int, nOutputPlane: Int
    public let kW: Int, kH: Int, dW: Int, dH: Int, padW: Int, padH: Int
    public let weightParameter: Parameter
    public let biasParameter: Parameter?

    /// Per-thread scratch memory (`rows`: a group's output or gradient rows [nOut, G·P]).
    final class Workspace {
        let columns = Tensor(), gradColumns = Tensor(), gradWeight = Tensor(), gradBias = Tensor(), rows = Tensor()
    }
    private var workspaces: [Workspace] = []
    private let sparse = SparseWeightCache()

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
        guard h + 2 * padH >= kH, w + 2 * padW >= kW else {
            throw EngineError("\(description): input \(h)x\(w) is smaller than the \(kW)x\(kH) kernel")
        }
        return Geometry(b: b, h: h, w: w, oh: Im2Col.outputSize(h, kernel: kH, stride: dH, pad: padH),
                        ow: Im2Col.outputSize(w, kernel: kW, stride: dW, pad: padW))
    }

    var kernelSize: Int { nInputPlane * kH * kW }

    /// Stride-1 layers with wide padded rows (e.g. LeNet's first layer) unfold in padded-width
    /// layout (`PaddedWidthConvolution`); the others unfold row segment by row segment.
    private func usesPaddedWidth(_ g: Geometry) -> Bool {
        PaddedWidthConvolution.suits(dW: dW, dH: dH, w: g.w, padW: padW, ow: g.ow)
    }

    func paddedShape(_ g: Geometry) -> PaddedWidthConvolution.Shape {
        PaddedWidthConvolution.Shape(c: nInputPlane, o: nOutputPlane, kH: kH, kW: kW, h: g.h, w: g.w,
                                     padH: padH, padW: padW, oh: g.oh, ow: g.ow)
    }

    /// Workspaces for `chunks` threads, sized for `g` (and groups of `group` images).
    private func prepareWorkspaces(_ chunks: Int, _ g: Geometry, gradients: Bool, group: Int = 1) {
        while workspaces.count < chunks { workspaces.append(Workspace()) }
        // Padded-width layout: `columns` holds the padded image, then B [K, L], then the output
        // rows [O, L]; `gradColumns` holds ∂L/∂B, then the padded input gradient.
        let pw = paddedShape(g), padded = usesPaddedWidth(g)
        let columnsCount = padded ? pw.paddedCount + pw.k * pw.run + pw.o * pw.run : kernelSize * g.p * group
        let gradColumnsCount = padded ? pw.k * pw.run + pw.paddedCount : kernelSize * g.p * group
        for w in workspaces.prefix(chunks) {
            w.columns.resize([columnsCount])
            if group > 1 { w.rows.resize([nOutputPlane * g.p * group]) }
            if gradients {
                w.gradColumns.resize([gradColumnsCount])
                w.gradWeight.resize([nOutputPlane, kernelSize])
                w.gradBias.resize([nOutputPlane])
            }
        }
    }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        var pooled = false
        return try computeOutput(input, then: nil, pooling: nil, pooled: &pooled)
    }

    /// The output, and with `activation` that module's output f(y) too (and `pooling`'s, when
    /// it takes the fused path: `pooled`), each image's (or block of images') as soon as its y
    /// is written (`forward(_:then:pooling:)`).
    func computeOutput(_ input: Tensor, then activation: ElementwiseModule?, pooling: SpatialMaxPooling?,
                       pooled: inout Bool) throws -> Tensor {
        let g = try geometry(input)
        output.resize(input.dim == 4 ? [g.b, nOutputPlane, g.oh, g.ow] : [nOutputPlane, g.oh, g.ow])
        let (nOut, k, p) = (nOutputPlane, kernelSize, g.p)
        let finished = ImagesFinished(activation, pooling: pooling, y: output, planes: nOut, positions: p, pooled: &pooled)
        let chunks = Parallel.chunkCount(g.b, costPerItem: nOut * k * p)
        let x = input.data, y = output.data, w = weightParameter.value.data, bias = biasParameter?.value.data
        let rows = isTraining ? nil : sparse.rows(weightParameter, .convolution, rows: nOut, columns: k, batch: g.b,
                                                  lanePlanes: runsSparseDirect ? nOut : nil)
        if let rows, runsSparseDirect {
            let taps = sparseDirectTaps(rows, g), size = sparseDirectWorkspace(g)
            while workspaces.count < chunks { workspaces.append(Workspace()) }
            for ws in workspaces.prefix(chunks) {
                ws.columns.resize([size.columns])
                ws.rows.resize([size.rows])
            }
            Parallel.forChunksIndexed(g.b, costPerItem: nOut * k * p) { c, r in
                self.forwardSparseDirect(r, taps, g, x: x, y: y, bias: bias, self.workspaces[c], finished: finished)
            }
            return output
        }
        let padded = usesPaddedWidth(g)
        let group = padded ? 1 : Self.imagesPerGroup(positions: p, chunkImages: (g.b + chunks - 1) / chunks)
        prepareWorkspaces(chunks, g, gradients: false, group: group)
        let inSize = nInputPlane * g.h * g.w
        Parallel.forChunksIndexed(g.b, costPerItem: nOut * k * p) { c, r in
            let col = self.workspaces[c].columns.data
            if padded {
                let s = self.paddedShape(g)
                let xp = col, bMatrix = col + s.paddedCount, outRows = bMatrix + s.k * s.run
                for b in r {
                    PaddedWidthConvolution.pad(x + b * inSize, s, into: xp)
                    PaddedWidthConvolution.unfold(xp, s, into: bMatrix)
                    if let sr = rows {
                        sr.multiply(b: bMatrix, ldb: s.run, n: s.run, c: outRows, ldc: s.run, accumulate: false)
                    } else {
                        BLAS.gemm(m: nOut, n: s.run, k: k, a: w, b: bMatrix, c: outRows)
                    }
                    PaddedWidthConvolution.copyOut(outRows, bias, s, into: y + b * nOut * p)
                    finished(b..<(b + 1))
                }
                return
            }
            let im2col = self.im2col(g)
            if group > 1 {
                return self.forwardGroups(r, group: group, im2col, x: x, y: y, w: w, bias: bias, rows: rows, self.workspaces[c],
                                          finished: finished)
            }
            for b in r {
                im2col.unfold(x + b * inSize, into: col)
                let yb = y + b * nOut * p
                if let sr = rows {
                    if let bias { SmallGEMM.fillRows(m: nOut, n: p, bias, c: yb, ldc: p) }
                    sr.multiply(b: col, ldb: p, n: p, c: yb, ldc: p, accumulate: bias != nil)
                } else {
                    // y = bias + W · col, the bias added as the product is stored.
                    BLAS.gemm(m: nOut, n: p, k: k, a: w, b: col, c: yb, rowBias: bias)
                }
                finished(b..<(b + 1))
            }
        }
        return output
    }

    /// The im2col geometry of this layer for input `g`.
    private func im2col(_ g: Geometry) -> Im2Col {
        Im2Col(nInputPlane: nInputPlane, kW: kW, kH: kH, dW: dW, dH: dH, padW: padW, padH: padH, h: g.h, w: g.w, oh: g.oh, ow: g.ow)
    }

    /// The im2col geometry of this layer for input planes of `height`×`width` (the one every
    /// user of this layer's unfolding shares: the forward and backward passes, the Hessian and
    /// emp passes). With `planes`, only that many input planes are unfolded (rows
    /// planes·kH·kW), for a perturbation that touches a few planes.
    func im2col(height: Int, width: Int, planes: Int? = nil) -> Im2Col {
        Im2Col(nInputPlane: planes ?? nInputPlane, kW: kW, kH: kH, dW: dW, dH: dH, padW: padW, padH: padH, h: height, w: width)
    }

    /// The im2col geometry for `input` ([nIn, H, W] or [B, nIn, H, W]).
    func im2col(for input: Tensor) -> Im2Col {
        im2col(height: input.shape[input.dim - 2], width: input.shape[input.dim - 1])
    }

    /// The backward pass, per image: ∂L/∂W and ∂L/∂b (when `parameters`) and ∂L/∂x (when
    /// `inputGradient`), sharing one unfolding of the input.
    private func backwardPass(_ input: Tensor, _ gradOutput: Tensor, scale: Float, parameters: Bool, inputGradient: Bool) throws {
        let g = try geometry(input)
        guard gradOutput.count == g.b * nOutputPlane * g.p else {
            throw EngineError("\(description): gradOutput has \(gradOutput.count) elements, expected \(g.b * nOutputPlane * g.p)")
        }
        let (nOut, k, p) = (nOutputPlane, kernelSize, g.p)
        let work = nOut * k * p * ((parameters ? 1 : 0) + (inputGradient ? 1 : 0))
        let chunks = Parallel.chunkCount(g.b, costPerItem: work)
        let group = usesPaddedWidth(g) ? 1 : Self.imagesPerGroup(positions: g.p, chunkImages: (g.b + chunks - 1) / chunks)
        prepareWorkspaces(chunks, g, gradients: true, group: group)
        if inputGradient { gradInput.resize(input.shape) }
        let x = input.data, gy = gradOutput.data, w = weightParameter.value.data
        let gi = inputGradient ? gradInput.data : nil
        let inSize = nInputPlane * g.h * g.w
        let hasBias = biasParameter != nil
        let padded = usesPaddedWidth(g)
        let intoGradients = chunks == 1  // one chunk accumulates straight into the parameters' gradients
        let gradW = weightParameter.grad.data, gradB = biasParameter?.grad.data
        for ws in workspaces.prefix(chunks) where parameters && !intoGradients {
            ws.gradWeight.zero(); ws.gradBias.zero()
        }
        Parallel.forChunksIndexed(g.b, costPerItem: work) { c, r in
            let ws = self.workspaces[c]
            let col = ws.columns.data, gcol = ws.gradColumns.data
            let gw = intoGradients ? gradW : ws.gradWeight.data
            let gb = intoGradients ? gradB : ws.gradBias.data
            if padded {
                let s = self.paddedShape(g)
                let xp = col, bMatrix = col + s.paddedCount, rows = bMatrix + s.k * s.run
                let gbMatrix = gcol, gxp = gcol + s.k * s.run
                for b in r {
                    let gyb = gy + b * nOut * p
                    PaddedWidthConvolution.padGradient(gyb, s, into: rows)
                    if parameters {
                        PaddedWidthConvolution.pad(x + b * inSize, s, into: xp)
                        PaddedWidthConvolution.unfold(xp, s, into: bMatrix)
                        BLAS.gemm(transB: true, m: nOut, n: k, k: s.run, alpha: scale, a: rows, b: bMatrix, beta: 1, c: gw)
                        if hasBias, let gb { Self.addBiasGradient(gyb, nOut, p, scale, gb) }
                    }
                    if let gi {
                        BLAS.gemm(transA: true, m: k, n: s.run, k: nOut, a: w, b: rows, c: gbMatrix)
                        PaddedWidthConvolution.fold(gbMatrix, s, scratch: gxp, into: gi + b * inSize)
                    }
                }
                return
            }
            let im2col = self.im2col(g)
            if group > 1 {
                return self.backwardGroups(r, group: group, im2col, x: x, gy: gy, w: w, gw: parameters ? gw : nil,
                                           gb: parameters && hasBias ? gb : nil, gi: gi, scale: scale, ws)
            }
            for b in r {
                let gyb = gy + b * nOut * p
                if parameters {
                    im2col.unfold(x + b * inSize, into: col)
                    BLAS.gemm(transB: true, m: nOut, n: k, k: p, alpha: scale, a: gyb, b: col, beta: 1, c: gw)
                    if hasBias, let gb { Self.addBiasGradient(gyb, nOut, p, scale, gb) }
                }
                if let gi {
                    BLAS.gemm(transA: true, m: k, n: p, k: nOut, a: w, b: gyb, c: gcol)
                    im2col.fold(gcol, into: gi + b * inSize)
                }
            }
        }
        if parameters && !intoGradients {
            for ws in workspaces.prefix(chunks) {
                weightParameter.grad.add(ws.gradWeight)
                biasParameter?.grad.add(ws.gradBias)
            }
        }
    }

    /// ∂L/∂b[o] += scale · Σ_i ∂L/∂y[o, i] for one image's gradient [nOut, p].
    @inline(__always)
    static func addBiasGradient(_ gy: UnsafePointer<Float>, _ nOut: Int, _ p: Int, _ scale: Float,
                                        _ gb: UnsafeMutablePointer<Float>) {
        for o in 0..<nOut {
            let row = gy + o * p
            var s: Float = 0
            for i in 0..<p { s += row[i] }
            gb[o] += scale * s
        }
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        try backwardPass(input, gradOutput, scale: 1, parameters: false, inputGradient: true)
        return gradInput
    }

    /// ∂L/∂W += scale · Σ_b ∂L/∂Y_b · columns_bᵀ ; ∂L/∂b[o] += scale · Σ_{b, i, j} ∂L/∂y[b, o, i, j]
    override public func accGradParameters(_ input: Tensor, _ gradOutput: Tensor, scale: Float) throws {
        try backwardPass(input, gradOutput, scale: scale, parameters: true, inputGradient: false)
    }

    override public func backward(_ input: Tensor, _ gradOutput: Tensor, scale: Float = 1) throws -> Tensor {
        try backwardPass(input, gradOutput, scale: scale, parameters: !isFrozen, inputGradient: true)
        if !isFrozen { parametersReceivedGradients() }
        return gradInput
    }

    override public func clearState() {
        super.clearState()
        workspaces = []
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
