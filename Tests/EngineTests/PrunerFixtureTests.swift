import XCTest
@testable import Engine

/// Tiny nets, tiny data, and an independent double-precision forward pass for the pruner
/// tests: `ReferenceNet` evaluates the same modules with the same weights in Float64, so
/// finite differences and "zero one weight, evaluate again" are exact to ~1e-12.
enum PrunerFixtures {
    /// `n` random images of channels × size × size bytes with random labels in 0..<classes.
    static func data(_ n: Int, channels: Int = 1, size: Int, classes: Int, seed: UInt64 = 7) -> Dataset {
        var rng = RandomGenerator(seed: seed)
        let px = (0..<(n * channels * size * size)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let lb = (0..<n).map { _ in Int32(rng.next() % UInt64(classes)) }
        return try! Dataset(name: "tiny", pixels: px, labels: lb, channels: channels, height: size, width: size, classes: classes)
    }

    /// 1×4×4 images → 16 → 6 → 5 → 3 with tanh (two hidden layers); weights U(±0.8).
    static func mlp(seed: UInt64 = 3, activations: (Module, Module) = (Tanh(), Tanh())) throws -> Sequential {
        GlobalRandom.seed(seed)
        let m = Sequential([try View(16), Linear(16, 6), activations.0, Linear(6, 5), activations.1, Linear(5, 3)])
        widen(m, seed: seed)
        return m
    }

    /// 1×4×4 images → 16 → 6 → 3 with tanh (one hidden layer).
    static func shallowMLP(seed: UInt64 = 4) throws -> Sequential {
        GlobalRandom.seed(seed)
        let m = Sequential([try View(16), Linear(16, 6), Tanh(), Linear(6, 3)])
        widen(m, seed: seed)
        return m
    }

    /// A mini LeNet on 1×10×10 images: conv 1→3 (3x3, pad 1), tanh, pool 2, conv 3→4 (2x2),
    /// tanh, pool 2, view 16, Linear 16→6, tanh, Linear 6→4. Layers with weights: 1, 4, 8, 10.
    static func miniLeNet(seed: UInt64 = 5) throws -> Sequential {
        GlobalRandom.seed(seed)
        let m = Sequential([
            SpatialConvolution(1, 3, 3, 3, 1, 1, 1, 1), Tanh(), SpatialMaxPooling(2, 2),
            SpatialConvolution(3, 4, 2, 2), Tanh(), SpatialMaxPooling(2, 2),
            try View(16), Linear(16, 6), Tanh(), Linear(6, 4),
        ])
        widen(m, seed: seed)
        return m
    }

    /// conv 2→3 (3x3, stride 1, pad 1) on 2×6×6, tanh, pool 2 (to 3×3), view 27, Linear 27→4:
    /// every conv weight reaches each logit through one pooled unit per position.
    static func convHead(seed: UInt64 = 6) throws -> Sequential {
        GlobalRandom.seed(seed)
        let m = Sequential([SpatialConvolution(2, 3, 3, 3, 1, 1, 1, 1), Tanh(), SpatialMaxPooling(2, 2),
                            try View(27), Linear(27, 4)])
        widen(m, seed: seed)
        return m
    }

    /// Redraws every weight and bias U(-0.8, 0.8) so that scores are well above float noise.
    static func widen(_ m: Sequential, seed: UInt64) {
        var rng = RandomGenerator(seed: seed &+ 100)
        for p in m.allParameters { p.value.fillUniform(-0.8, 0.8, &rng) }
    }

    /// Mean loss (softmax cross-entropy) over `data` by the double-precision reference.
    static func exactLoss(_ model: Sequential, _ data: Dataset) throws -> Double {
        let inputs = Tensor(), targets = Tensor()
        data.fillBatch(0..<data.count, inputs: inputs, targets: targets)
        var total = 0.0
        for e in 0..<data.count {
            let z = try ReferenceNet.logits(model, example: inputs, e)
            total += ReferenceNet.crossEntropy(z, Int(targets[e]))
        }
        return total / Double(data.count)
    }
}

/// The modules of a `Sequential`, evaluated in Float64 one example at a time (plain loops,
/// no BLAS, no shared code with the engine's layers).
enum ReferenceNet {
    struct Activation { var values: [Double]; var shape: [Int] }

    static func logits(_ model: Sequential, example inputs: Tensor, _ e: Int, from start: Int = 0,
                       replacing: Activation? = nil) throws -> [Double] {
        try run(model, example: inputs, e, from: start, replacing: replacing).values
    }

