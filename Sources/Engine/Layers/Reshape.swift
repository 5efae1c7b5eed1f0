/// Views the input with another shape, sharing its memory (Torch's nn.View).
///
/// `View(2400)` on a [B, 96, 5, 5] input gives [B, 2400], on a [96, 5, 5] input gives [2400]:
/// whatever the requested sizes do not account for becomes a leading batch dimension, as in
/// Torch. One size may be -1 and is inferred (then the batch is taken from the dimensions
/// before the last `numInputDims`, if set). `numInputDims` is Torch's `setNumInputDims`: the
/// number of trailing input dimensions that make one example.
///
/// Forward: y = x viewed as the target shape; backward: ∂L/∂x = ∂L/∂y viewed as x's shape.
public final class View: Module {
    /// The requested sizes, as given to the constructor (-1 for the inferred one).
    public let sizes: [Int]
    /// Torch's `setNumInputDims(n)`: trailing dimensions of one example, or nil (all of them).
    public var numInputDims: Int?
    /// Product of the sizes other than -1.
    private let numElements: Int

    public init(_ sizes: [Int], numInputDims: Int? = nil) throws {
        guard !sizes.isEmpty else { throw EngineError("nn.View needs at least one size") }
        guard sizes.allSatisfy({ $0 > 0 || $0 == -1 }) else {
            throw EngineError("nn.View(\(sizes.map(String.init).joined(separator: ", "))): sizes must be positive or -1")
        }
        guard sizes.filter({ $0 == -1 }).count <= 1 else {
            throw EngineError("nn.View(\(sizes.map(String.init).joined(separator: ", "))): only one size can be -1")
        }
        if let d = numInputDims, d < 1 {
            throw EngineError("nn.View: numInputDims must be at least 1, got \(d)")
        }
        self.sizes = sizes
        self.numInputDims = numInputDims
        numElements = sizes.filter { $0 != -1 }.reduce(1, *)
        super.init()
    }

    public convenience init(_ sizes: Int...) throws { try self.init(sizes) }


    override public var typeName: String { "nn.View" }

    /// Torch's batch-size rule: nil when the input is a single example.
    private func batchSize(_ input: Tensor) throws -> Int? {
        let rank = input.dim, shape = input.shape
        let exampleDims = numInputDims ?? rank
        guard exampleDims <= rank else {
            throw EngineError("\(description): numInputDims is \(exampleDims) but the input is \(rank)D (\(shapeString(shape)))")
        }
        let exampleCount = shape[(rank - exampleDims)...].reduce(1, *)
        guard exampleCount % numElements == 0 else {
            throw EngineError("\(description): input view (\(shapeString(shape))) and desired view (\(sizes.map(String.init).joined(separator: "x"))) do not match")
        }
        var batch = sizes.contains(-1) ? 1 : exampleCount / numElements
        for d in 0..<(rank - exampleDims) { batch *= shape[d] }
        if batch == 1 && (numInputDims == nil || rank <= numInputDims!) { return nil }
        return batch
    }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        let target = try batchSize(input).map { [$0] + sizes } ?? sizes
        output = try view(input, as: target, naming: description)
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        gradInput = try view(gradOutput, as: input.shape, naming: description + " backward")
        return gradInput
    }

    override public var spec: ModuleSpec {
        ModuleSpec(type: typeName, args: sizes.map(Double.init),
                   options: numInputDims.map { ["numInputDims": Double($0)] })
    }

    /// `nn.View(2400)`, `nn.View(-1, 4)`: Torch's `__tostring__`.
    override public var description: String { "nn.View(\(sizes.map(String.init).joined(separator: ", ")))" }
}

/// Reshapes the input, sharing its memory (Torch's nn.Reshape(sizes..., batchMode)).
///
/// Without `batchMode`, an input with exactly the sizes' element count and a first dimension
/// other than 1 is one example (y has shape `sizes`); otherwise its first dimension is the batch
/// (y has shape [B] + sizes). `batchMode == true` always keeps the first dimension as the batch,
/// `false` never does.
public final class Reshape: Module {
    public let sizes: [Int]
    public let batchMode: Bool?
    private let numElements: Int

    public init(_ sizes: [Int], batchMode: Bool? = nil) throws {
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else {
            throw EngineError("nn.Reshape(\(sizes.map(String.init).joined(separator: "x"))): sizes must be positive")
        }
        self.sizes = sizes
        self.batchMode = batchMode
        numElements = sizes.reduce(1, *)
        super.init()
    }

    public convenience init(_ sizes: Int..., batchMode: Bool? = nil) throws { try self.init(sizes, batchMode: batchMode) }


    override public var typeName: String { "nn.Reshape" }

    override public func updateOutput(_ input: Tensor) throws -> Tensor {
        let single = batchMode == false
            || (batchMode == nil && input.count == numElements && input.shape.first != 1)
        let target = single ? sizes : [input.shape.first ?? 1] + sizes
        output = try view(input, as: target, naming: description)
        return output
    }

    override public func updateGradInput(_ input: Tensor, _ gradOutput: Tensor) throws -> Tensor {
        gradInput = try view(gradOutput, as: input.shape, naming: description + " backward")
        return gradInput
    }

    override public var spec: ModuleSpec {
        ModuleSpec(type: typeName, args: sizes.map(Double.init),
                   options: batchMode.map { ["batchMode": $0 ? 1 : 0] })
    }

    /// `nn.Reshape(2x3)`: Torch's `__tostring__`.
    override public var description: String { "nn.Reshape(\(sizes.map(String.init).joined(separator: "x")))" }
}

/// `t` viewed as `shape` (shared memory), with an error naming the module on a mismatch.
private func view(_ t: Tensor, as shape: [Int], naming who: String) throws -> Tensor {
    do { return try t.view(shape) } catch let e as EngineError { throw EngineError("\(who): \(e.message)") }
}
