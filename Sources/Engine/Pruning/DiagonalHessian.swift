import Foundation

/// The diagonal of the Hessian of the mean loss L = (1/N) Σ_e ℓ_e over a scoring set with
/// respect to the weights of chosen layers, for taylor2 / taylor12 (Optimal Brain Damage,
/// LeCun, Denker & Solla 1990).
///
/// **Gauss-Newton back-propagation of the diagonal.** Write h(v) for the propagated
/// ∂²L/∂v² of an activation v. At the logits z of a softmax cross-entropy the exact diagonal is
///
///   h(z_k) = (1/N) p_k (1 - p_k),   p = softmax(z)   (per example),
///
/// and going down the net, with the off-diagonal terms of each layer's Hessian dropped and the
/// f'' terms of activations dropped (Gauss-Newton):
///
/// - Linear y = W x + b:  h(x_i) = Σ_k W_ki² h(y_k);   h(W_ki) = Σ_e h(y_k) x_i²;
/// - convolution: the same with the kernel shared over positions, i.e. the transposed
///   convolution with squared kernels, h(x) = conv_transpose(W², h(y)), and
///   h(W[o,c,v,u]) = Σ_{e,i,j} h(y[o,i,j]) · x[c, i·dH+v-padH, j·dW+u-padW]² (unfolded squared input);
/// - elementwise y = f(x):  h(x) = f'(x)² h(y)  (tanh: f' = 1 - y²; sigmoid: y(1 - y);
///   ReLU: 1[x > 0]; dropout at evaluation: its constant scale);
/// - max pooling, View, Reshape, Identity (Jacobians of 0s and 1s): h(x) = Jᵀ h(y), i.e. each
///   input receives h of the output(s) it is the maximum of.
///
/// For the last Linear layer this is the exact Hessian diagonal of L (a weight W_ki reaches
/// only the logit z_k). For the layers below it is OBD's diagonal Gauss-Newton estimate.
///
/// **Empirical Fisher** (`PrunerOptions.Hessian.fisher`): F = (1/N) Σ_e (∂ℓ_e/∂W)², the mean
/// of the squared per-example gradients (see DiagonalHessian+Fisher.swift).
public enum DiagonalHessian {
    /// The diagonal for each layer in `layers` (1-based top-level indices of Linear or
    /// SpatialConvolution layers), shaped like its weight.
    public static func compute(model: Sequential, layers: [Int], data: Dataset, criterion: Criterion = CrossEntropyCriterion(),
                               batchSize: Int, method: PrunerOptions.Hessian = .gaussNewton) throws -> [Int: Tensor] {
        guard !layers.isEmpty else { return [:] }
        guard data.count > 0 else { throw EngineError("\(data.name): the scoring set is empty") }
        let chain = LayerChain(model)
        let head = try SoftmaxCrossEntropyHead(chain, criterion: criterion, pruner: "the Hessian diagonal (taylor2)")
        var leafLayers = [Int: Int]()
        for l in layers {
            let k = try chain.leaf(ofLayer: l)
            let m = chain.leaves[k]
            guard m is Linear || m is SpatialConvolution else {
                throw EngineError("the Hessian diagonal (taylor2) supports nn.Linear and nn.SpatialConvolution layers, layer \(l) is \(m.typeName)")
            }
            guard k < head.logitsLeafCount else {
                throw EngineError("layer \(l) lies after the logits of the loss")
            }
            leafLayers[k] = l
        }
        let lowest = leafLayers.keys.min()!
        let state = ModelStateGuard(model)
        defer { state.restore() }
        model.evaluate()
        var accumulators = [Int: Tensor]()
        for (k, _) in leafLayers { accumulators[k] = Tensor(shape: chain.leaves[k].weight!.value.shape) }
        switch method {
        case .gaussNewton:
            for k in lowest..<head.logitsLeafCount { try checkPropagates(chain.leaves[k], leaf: k, chain: chain) }
            var pass = GaussNewtonPass(chain: chain, head: head, lowest: lowest, accumulators: accumulators, total: data.count)
            try forEachBatch(data, batchSize: batchSize) { x, t, _ in try pass.accumulate(x, t) }
        case .fisher:
            var pass = FisherPass(chain: chain, head: head, lowest: lowest, accumulators: accumulators, total: data.count)
            try forEachBatch(data, batchSize: batchSize) { x, t, _ in try pass.accumulate(x, t) }
        }
        var result = [Int: Tensor]()
        for (k, l) in leafLayers { result[l] = accumulators[k]! }
        return result
    }

    /// Fails with the module's name unless `module` is one the diagonal can pass through.
    static func checkPropagates(_ m: Module, leaf: Int, chain: LayerChain) throws {
        switch m {
        case is Linear, is SpatialConvolution, is Tanh, is Sigmoid, is ReLU, is Dropout,
             is SpatialMaxPooling, is View, is Reshape, is Identity:
            return
        default:
            let layer = chain.leafOfLayer.first { $0.value == leaf }?.key
            throw EngineError("the Hessian diagonal (taylor2) cannot be propagated through \(m.typeName)\(layer.map { " (layer \($0))" } ?? ""): supported are nn.Linear, nn.SpatialConvolution, nn.Tanh, nn.Sigmoid, nn.ReLU, nn.Dropout, nn.SpatialMaxPooling, nn.View, nn.Reshape, nn.Identity")
        }
    }
}

/// One Gauss-Newton diagonal pass per batch, with buffers reused across batches.
private struct GaussNewtonPass {
    let chain: LayerChain
    let head: SoftmaxCrossEntropyHead
    let lowest: Int
    let accumulators: [Int: Tensor]
    let total: Int
    /// W² of each Linear leaf, and a convolution with squared kernels for each convolution leaf.
    private var squaredLinear = [Int: Tensor]()
    private var squaredConvolution = [Int: SpatialConvolution]()
    private let buffers = [Tensor(), Tensor()]
    private let squaredInput = Tensor(), columns = Tensor(), planeMajor = Tensor()

