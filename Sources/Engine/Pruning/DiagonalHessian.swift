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
        try chain.requireChain(for: "the Hessian diagonal (taylor2)")
        let head = try SoftmaxCrossEntropyHead(chain, criterion: criterion, pruner: "the Hessian diagonal (taylor2)")
        var leafLayers = [Int: Int]()
        for l in layers {
            let k = try chain.leaf(ofLayer: l)
            let m = chain.leaves[k]
            guard m is any DiagonalHessianWeighted else {
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
            var pass = try GaussNewtonPass(chain: chain, head: head, lowest: lowest, accumulators: accumulators, total: data.count)
            try forEachBatch(data, batchSize: batchSize) { x, t, _ in try pass.accumulate(x, t) }
        case .fisher:
            var pass = FisherPass(chain: chain, head: head, lowest: lowest, accumulators: accumulators, total: data.count)
            try forEachBatch(data, batchSize: batchSize) { x, t, _ in try pass.accumulate(x, t) }
        }
        var result = [Int: Tensor]()
        for (k, l) in leafLayers { result[l] = accumulators[k]! }
        return result
    }

    /// Leaf k as a module the diagonal can pass through, or an error naming it.
    static func propagating(_ chain: LayerChain, leaf: Int) throws -> any DiagonalHessianPropagating {
        let m = chain.leaves[leaf]
        guard let p = m as? any DiagonalHessianPropagating else {
            throw EngineError("the Hessian diagonal (taylor2) cannot be propagated through \(m.typeName) (layer \(leaf + 1)): supported are nn.Linear, nn.SpatialConvolution, nn.Tanh, nn.Sigmoid, nn.ReLU, nn.Dropout, nn.SpatialMaxPooling, nn.View, nn.Reshape, nn.Identity")
        }
        return p
    }
}

/// A module the Gauss-Newton diagonal passes through: torch/nn's hessian.lua
/// `updateDiagHessianInput`. Layers adopt it in `Layers/<Name>+Hessian.swift`, next to their
/// forward and backward passes, with the rule they implement.
protocol DiagonalHessianPropagating: Module {
    /// h(x) from h(y) = `diagHessianOutput`, after a forward pass of `input`, into
    /// `diagHessianInput` (already shaped like the input). `scratch` is this module's for the
    /// whole pass (buffers, and what it derives once from its weights).
    func updateDiagHessianInput(_ input: Tensor, _ diagHessianOutput: Tensor, into diagHessianInput: Tensor,
                                scratch: DiagonalHessianScratch) throws
}

/// A layer whose weights the diagonal is computed for: hessian.lua's
/// `accDiagHessianParameters`, and the empirical Fisher's per-example squares.
protocol DiagonalHessianWeighted: DiagonalHessianPropagating {
    /// h(W) += the diagonal from this batch's h(y) = `diagHessianOutput` and input.
    func accDiagHessianParameters(_ input: Tensor, _ diagHessianOutput: Tensor, into acc: Tensor,
                                  scratch: DiagonalHessianScratch) throws
    /// F += scale · Σ_e (∂ℓ_e/∂W)² from this batch's per-example ∂ℓ_e/∂y = `gradOutput`.
    func accFisherDiagonal(_ input: Tensor, _ gradOutput: Tensor, scale: Float, into acc: Tensor,
                           scratch: DiagonalHessianScratch) throws
}

/// One module's memory for one diagonal pass, reused across batches.
final class DiagonalHessianScratch {
    private var state: AnyObject?
    private var tensors: [Tensor] = []

    /// What the module derives once per pass from its weights (W², a squared-kernel twin):
    /// made by `make` on the first call, the same object afterwards.
    func prepared<T: AnyObject>(_ make: () -> T) -> T {
        if let made = state as? T { return made }
        let made = make()
        state = made
        return made
    }

    /// The module's i-th scratch tensor (any shape; resize before use).
    func buffer(_ i: Int) -> Tensor {
        while tensors.count <= i { tensors.append(Tensor()) }
        return tensors[i]
    }
}


/// One Gauss-Newton diagonal pass per batch, with buffers reused across batches: the driver;
/// each module's rule is its `DiagonalHessianPropagating` conformance.
private struct GaussNewtonPass {
    let chain: LayerChain
    let head: SoftmaxCrossEntropyHead
    let lowest: Int
    let accumulators: [Int: Tensor]
    let total: Int
    /// The modules from the lowest scored layer to the logits, and their scratch.
    private let modules: [Int: any DiagonalHessianPropagating]
    private let scratch: [Int: DiagonalHessianScratch]
    private let buffers = [Tensor(), Tensor()]

    init(chain: LayerChain, head: SoftmaxCrossEntropyHead, lowest: Int, accumulators: [Int: Tensor], total: Int) throws {
        self.chain = chain; self.head = head; self.lowest = lowest; self.accumulators = accumulators; self.total = total
        var modules = [Int: any DiagonalHessianPropagating](), scratch = [Int: DiagonalHessianScratch]()
        for k in lowest..<head.logitsLeafCount {
            modules[k] = try DiagonalHessian.propagating(chain, leaf: k)
            scratch[k] = DiagonalHessianScratch()
        }
        self.modules = modules; self.scratch = scratch
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
            let m = modules[k]!
            let input = chain.input(ofLeaf: k, modelInput: x)
            let next = buffers[1 - which]
            if let acc = accumulators[k], let w = m as? any DiagonalHessianWeighted {
                try w.accDiagHessianParameters(input, h, into: acc, scratch: scratch[k]!)
            }
            if k == lowest { break }
            next.resize(input.shape)
            try m.updateDiagHessianInput(input, h, into: next, scratch: scratch[k]!)
            which = 1 - which
            h = next
            k -= 1
        }
    }
}
