import Foundation

/// The empirical Fisher diagonal F = (1/N) Σ_e (∂ℓ_e/∂W)², one batch at a time.
///
/// The per-example gradient with respect to the logits is δz = p - onehot(t); the engine's
/// own `updateGradInput` carries it down to each chosen layer, giving δ = ∂ℓ_e/∂y per example.
/// Then, per example e:
///
/// - Linear: ∂ℓ_e/∂W_ki = δ_k x_i, so Σ_e (∂ℓ_e/∂W_ki)² = Σ_e δ_k² x_i² = (δ²)ᵀ (x²), one GEMM;
/// - convolution: ∂ℓ_e/∂W = Δ_e U_eᵀ with Δ_e [nOut, P] and U_e [nIn·kH·kW, P] the unfolded
///   input of example e; the square is taken per example (positions sum inside it).
struct FisherPass {
    let chain: LayerChain
    let head: SoftmaxCrossEntropyHead
    let lowest: Int
    let accumulators: [Int: Tensor]
    let total: Int
    private let delta = Tensor(), squaredDelta = Tensor(), squaredInput = Tensor()
    private let columns = Tensor(), exampleGradient = Tensor()

    init(chain: LayerChain, head: SoftmaxCrossEntropyHead, lowest: Int, accumulators: [Int: Tensor], total: Int) {
        self.chain = chain; self.head = head; self.lowest = lowest; self.accumulators = accumulators; self.total = total
    }

    mutating func accumulate(_ x: Tensor, _ targets: Tensor) throws {
        _ = try chain.model.forward(x)
        let z = head.logits(chain, modelInput: x)
        let b = targets.count, classes = z.count / b
        delta.resize(z.shape)
        for e in 0..<b {
            let d = delta.data + e * classes
            SoftmaxCrossEntropyHead.probabilities(z.data + e * classes, classes: classes, into: d)
            d[Int(targets[e])] -= 1
        }
        var g: Tensor = delta
        var k = head.logitsLeafCount - 1
        while k >= lowest {
            let m = chain.leaves[k]
            let input = chain.input(ofLeaf: k, modelInput: x)
            if let acc = accumulators[k] { try accumulateWeights(m, input: input, gradOutput: g, into: acc) }
            if k == lowest { break }
            do { g = try m.updateGradInput(input, g) } catch let e as EngineError {
                throw EngineError("the Fisher diagonal (taylor2): \(m.description): \(e.message)")
            }
            k -= 1
        }
    }

    private func accumulateWeights(_ m: Module, input: Tensor, gradOutput g: Tensor, into acc: Tensor) throws {
        let invN = Float(1 / Double(total))
        if let lin = m as? Linear {
            let b = input.count / lin.inputSize
            squaredInput.resize(input.shape)
            squaredDelta.resize(g.shape)
            let x = input.data, x2 = squaredInput.data, d = g.data, d2 = squaredDelta.data
            for i in 0..<input.count { x2[i] = x[i] * x[i] }
            for i in 0..<g.count { d2[i] = d[i] * d[i] }
            BLAS.gemm(transA: true, m: lin.outputSize, n: lin.inputSize, k: b, alpha: invN,
                      a: d2, b: x2, beta: 1, c: acc.data)
        } else if let conv = m as? SpatialConvolution {
            let geo = ConvolutionGeometry(conv, height: input.shape[input.dim - 2], width: input.shape[input.dim - 1])
            let b = input.count / (geo.nIn * geo.h * geo.w)
            let kernel = geo.nIn * geo.kernelArea
            columns.resize([kernel, geo.p])
            exampleGradient.resize([geo.nOut, kernel])
            let a = acc.data, eg = exampleGradient.data, n = geo.nOut * kernel
            for e in 0..<b {
                geo.unfold(input.data + e * geo.nIn * geo.h * geo.w, count: 1, examplePlanes: geo.nIn, firstPlane: 0,
                           planes: geo.nIn, into: columns.data)
                BLAS.gemm(transB: true, m: geo.nOut, n: kernel, k: geo.p,
                          a: g.data + e * geo.nOut * geo.p, b: columns.data, c: eg)
                for i in 0..<n { a[i] += invN * eg[i] * eg[i] }
            }
        }
    }
}