    init(chain: LayerChain, head: SoftmaxCrossEntropyHead, lowest: Int, accumulators: [Int: Tensor], total: Int) {
        self.chain = chain; self.head = head; self.lowest = lowest; self.accumulators = accumulators; self.total = total
        for k in lowest..<head.logitsLeafCount {
            if let lin = chain.leaves[k] as? Linear {
                let w2 = lin.weightParameter.value.clone()
                w2.cmul(w2)
                squaredLinear[k] = w2
            } else if let conv = chain.leaves[k] as? SpatialConvolution, k > lowest {
                let twin = SpatialConvolution(conv.nInputPlane, conv.nOutputPlane, conv.kW, conv.kH,
                                              conv.dW, conv.dH, conv.padW, conv.padH, bias: false)
                twin.weightParameter.value.copy(from: conv.weightParameter.value)
                twin.weightParameter.value.cmul(conv.weightParameter.value)
                squaredConvolution[k] = twin
            }
        }
    }

    mutating func accumulate(_ x: Tensor, _ targets: Tensor) throws {
        _ = try chain.model.forward(x)
        let z = head.logits(chain, modelInput: x)
        let b = targets.count, classes = z.count / b
        var which = 0
        var h = buffers[which]
        h.resize(z.shape)
        let invN = 1 / Double(total)
        for e in 0..<b {
            let p = h.data + e * classes
            SoftmaxCrossEntropyHead.probabilities(z.data + e * classes, classes: classes, into: p)
            for k in 0..<classes { p[k] = Float(Double(p[k]) * (1 - Double(p[k])) * invN) }
        }
        var k = head.logitsLeafCount - 1
        while k >= lowest {
            let m = chain.leaves[k]
            let input = chain.input(ofLeaf: k, modelInput: x)
            let next = buffers[1 - which]
            if let acc = accumulators[k] { try accumulateWeights(m, input: input, h: h, into: acc) }
            if k == lowest { break }
            try propagate(m, leaf: k, input: input, h: h, into: next)
            which = 1 - which
            h = next
            k -= 1
        }
    }

    /// h(W) += Σ_e h(y) ⊗ x² for a Linear or convolution leaf.
    private func accumulateWeights(_ m: Module, input: Tensor, h: Tensor, into acc: Tensor) throws {
        if let lin = m as? Linear {
            let b = input.count / lin.inputSize
            squaredInput.resize(input.shape)
            let x = input.data, x2 = squaredInput.data
            for i in 0..<input.count { x2[i] = x[i] * x[i] }
            BLAS.gemm(transA: true, m: lin.outputSize, n: lin.inputSize, k: b,
                      a: h.data, b: x2, beta: 1, c: acc.data)
        } else if let conv = m as? SpatialConvolution {
            let g = ConvolutionGeometry(conv, height: input.shape[input.dim - 2], width: input.shape[input.dim - 1])
            let b = input.count / (g.nIn * g.h * g.w)
            let kernel = g.nIn * g.kernelArea
            columns.resize([kernel, b * g.p])
            g.unfold(input.data, count: b, examplePlanes: g.nIn, firstPlane: 0, planes: g.nIn, into: columns.data, squared: true)
            planeMajor.resize([g.nOut, b * g.p])
            transposeToPlaneMajor(h.data, examples: b, planes: g.nOut, positions: g.p, into: planeMajor.data)
            BLAS.gemm(transB: true, m: g.nOut, n: kernel, k: b * g.p,
                      a: planeMajor.data, b: columns.data, beta: 1, c: acc.data)
        }
    }

    /// h(x) of leaf `k` from h(y), into `out` (shaped like the input).
    private func propagate(_ m: Module, leaf k: Int, input: Tensor, h: Tensor, into out: Tensor) throws {
        out.resize(input.shape)
        let o = out.data, hy = h.data, n = input.count
        switch m {
        case let lin as Linear:
            let b = n / lin.inputSize
            BLAS.gemm(m: b, n: lin.inputSize, k: lin.outputSize, a: hy, b: squaredLinear[k]!.data, c: o)
        case is SpatialConvolution:
            out.copy(from: try squaredConvolution[k]!.updateGradInput(input, h))
        case is Tanh:
            let y = m.output.data
            for i in 0..<n { let d = 1 - y[i] * y[i]; o[i] = d * d * hy[i] }
        case is Sigmoid:
            let y = m.output.data
            for i in 0..<n { let d = y[i] * (1 - y[i]); o[i] = d * d * hy[i] }
        case is ReLU:
            let x = input.data
            for i in 0..<n { o[i] = x[i] > 0 ? hy[i] : 0 }
        case let drop as Dropout:
            let c = Float(drop.v1 ? 1 - drop.p : 1)
            for i in 0..<n { o[i] = c * c * hy[i] }
        default:
            // Max pooling, View, Reshape, Identity: 0/1 Jacobians, so (J∘J)ᵀ h = Jᵀ h.
            out.copy(from: try m.updateGradInput(input, h))
        }
    }
}

/// a [b, planes, positions] → [planes, b·positions].
func transposeToPlaneMajor(_ a: UnsafePointer<Float>, examples b: Int, planes: Int, positions p: Int,
                           into out: UnsafeMutablePointer<Float>) {
    for e in 0..<b {
        for o in 0..<planes {
            (out + (o * b + e) * p).update(from: a + (e * planes + o) * p, count: p)
        }
    }
}
