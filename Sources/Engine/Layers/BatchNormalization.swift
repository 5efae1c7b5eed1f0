import Foundation

/// Batch normalisation (Torch's nn.BatchNormalization(nOutput, eps, momentum, affine)) over a
/// mini-batch [B, n]; `SpatialBatchNormalization` is the same over [B, C, H, W], one feature per
/// channel plane. For feature c, with the N = B·H·W values x of that feature:
///
/// - training: μ = mean(x), σ² = Σ(x - μ)²/N (biased), x̂ = (x - μ)/√(σ² + ε),
///   y = γ x̂ + β; running_mean ← (1 - m)·running_mean + m·μ and
///   running_var ← (1 - m)·running_var + m·Σ(x - μ)²/(N - 1) (unbiased), as Torch's THNN;
/// - evaluation: x̂ = (x - running_mean)/√(running_var + ε), y = γ x̂ + β.
///
/// Backward, with g = ∂L/∂y and s = 1/√(σ² + ε):
/// - training: ∂L/∂x = γ s (g - Σg/N - (x - μ) s² Σ(x - μ)g / N);
/// - evaluation: ∂L/∂x = γ s g;
/// - both: ∂L/∂γ += scale · s Σ(x - μ)g, ∂L/∂β += scale · Σg.
///
/// Without `affine` there is no γ, β (γ = 1, β = 0).
public class BatchNormalization: Module {
    public let nOutput: Int
    public let eps: Double
    public let momentum: Double
    public let affine: Bool
    /// γ (Torch's `weight`), when affine.
    public let weightParameter: Parameter?
    /// β (Torch's `bias`), when affine.
    public let biasParameter: Parameter?
    /// Torch's `running_mean`, used at evaluation.
    public let runningMean: Tensor
    /// Torch's `running_var` (unbiased), used at evaluation.
    public let runningVar: Tensor
    /// μ and s = 1/√(σ² + ε) of the last training forward (Torch's save_mean, save_std).
    /// Whether the next training batch starts the running averages (see `restartRunningAverage`).
    public private(set) var restartsAverage = false
    var savedMean: [Float] = []
    var savedInvStd: [Float] = []

    /// The input rank this module takes (2: [B, n]; 4 in the spatial variant).
    var inputRank: Int { 2 }

    public init(_ nOutput: Int, eps: Double = 1e-5, momentum: Double = 0.1, affine: Bool = true) throws {
        guard nOutput > 0 else {
            throw EngineError("nn.BatchNormalization: the number of features must be positive, got \(nOutput) (use affine = false for no weight and bias)")
        }
        guard eps >= 0 else { throw EngineError("nn.BatchNormalization: eps must be >= 0, got \(eps)") }
        guard momentum >= 0 && momentum <= 1 else {
            throw EngineError("nn.BatchNormalization: momentum must be in [0, 1], got \(momentum)")
        }
        self.nOutput = nOutput
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        weightParameter = affine ? Parameter(name: "weight", shape: [nOutput]) : nil
        biasParameter = affine ? Parameter(name: "bias", shape: [nOutput]) : nil
        runningMean = Tensor(shape: [nOutput])
        runningVar = Tensor(shape: [nOutput], repeating: 1)
        super.init()
        reset(&GlobalRandom.generator)
    }


    override public var typeName: String { "nn.BatchNormalization" }
    override public var parameters: [Parameter] { [weightParameter, biasParameter].compactMap { $0 } }
    override public var weight: Parameter? { weightParameter }
    override public var bias: Parameter? { biasParameter }
    override public var buffers: [(name: String, value: Tensor)] {
        [("running_mean", runningMean), ("running_var", runningVar)]
    }

    /// Torch's reset: γ ~ U[0, 1), β = 0, running_mean = 0, running_var = 1.
    override public func reset(_ rng: inout RandomGenerator) {
        weightParameter?.value.fillUniform(0, 1, &rng)
        biasParameter?.value.zero()
        runningMean.zero()
        runningVar.fill(1)
    }

    /// Starts the running averages anew, as iterative magnitude pruning does each iteration:
    /// running_mean = 0 and running_var = 1 until the next training batch, whose statistics
    /// then replace them (momentum 1 for that batch, `momentum` after it).
    public func restartRunningAverage() {
        runningMean.zero()
        runningVar.fill(1)
        restartsAverage = true
    }

