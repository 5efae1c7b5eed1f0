import Foundation

/// A model as the chain of its leaf modules (nested `Sequential`s flattened), with the
/// position of each top-level layer. After `model.forward(x)`, leaf k's input is leaf k-1's
/// `output` (x for the first), which is what the scoring passes read.
struct LayerChain {
    let model: Sequential
    let leaves: [Module]
    /// Leaf position (0-based) of each top-level layer (1-based, Torch's index) that is a leaf.
    let leafOfLayer: [Int: Int]

    init(_ model: Sequential) {
        self.model = model
        var leaves = [Module](), map = [Int: Int]()
        for (i, m) in model.modules.enumerated() {
            if m is Sequential {
                leaves += leafModules(m)
            } else {
                map[i + 1] = leaves.count
                leaves.append(m)
            }
        }
        self.leaves = leaves
        leafOfLayer = map
    }

    /// The leaf position of top-level layer `layer`, which must hold weights.
    func leaf(ofLayer layer: Int) throws -> Int {
        let m = try model.module(at: layer)
        guard let k = leafOfLayer[layer], m.weight != nil else {
            throw EngineError("layer \(layer) (\(m.description)) has no weights to prune")
        }
        return k
    }

    /// Leaf k's input after the last forward pass of `input` through the model.
    func input(ofLeaf k: Int, modelInput: Tensor) -> Tensor { k == 0 ? modelInput : leaves[k - 1].output }
}

/// The loss at the end of a model in the exact form some pruners need: softmax cross-entropy
/// on logits, i.e. CrossEntropyCriterion on the last output, or ClassNLLCriterion (without
/// class weights) after a final LogSoftMax (then the logits are that module's input).
struct SoftmaxCrossEntropyHead {
    /// Leaves 0 ..< logitsLeafCount produce the logits (the last one's output).
    let logitsLeafCount: Int

    init(_ chain: LayerChain, criterion: Criterion, pruner: String) throws {
        if criterion is CrossEntropyCriterion {
            logitsLeafCount = chain.leaves.count
        } else if let nll = criterion as? ClassNLLCriterion, nll.weights == nil, chain.leaves.last is LogSoftMax {
            logitsLeafCount = chain.leaves.count - 1
        } else {
            throw EngineError("\(pruner) needs a softmax cross-entropy loss (nn.CrossEntropyCriterion, or nn.ClassNLLCriterion after a final nn.LogSoftMax), the loss is \(criterion.typeName)")
        }
    }

    /// The logits after the last forward pass.
    func logits(_ chain: LayerChain, modelInput: Tensor) -> Tensor {
        chain.input(ofLeaf: logitsLeafCount, modelInput: modelInput)
    }

    /// Per-example loss in double precision: log Σ_k e^{z_k} - z_t.
    static func loss(_ z: UnsafePointer<Float>, classes: Int, target: Int) -> Double {
        var m = -Double.infinity
        for k in 0..<classes { m = Swift.max(m, Double(z[k])) }
        var s = 0.0
        for k in 0..<classes { s += Foundation.exp(Double(z[k]) - m) }
        return m + Foundation.log(s) - Double(z[target])
    }

    /// softmax(z) in double precision, written as floats.
    static func probabilities(_ z: UnsafePointer<Float>, classes: Int, into p: UnsafeMutablePointer<Float>) {
        var m = -Double.infinity
        for k in 0..<classes { m = Swift.max(m, Double(z[k])) }
        var s = 0.0
        for k in 0..<classes { s += Foundation.exp(Double(z[k]) - m) }
        for k in 0..<classes { p[k] = Float(Foundation.exp(Double(z[k]) - m) / s) }
    }
}