    /// Runs modules `start...` on example e (or on `replacing`, the input of module `start`).
    static func run(_ model: Sequential, example inputs: Tensor, _ e: Int, from start: Int = 0,
                    replacing: Activation? = nil, upTo end: Int? = nil) throws -> Activation {
        let per = inputs.count / inputs.shape[0]
        var a = replacing ?? Activation(values: (0..<per).map { Double(inputs[e * per + $0]) },
                                         shape: Array(inputs.shape.dropFirst()))
        for m in model.modules[start..<(end ?? model.modules.count)] { a = try apply(m, a) }
        return a
    }

    static func apply(_ m: Module, _ a: Activation) throws -> Activation {
        switch m {
        case let lin as Linear:
            let w = lin.weightParameter.value, b = lin.biasParameter?.value
            let y = (0..<lin.outputSize).map { o -> Double in
                var s = Double(b?[o] ?? 0)
                for i in 0..<lin.inputSize { s += Double(w[o * lin.inputSize + i]) * a.values[i] }
                return s
            }
            return Activation(values: y, shape: [lin.outputSize])
        case let c as SpatialConvolution:
            let (h, w) = (a.shape[1], a.shape[2])
            let oh = (h + 2 * c.padH - c.kH) / c.dH + 1, ow = (w + 2 * c.padW - c.kW) / c.dW + 1
            var y = [Double](repeating: 0, count: c.nOutputPlane * oh * ow)
            let wt = c.weightParameter.value
            for o in 0..<c.nOutputPlane {
                for i in 0..<oh {
                    for j in 0..<ow {
                        var s = Double(c.biasParameter?.value[o] ?? 0)
                        for ch in 0..<c.nInputPlane {
                            for v in 0..<c.kH {
                                for u in 0..<c.kW {
                                    let yy = i * c.dH + v - c.padH, xx = j * c.dW + u - c.padW
                                    guard yy >= 0, yy < h, xx >= 0, xx < w else { continue }
                                    s += Double(wt[((o * c.nInputPlane + ch) * c.kH + v) * c.kW + u]) * a.values[(ch * h + yy) * w + xx]
                                }
                            }
                        }
                        y[(o * oh + i) * ow + j] = s
                    }
                }
            }
            return Activation(values: y, shape: [c.nOutputPlane, oh, ow])
        case is Tanh:
            return Activation(values: a.values.map { Foundation.tanh($0) }, shape: a.shape)
        case is Sigmoid:
            return Activation(values: a.values.map { 1 / (1 + Foundation.exp(-$0)) }, shape: a.shape)
        case is ReLU:
            return Activation(values: a.values.map { Swift.max($0, 0) }, shape: a.shape)
        case let p as SpatialMaxPooling:
            let (planes, h, w) = (a.shape[0], a.shape[1], a.shape[2])
            let oh = (h - p.kH) / p.dH + 1, ow = (w - p.kW) / p.dW + 1
            var y = [Double]()
            for c in 0..<planes {
                for i in 0..<oh {
                    for j in 0..<ow {
                        var m = -Double.infinity
                        for v in 0..<p.kH { for u in 0..<p.kW { m = Swift.max(m, a.values[(c * h + i * p.dH + v) * w + j * p.dW + u]) } }
                        y.append(m)
                    }
                }
            }
            return Activation(values: y, shape: [planes, oh, ow])
        case let v as View:
            return Activation(values: a.values, shape: v.sizes)
        default:
            throw EngineError("ReferenceNet: no reference for \(m.typeName)")
        }
    }

    static func crossEntropy(_ z: [Double], _ t: Int) -> Double {
        let m = z.max()!
        return m + Foundation.log(z.reduce(0) { $0 + Foundation.exp($1 - m) }) - z[t]
    }

    static func softmax(_ z: [Double]) -> [Double] {
        let m = z.max()!
        let e = z.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

/// Checks of the fixtures themselves.
final class PrunerFixtureTests: XCTestCase {
    func testReferenceNetAgreesWithTheEngineForward() throws {
        let data = PrunerFixtures.data(6, size: 10, classes: 4)
        let model = try PrunerFixtures.miniLeNet()
        let x = Tensor(), t = Tensor()
        data.fillBatch(0..<6, inputs: x, targets: t)
        let y = try model.forward(x)
        for e in 0..<6 {
            let z = try ReferenceNet.logits(model, example: x, e)
            for k in 0..<4 { XCTAssertEqual(Double(y[e * 4 + k]), z[k], accuracy: 1e-5) }
        }
    }
}
