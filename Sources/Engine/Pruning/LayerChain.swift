import Foundation

/// A model as the chain of its leaf modules (containers flattened, depth first), layer l
/// being leaf l-1 (`Pruning`'s numbering). When the model is a chain — nested `Sequential`s
/// only — leaf k's input after `model.forward(x)` is leaf k-1's `output` (x for the first),
/// which is what the Hessian, emp and input-statistics passes read; `requireChain` says
/// clearly when a table container makes it not so.
struct LayerChain {
    let model: Sequential
    let leaves: [Module]

    init(_ model: Sequential) {
        self.model = model
        leaves = leafModules(model)
    }

    /// The first module that makes the model other than a chain (a table container or a
    /// module taking tables), with its path, or nil.
    var firstTableModule: (path: String, module: Module)? {
        func visit(_ m: Module, _ path: [Int]) -> (String, Module)? {
            if !(m is Sequential) && (m is Container || m.usesTables) { return (path.map(String.init).joined(separator: "."), m) }
            guard let s = m as? Sequential else { return nil }
            for (i, c) in s.modules.enumerated() { if let f = visit(c, path + [i + 1]) { return f } }
            return nil
        }
        return visit(model, [])
    }

    /// Throws, naming `what` and the module, unless the model is a chain of modules.
    func requireChain(for what: String) throws {
        if let (path, m) = firstTableModule {
            throw EngineError("\(what) runs through a chain of modules (nn.Sequential, nested); the model holds \(m.typeName) at \(path), and table containers (nn.ConcatTable, nn.ParallelTable, nn.CAddTable, nn.JoinTable, ...) are not supported by it; mag, random, taylor1, l1, l2 and Lua criteria are")
        }
    }

    /// The leaf position of layer `layer`, which must hold weights.
    func leaf(ofLayer layer: Int) throws -> Int {
        let m = try Pruning.layerModule(of: model, layer: layer)
        guard m.weight != nil else {
            throw EngineError("layer \(layer) (\(m.description)) has no weights to prune")
        }
        return layer - 1
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
