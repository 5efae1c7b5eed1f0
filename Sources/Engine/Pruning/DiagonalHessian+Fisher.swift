import Foundation

/// The empirical Fisher diagonal F = (1/N) Σ_e (∂ℓ_e/∂W)², one batch at a time.
///
/// The per-example gradient with respect to the logits is δz = p - onehot(t); the engine's
/// own `updateGradInput` carries it down to each chosen layer, giving δ = ∂ℓ_e/∂y per example.
/// Then each scored layer adds Σ_e (∂ℓ_e/∂W)² by its `DiagonalHessianWeighted.accFisherDiagonal`
/// (Linear+Hessian.swift: one GEMM of the squares; SpatialConvolution+Hessian.swift: the
/// gradient formed per example, positions summing inside the square).
struct FisherPass {
    let chain: LayerChain
    let head: SoftmaxCrossEntropyHead
    let lowest: Int
    let accumulators: [Int: Tensor]
    let total: Int
    private let delta = Tensor()
    private var scratch = [Int: DiagonalHessianScratch]()

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
            if let acc = accumulators[k], let w = m as? any DiagonalHessianWeighted {
                if scratch[k] == nil { scratch[k] = DiagonalHessianScratch() }
                try w.accFisherDiagonal(input, g, scale: Float(1 / Double(total)), into: acc, scratch: scratch[k]!)
            }
            if k == lowest { break }
            do { g = try m.updateGradInput(input, g) } catch let e as EngineError {
                throw EngineError("the Fisher diagonal (taylor2): \(m.description): \(e.message)")
            }
            k -= 1
        }
    }
}
