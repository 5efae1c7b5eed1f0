/// Where the output units of one weighted layer of a flat `Sequential` go: the modules they
/// pass through and the next weighted layer (the consumer) that reads them.
///
/// A unit is an output neuron of an nn.Linear (row j of W, entry j of b) or an output filter
/// of an nn.SpatialConvolution (W[j, :, :, :], b[j]: one output plane). On the way to the
/// consumer a unit stays one feature (or one plane) through the per-feature and per-plane
/// modules (activations, dropout, identity, max pooling, batch norm: entry j of γ, β and the
/// running statistics), and becomes `featuresPerUnit` = H·W consecutive features where a
/// View/Reshape flattens [C, H, W] planes into C·H·W features. The consumer reads unit j as
/// its input columns j·s ..< (j+1)·s (s = featuresPerUnit) for an nn.Linear, or as input
/// plane j (W[:, j, :, :]) for an nn.SpatialConvolution.
public struct UnitPlan {
    /// 0-based positions in `Sequential.modules`.
    public let producer: Int
    public let consumer: Int
    /// Output units of the producer.
    public let units: Int
    /// The modules between producer and consumer whose shapes count the units
    /// (batch norms, View/Reshape), 0-based, with the features per unit where each sits.
    public let sized: [(index: Int, featuresPerUnit: Int)]
    /// Features per unit at the consumer's input (1 for a plane or a neuron).
    public let featuresPerUnit: Int

    /// The plan for layer `layer` (1-based, Torch's index) of `model`, or an error naming the
    /// module that stops it.
    public init(model: Sequential, layer: Int) throws {
        let modules = model.modules
        let p = try model.module(at: layer)
        var spatial: Bool
        switch p {
        case let l as Linear: units = l.outputSize; spatial = false
        case let c as SpatialConvolution: units = c.nOutputPlane; spatial = true
        default:
            throw EngineError("layer \(layer) (\(p.description)): structured pruning removes the units of nn.Linear and nn.SpatialConvolution layers")
        }
        producer = layer - 1
        var perUnit = 1
        var perUnitUnknown = false   // after a View(-1) from planes, until the consumer says
        var sized = [(index: Int, featuresPerUnit: Int)]()
        func stop(_ i: Int, _ why: String) -> EngineError {
            EngineError("layer \(layer)'s units cannot be removed: layer \(i + 1) (\(modules[i].description)) \(why)")
        }
        var found: Int?
        var i = producer + 1
        scan: while i < modules.count {
            let m = modules[i]
            switch m {
            case let bn as BatchNormalization:
                let isSpatial = bn is SpatialBatchNormalization
                guard isSpatial == spatial, !perUnitUnknown, bn.nOutput == units * perUnit else {
                    throw stop(i, "normalises \(bn.nOutput) \(isSpatial ? "planes" : "features"), not the \(units * perUnit) \(spatial ? "planes" : "features") of the layer's units")
                }
                sized.append((i, perUnit))
            case is ElementwiseModule, is Dropout, is Identity:
                break
            case is SpatialMaxPooling:
                guard spatial else { throw stop(i, "pools planes, the layer's units are features") }
            case is View, is Reshape:
                let sizes = (m as? View)?.sizes ?? (m as! Reshape).sizes
                guard sizes.count == 1 else {
                    throw stop(i, "reshapes to \(sizes.count) dimensions; structured pruning passes a View/Reshape that flattens to one")
                }
                if spatial {
                    guard sizes[0] == -1 || sizes[0] % units == 0 else {
                        throw stop(i, "flattens to \(sizes[0]) features, not a multiple of the layer's \(units) planes")
                    }
                    if sizes[0] != -1 { perUnit = sizes[0] / units } else { perUnitUnknown = true }
                    spatial = false
                    sized.append((i, perUnit))
                } else {
                    guard sizes[0] == -1 || sizes[0] == units * perUnit else {
                        throw stop(i, "reshapes to \(sizes[0]) features, the layer's units give \(units * perUnit)")
                    }
                    sized.append((i, perUnit))
                }
            case let l as Linear:
                if spatial {
                    throw stop(i, "reads features, the layer's units are planes (flatten them with nn.View first)")
                }
                guard perUnitUnknown ? l.inputSize % units == 0 : l.inputSize == units * perUnit else {
                    throw stop(i, "takes \(l.inputSize) inputs, the layer's \(units) units give \(perUnitUnknown ? "a multiple of \(units)" : String(units * perUnit))")
                }
                perUnit = l.inputSize / units
                found = i
                break scan
            case let c as SpatialConvolution:
                guard spatial else { throw stop(i, "reads planes, the layer's units are features") }
                guard c.nInputPlane == units else {
                    throw stop(i, "takes \(c.nInputPlane) input planes, the layer has \(units) units")
                }
                found = i
                break scan
            case is SoftMax, is LogSoftMax:
                throw stop(i, "normalises across units, so the layer's outputs are the model's outputs")
            default:
                throw stop(i, "is not a module structured pruning passes through (it passes batch norm, activations, dropout, max pooling, View/Reshape to a weighted layer)")
            }
            i += 1
        }
        guard let c = found else {
            throw EngineError("layer \(layer)'s units cannot be removed: its outputs are the model's outputs (no weighted layer after it)")
        }
        consumer = c
        featuresPerUnit = perUnit
        self.sized = sized
    }
}