    /// (batch, features, values per feature and example) of a valid input.
    private func layout(_ input: Tensor) throws -> (b: Int, c: Int, s: Int) {
        guard input.dim == inputRank else {
            throw EngineError("\(description): only mini-batches are supported (\(inputRank)D input), got \(input.dim)D (\(shapeString(input.shape)))")
        }
        guard input.shape[1] == nOutput else {
            throw EngineError("\(description): input has \(input.shape[1]) features (shape \(shapeString(input.shape))), expected \(nOutput)")
        }
        return (input.shape[0], nOutput, input.shape.dropFirst(2).reduce(1, *))
    }

    /// Calls `body(c, offsets)` for each feature c, with offsets of its values b·C·S + c·S.
    @inline(__always)
    private func forEachFeature(_ l: (b: Int, c: Int, s: Int), _ body: (Int) -> Void) {
        Parallel.forChunks(l.c, costPerItem: 4 * l.b * l.s) { r in
            for c in r { body(c) }
        }
    }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        let l = try layout(input)
        let n = l.b * l.s
        if isTraining {
            guard n > 1 else {
                throw EngineError("\(description): training needs more than one value per feature, got input \(shapeString(input.shape))")
            }
            if savedMean.count != l.c {
                savedMean = Array(repeating: 0, count: l.c)
                savedInvStd = Array(repeating: 0, count: l.c)
            }
        }
        output.resize(input.shape)
        let x = input.data, y = output.data
        let w = weightParameter?.value.data, bias = biasParameter?.value.data
        let rm = runningMean.data, rv = runningVar.data
        let training = isTraining, eps = eps, m = isTraining && restartsAverage ? 1 : momentum
        if isTraining { restartsAverage = false }
        if l.s == 1 {
            updateOutputRows(x, y, batch: l.b, width: l.c, w, bias, training: training, eps: eps, momentum: m)
            return output
        }
        savedMean.withUnsafeMutableBufferPointer { sm in
            savedInvStd.withUnsafeMutableBufferPointer { si in
                forEachFeature(l) { c in
                    var mean: Float, invStd: Float
                    if training {
                        var sum = 0.0
                        for b in 0..<l.b { sum += BatchNormPlane.sum(x + (b * l.c + c) * l.s, l.s) }
                        mean = Float(sum / Double(n))
                        var squares = 0.0
                        for b in 0..<l.b { squares += BatchNormPlane.centredSquares(x + (b * l.c + c) * l.s, l.s, mean: mean) }
                        invStd = squares == 0 && eps == 0 ? 0 : Float(1 / (squares / Double(n) + eps).squareRoot())
                        sm[c] = mean
                        si[c] = invStd
                        rm[c] = Float(m * Double(mean) + (1 - m) * Double(rm[c]))
                        rv[c] = Float(m * squares / Double(n - 1) + (1 - m) * Double(rv[c]))
                    } else {
                        mean = rm[c]
                        invStd = Float(1 / (Double(rv[c]) + eps).squareRoot())
                    }
                    let gamma = w?[c] ?? 1, beta = bias?[c] ?? 0
                    for b in 0..<l.b {
                        let o = (b * l.c + c) * l.s
                        BatchNormPlane.normalize(x + o, y + o, l.s, mean: mean, invStd: invStd, gamma: gamma, beta: beta)
                    }
                }
            }
        }
        return output
    }

    /// μ and s for feature c: the saved batch statistics in training, the running ones otherwise.
    private func statistics() throws -> (mean: [Float], invStd: [Float]) {
        if isTraining {
            guard savedMean.count == nOutput else {
                throw EngineError("\(description): backward in training mode needs a forward first")
            }
            return (savedMean, savedInvStd)
        }
        return ((0..<nOutput).map { runningMean[$0] },
                (0..<nOutput).map { Float(1 / (Double(runningVar[$0]) + eps).squareRoot()) })
    }

    /// Σg and Σ(x - μ)g of feature c, in double precision, plane by plane (`BatchNormPlane`).
    @inline(__always)
    private func gradientSums(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ l: (b: Int, c: Int, s: Int),
                              _ c: Int, _ mean: Float) -> (sum: Double, dot: Double) {
        var sum = 0.0, dot = 0.0
        for b in 0..<l.b {
            let o = (b * l.c + c) * l.s
            let plane = BatchNormPlane.gradientSums(x + o, g + o, l.s, mean: mean)
            sum += plane.sum
            dot += plane.dot
        }
        return (sum, dot)
    }

    private func checkGradOutput(_ input: Tensor, _ gradOutput: Tensor) throws {
        guard gradOutput.shape == input.shape else {
            throw EngineError("\(description): gradOutput \(shapeString(gradOutput.shape)) does not match input \(shapeString(input.shape))")
        }
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        let l = try layout(input)
        try checkGradOutput(input, gradOutput)
        let (means, invStds) = try statistics()
        let n = Double(l.b * l.s)
        gradInput.resize(input.shape)
        let x = input.data, g = gradOutput.data, gi = gradInput.data
        let w = weightParameter?.value.data
        let training = isTraining
        if l.s == 1 {
            backwardRows(x, g, batch: l.b, width: l.c, means: means, invStds: invStds, gamma: w, training: training,
                         gradInput: gi, gradWeight: nil, gradBias: nil, scale: 0)
            return gradInput
        }
        forEachFeature(l) { c in
            let mean = means[c], s = invStds[c], gamma = w?[c] ?? 1
            if training {
                let (sum, dot) = gradientSums(x, g, l, c, mean)
                let gradMean = Float(sum / n)
                let k = Float(dot * Double(s) * Double(s) / n)
                for b in 0..<l.b {
                    let o = (b * l.c + c) * l.s
                    BatchNormPlane.trainingGradient(x + o, g + o, gi + o, l.s, mean: mean, gradMean: gradMean, kappa: k, invStd: s, gamma: gamma)
                }
            } else {
                for b in 0..<l.b {
                    let o = (b * l.c + c) * l.s
                    BatchNormPlane.evaluationGradient(g + o, gi + o, l.s, invStd: s, gamma: gamma)
                }
            }
        }
        return gradInput
    }

    /// The input gradient and the parameter gradients together; a [B, n] input takes the
    /// sums Σg and Σ(x - μ)g once for both.
    override public func backward(_ input: Tensor, _ gradOutput: Tensor, scale: Float = 1) throws -> Tensor {
        let l = try layout(input)
        guard l.s == 1, !isFrozen, let wp = weightParameter, let bp = biasParameter else {
            return try super.backward(input, gradOutput, scale: scale)
        }
        try checkGradOutput(input, gradOutput)
        let (means, invStds) = try statistics()
        gradInput.resize(input.shape)
        backwardRows(input.data, gradOutput.data, batch: l.b, width: l.c, means: means, invStds: invStds,
                     gamma: wp.value.data, training: isTraining,
                     gradInput: gradInput.data, gradWeight: wp.grad.data, gradBias: bp.grad.data, scale: scale)
        parametersReceivedGradients()
        return gradInput
    }

    override public func accGradParameters(_ input: Tensor, _ gradOutput: Tensor, scale: Float) throws {
        guard let wp = weightParameter, let bp = biasParameter else { return }
        let l = try layout(input)
        try checkGradOutput(input, gradOutput)
        let (means, invStds) = try statistics()
        let x = input.data, g = gradOutput.data, gw = wp.grad.data, gb = bp.grad.data
        if l.s == 1 {
            backwardRows(x, g, batch: l.b, width: l.c, means: means, invStds: invStds, gamma: nil, training: isTraining,
                         gradInput: nil, gradWeight: gw, gradBias: gb, scale: scale)
            return
        }
        forEachFeature(l) { c in
            let (sum, dot) = gradientSums(x, g, l, c, means[c])
            gw[c] += scale * Float(dot * Double(invStds[c]))
            gb[c] += scale * Float(sum)
        }
    }

    override public func clearState() {
        super.clearState()
        savedMean = []
        savedInvStd = []
    }

    override public var spec: ModuleSpec {
        ModuleSpec(type: typeName, args: [Double(nOutput), eps, momentum], options: affine ? nil : ["affine": 0])
    }

    /// `nn.BatchNormalization (2D) (100)`: Torch's `__tostring__`.
    override public var description: String { "\(typeName) (\(inputRank)D) (\(nOutput))" }
}

/// Batch normalisation of convolution maps [B, C, H, W] (Torch's nn.SpatialBatchNormalization):
/// `BatchNormalization` with one feature per channel, statistics over batch and pixels.
public final class SpatialBatchNormalization: BatchNormalization {
    override var inputRank: Int { 4 }
    override public var typeName: String { "nn.SpatialBatchNormalization" }
}
