/// The cost of one forward pass of a module for one image, in floating-point operations,
/// from the module's shapes (FreezeOut's c_i; see `FreezeOut.estimatedSpeedup`). The layer
/// says what it costs: the counting code asks it and does not switch over layer types.
///
/// With x the input and y the output of one image (|y| its element count):
/// - `Linear(n → m)`: 2·n·m multiply-adds, + m with a bias;
/// - `SpatialConvolution(nIn → nOut, kW×kH)`: 2·|y|·nIn·kH·kW, + |y| with a bias;
/// - elementwise activations (tanh, sigmoid, ReLU): |y|;
/// - `SpatialMaxPooling(kW×kH)`: |y|·kW·kH comparisons;
/// - batch normalisation: 2·|y| (a scale and a shift per element, its evaluation form);
/// - `SoftMax`, `LogSoftMax`: 3·|y| (subtract the maximum, exponentiate, normalise);
/// - `View`, `Reshape`, `Identity`, `Dropout`: 0 (no arithmetic at evaluation);
/// - `SpatialAveragePooling(kW×kH)`: |y|·kW·kH additions; `GlobalAveragePooling`: |x|;
///   `MulConstant`: |y|; `CAddTable`, `CMulTable` of n tensors: |y|·(n − 1);
///   `JoinTable`, `SelectTable`, `Narrow`, `SpatialZeroPadding`: 0 (copies);
/// - containers (`Sequential`, `ConcatTable`, `ParallelTable`): the sum over their modules.
public protocol ForwardCosting {
    /// FLOPs of one forward pass on one image whose output has `y` elements.
    func forwardFLOPs(outputElements y: Int) -> Double
}

extension Linear: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double {
        2 * Double(inputSize) * Double(outputSize) + (biasParameter == nil ? 0 : Double(outputSize))
    }
}

extension SpatialConvolution: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double {
        2 * Double(y) * Double(nInputPlane * kH * kW) + (biasParameter == nil ? 0 : Double(y))
    }
}

extension ElementwiseModule: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { Double(y) }
}

extension SpatialMaxPooling: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { Double(y * kW * kH) }
}

extension BatchNormalization: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { 2 * Double(y) }
}

extension SoftMax: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { 3 * Double(y) }
}

extension LogSoftMax: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { 3 * Double(y) }
}

extension View: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { 0 }
}

extension Reshape: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { 0 }
}

extension SpatialAveragePooling: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { Double(y * kW * kH) }
}

extension GlobalAveragePooling: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { Double(y * lastPlaneSize) }
}

extension MulConstant: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { Double(y) }
}

extension CAddTable: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { Double(y * max(lastInputCount - 1, 0)) }
}

extension CMulTable: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { Double(y * max(lastInputCount - 1, 0)) }
}

extension JoinTable: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { 0 }
}

extension SelectTable: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { 0 }
}

extension Narrow: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { 0 }
}

extension SpatialZeroPadding: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { 0 }
}

extension Identity: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { 0 }
}

extension Dropout: ForwardCosting {
    public func forwardFLOPs(outputElements y: Int) -> Double { 0 }
}

public enum ForwardCost {
    /// The forward FLOPs of each of `model`'s top-level modules for one image of
    /// `imageShape` ([C, H, W]), found by one forward pass of a zero image in evaluation mode
    /// (so no random number is drawn); the model is left in training mode with its buffers
    /// cleared (modules pinned to evaluation stay there).
    public static func perModule(_ model: Sequential, imageShape: [Int]) throws -> [Double] {
        model.evaluate()
        defer { model.clearState(); model.training() }
        _ = try model.forward(Tensor(shape: [1] + imageShape))
        var costs = [Double]()
        for (i, m) in model.modules.enumerated() {
            do { costs.append(try cost(of: m)) } catch let e as EngineError {
                throw EngineError("layer \(i + 1): \(e.message)")
            }
        }
        return costs
    }

    /// The cost of `m` after a forward pass of one image (its `output` holds that image's output).
    static func cost(of m: Module) throws -> Double {
        if let s = m as? Container { return try s.modules.reduce(0) { $0 + (try cost(of: $1)) } }
        guard let c = m as? ForwardCosting else {
            throw EngineError("the forward cost of \(m.description) is not known (ForwardCost.swift lists the layers that state theirs)")
        }
        return c.forwardFLOPs(outputElements: m.output.count)
    }
}

/// The forward FLOPs of a layer whose weight has `nonzeros` entries that are not zero, done by
/// a sparse kernel that multiplies only those: 2 per nonzero weight per output position, plus
/// the bias additions.
public protocol SparseForwardCosting {
    func sparseForwardFLOPs(outputElements y: Int, nonzeros: Int) -> Double
}

extension Linear: SparseForwardCosting {
    public func sparseForwardFLOPs(outputElements y: Int, nonzeros: Int) -> Double {
        2 * Double(nonzeros) + (biasParameter == nil ? 0 : Double(outputSize))
    }
}

extension SpatialConvolution: SparseForwardCosting {
    public func sparseForwardFLOPs(outputElements y: Int, nonzeros: Int) -> Double {
        2 * Double(nonzeros) * Double(y / Swift.max(nOutputPlane, 1)) + (biasParameter == nil ? 0 : Double(y))
    }
}
