import Foundation

/// Passes over the scoring set that several pruners share. Each runs the model in evaluation
/// mode and leaves it as it found it (`ModelStateGuard`): same mode, frozen flags and
/// accumulated gradients; parameter values are never changed.
enum ScoringPasses {
    /// The mean loss L = (1/N) Σ_e ℓ_e over `data` and, for each layer in `layers` (1-based),
    /// G = ∂L/∂W accumulated over batches by the engine's own backward pass (each batch's
    /// gradient scaled by its share of the set). Pruned weights get 0.
    static func gradients(model: Sequential, layers: [Int], data: Dataset, criterion: Criterion,
                          batchSize: Int) throws -> (loss: Double, gradients: [Int: Tensor]) {
        guard data.count > 0 else { throw EngineError("\(data.name): the scoring set is empty") }
        for l in layers {
            let m = try Pruning.layerModule(of: model, layer: l)
            guard m.weight != nil else { throw EngineError("layer \(l) (\(m.description)) has no weights to prune") }
        }
        let state = ModelStateGuard(model)
        defer { state.restore() }
        model.evaluate()
        for m in allModules(model) { m.isFrozen = false }
        model.zeroGradParameters()
        var total = 0.0
        let n = Double(data.count)
        try forEachBatch(data, batchSize: batchSize) { x, t, range in
            let out = try model.forward(x)
            let loss = try criterion.forward(out, t)
            let b = Double(range.count)
            total += Double(loss) * (criterion.sizeAverage ? b : 1)
            let g = try criterion.backward(out, t)
            try model.backward(x, g, scale: Float((criterion.sizeAverage ? b : 1) / n))
        }
        var result = [Int: Tensor]()
        for l in layers { result[l] = try Pruning.layerModule(of: model, layer: l).weight!.grad.clone() }
        return (total / n, result)
    }

    /// For each layer l in `layers`: (1/B) Σ_b (−g_b ⊙ W + c)², summed in double precision, with
    /// g_b = ∂L_b/∂W the gradient of batch b's mean loss L_b (the B batches of `batchSize` in
    /// the set's order, each by the engine's backward pass) and c = `offsets[l]` (absent: 0).
    /// −g_b ⊙ W estimates to first order the change of L_b when each weight alone is zeroed:
    /// `ScoreAccumulation.batch` for taylor1 (c = 0) and taylor12 (c = ½ h w²).
    static func batchSquaredChanges(model: Sequential, layers: [Int], data: Dataset, criterion: Criterion,
                                    batchSize: Int, offsets: [Int: Tensor] = [:]) throws -> [Int: Tensor] {
        guard data.count > 0 else { throw EngineError("\(data.name): the scoring set is empty") }
        let weights = try layers.map { l -> Parameter in
            let m = try Pruning.layerModule(of: model, layer: l)
            guard let w = m.weight else { throw EngineError("layer \(l) (\(m.description)) has no weights to prune") }
            return w
        }
        let state = ModelStateGuard(model)
        defer { state.restore() }
        model.evaluate()
        for m in allModules(model) { m.isFrozen = false }
        var sums = weights.map { BatchSquareAccumulator(count: $0.value.count) }
        try forEachBatch(data, batchSize: batchSize) { x, t, range in
            model.zeroGradParameters()
            let out = try model.forward(x)
            _ = try criterion.forward(out, t)
            let g = try criterion.backward(out, t)
            try model.backward(x, g, scale: criterion.sizeAverage ? 1 : 1 / Float(range.count))
            for (k, w) in weights.enumerated() {
                let gp = w.grad.data, wp = w.value.data, c = offsets[layers[k]]?.data
                sums[k].add { i in -Double(gp[i]) * Double(wp[i]) + Double(c?[i] ?? 0) }
            }
        }
        var result = [Int: Tensor]()
        for (k, l) in layers.enumerated() { result[l] = sums[k].scores(shape: weights[k].value.shape) }
        return result
    }

    /// Mean over `data` of the squared input of layer `layer`, per weight position:
    /// Linear [in]: (1/N) Σ_e x_{e,i}²; SpatialConvolution [nIn, kH, kW]: the mean over examples
    /// and output positions of the squared input each kernel entry multiplies (padding counts 0).
    static func inputSecondMoment(model: Sequential, layer: Int, data: Dataset, batchSize: Int) throws -> Tensor {
        guard data.count > 0 else { throw EngineError("\(data.name): the scoring set is empty") }
        let chain = LayerChain(model)
        try chain.requireChain(for: "input statistics")
        let k = try chain.leaf(ofLayer: layer)
        let module = chain.leaves[k]
        let state = ModelStateGuard(model)
        defer { state.restore() }
        model.evaluate()
        let result: Tensor
        var acc: [Double]
        if let lin = module as? Linear {
            result = Tensor(shape: [lin.inputSize])
            acc = [Double](repeating: 0, count: lin.inputSize)
        } else if let conv = module as? SpatialConvolution {
            result = Tensor(shape: [conv.nInputPlane, conv.kH, conv.kW])
            acc = [Double](repeating: 0, count: result.count)
        } else {
            throw EngineError("input statistics are available for nn.Linear and nn.SpatialConvolution layers, layer \(layer) is \(module.typeName)")
        }
        var positions = 0
        let columns = Tensor()
        try forEachBatch(data, batchSize: batchSize) { x, _, range in
            _ = try model.forward(x)
            let input = chain.input(ofLeaf: k, modelInput: x)
            let b = range.count
            if module is Linear {
                let f = acc.count, p = input.data
                for e in 0..<b { for i in 0..<f { let v = Double(p[e * f + i]); acc[i] += v * v } }
                positions = 1
            } else if let conv = module as? SpatialConvolution {
                let g = conv.im2col(for: input)
                columns.resize([acc.count, b * g.positions])
                g.unfold(input.data, images: b, imageStride: conv.nInputPlane * g.h * g.w, into: columns.data)
                let c = columns.data, len = b * g.positions
                for r in 0..<acc.count {
                    var s = 0.0
                    for j in 0..<len { let v = c[r * len + j]; s += Double(v * v) }
                    acc[r] += s
                }
                positions = g.positions
            }
        }
        let scale = 1 / (Double(data.count) * Double(positions))
        for i in 0..<acc.count { result[i] = Float(acc[i] * scale) }
        return result
    }
}
