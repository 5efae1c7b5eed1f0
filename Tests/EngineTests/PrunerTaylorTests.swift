import XCTest
@testable import Engine

/// taylor1 / taylor2 / taylor12 and the Hessian diagonal, against finite differences of the
/// double-precision reference loss (`ReferenceNet`) and independent computations of the
/// Gauss-Newton quantities.
final class PrunerTaylorTests: XCTestCase {
    private func settings(_ data: Dataset, hessian: PrunerOptions.Hessian = .gaussNewton) -> PruningSettings {
        var o = PrunerOptions()
        o.hessian = hessian
        return PruningSettings(scoringSet: data, batchSize: 7, seed: 1, options: o)
    }

    /// |a - b| ≤ rtol · max(|a|, |b|) + atol · max_j |b_j| for every entry.
    private func assertClose(_ a: [Double], _ b: [Double], rtol: Double, atol: Double = 1e-4, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        let largest = b.map { Swift.abs($0) }.max() ?? 0
        XCTAssertGreaterThan(largest, 1e-6, "\(what): nothing to compare", file: file, line: line)
        for i in 0..<a.count {
            let tol = rtol * Swift.max(Swift.abs(a[i]), Swift.abs(b[i])) + atol * largest
            if Swift.abs(a[i] - b[i]) > tol {
                XCTFail("\(what): entry \(i): \(a[i]) vs \(b[i])", file: file, line: line)
                return
            }
        }
    }

    /// Moves weight i of `w` by ±h, runs `f` at both points, returns (f+, f0, f-, h+, h-) with
    /// the steps actually taken in float32.
    private func probe(_ w: Tensor, _ i: Int, _ h: Double, _ f: () throws -> Double) rethrows
        -> (up: Double, mid: Double, down: Double, hUp: Double, hDown: Double) {
        let original = w[i]
        let mid = try f()
        w[i] = Float(Double(original) + h)
        let hUp = Double(w[i]) - Double(original)
        let up = try f()
        w[i] = Float(Double(original) - h)
        let hDown = Double(original) - Double(w[i])
        let down = try f()
        w[i] = original
        return (up, mid, down, hUp, hDown)
    }

    func testTaylor1GradientMatchesFiniteDifferencesOfTheLoss() throws {
        let data = PrunerFixtures.data(10, size: 10, classes: 4)
        let model = try PrunerFixtures.miniLeNet()
        for layer in [1, 4, 8, 10] {
            let context = try PruningContext(model: model, layer: layer, settings: settings(data))
            let g = try context.gradient()
            let w = context.weight.value
            let numeric = try (0..<w.count).map { i -> Double in
                let p = try probe(w, i, 1e-5) { try PrunerFixtures.exactLoss(model, data) }
                return (p.up - p.down) / (p.hUp + p.hDown)
            }
            assertClose(g.scalars.map(Double.init), numeric, rtol: 2e-3, "∂L/∂W of layer \(layer)")
            let scores = try Taylor1Pruner().scores(context)
            for i in 0..<w.count { XCTAssertEqual(scores[i], Swift.abs(g[i] * w[i])) }
        }
    }

    func testHessianOfTheOutputLayerIsTheExactSecondDerivative() throws {
        let data = PrunerFixtures.data(20, size: 4, classes: 3)
        let model = try PrunerFixtures.mlp()
        let context = try PruningContext(model: model, layer: 6, settings: settings(data))
        let h = try context.hessianDiagonal()
        let w = context.weight.value
        let numeric = try (0..<w.count).map { i -> Double in
            let p = try probe(w, i, 2e-2) { try PrunerFixtures.exactLoss(model, data) }
            return 2 * ((p.up - p.mid) / p.hUp - (p.mid - p.down) / p.hDown) / (p.hUp + p.hDown)
        }
        assertClose(h.scalars.map(Double.init), numeric, rtol: 2e-3, "∂²L/∂W² of the output layer")
        let scores = try Taylor2Pruner().scores(context)
        for i in 0..<w.count { XCTAssertEqual(scores[i], 0.5 * h[i] * w[i] * w[i], accuracy: 1e-12) }
    }

    /// One hidden layer: each weight W1[j, i] reaches logit k by one path, so the Gauss-Newton
    /// diagonal with the logits' Hessian diagonal is (1/N) Σ_e Σ_k (∂z_k/∂W1[j,i])² p_k(1 - p_k),
    /// with ∂z/∂W1 taken here by finite differences of the reference logits.
    func testHiddenLinearLayerMatchesTheGaussNewtonDiagonalFromNumericJacobians() throws {
        let data = PrunerFixtures.data(12, size: 4, classes: 3)
        let model = try PrunerFixtures.shallowMLP()
        let h = try PruningContext(model: model, layer: 2, settings: settings(data)).hessianDiagonal()
        let w = try Pruning.weight(of: model, layer: 2).value
        let x = Tensor(), t = Tensor()
        data.fillBatch(0..<data.count, inputs: x, targets: t)
        var expected = [Double](repeating: 0, count: w.count)
        for e in 0..<data.count {
            let p = ReferenceNet.softmax(try ReferenceNet.logits(model, example: x, e))
            for i in 0..<w.count {
                let original = w[i]
                w[i] = original + 1e-3
                let up = try ReferenceNet.logits(model, example: x, e)
                w[i] = original - 1e-3
                let down = try ReferenceNet.logits(model, example: x, e)
                w[i] = original
                let step = Double(original + 1e-3) - Double(original - 1e-3)
                for k in 0..<3 {
                    let j = (up[k] - down[k]) / step
                    expected[i] += j * j * p[k] * (1 - p[k]) / Double(data.count)
                }
            }
        }
        assertClose(h.scalars.map(Double.init), expected, rtol: 1e-3, "Gauss-Newton diagonal of the hidden layer")
    }

    /// conv → tanh → max pool → view → Linear: per connection (kernel entry × output position)
    /// the weight reaches logit k through one pooled unit, so
    /// h(W[o,c,v,u]) = (1/N) Σ_e Σ_pos x[c, pos + (v,u)]² Σ_k (∂z_k/∂y[o,pos])² p_k(1 - p_k),
    /// with ∂z/∂y (y the convolution's output) by finite differences of the reference net.
    func testConvolutionMatchesThePerConnectionGaussNewtonDiagonal() throws {
        let data = PrunerFixtures.data(6, channels: 2, size: 6, classes: 4)
        let model = try PrunerFixtures.convHead()
        let conv = model.modules[0] as! SpatialConvolution
        let h = try PruningContext(model: model, layer: 1, settings: settings(data)).hessianDiagonal()
        let x = Tensor(), t = Tensor()
        data.fillBatch(0..<data.count, inputs: x, targets: t)
        var expected = [Double](repeating: 0, count: conv.weightParameter.value.count)
        for e in 0..<data.count {
            let y = try ReferenceNet.run(model, example: x, e, upTo: 1)
            let p = ReferenceNet.softmax(try ReferenceNet.logits(model, example: x, e, from: 1, replacing: y))
            let input = ReferenceNet.Activation(values: (0..<72).map { Double(x[e * 72 + $0]) }, shape: [2, 6, 6])
            for o in 0..<3 {
                for pos in 0..<36 {
                    var up = y, down = y
                    up.values[o * 36 + pos] += 1e-5
                    down.values[o * 36 + pos] -= 1e-5
                    let zu = try ReferenceNet.logits(model, example: x, e, from: 1, replacing: up)
                    let zd = try ReferenceNet.logits(model, example: x, e, from: 1, replacing: down)
                    var sensitivity = 0.0
                    for k in 0..<4 {
                        let j = (zu[k] - zd[k]) / 2e-5
                        sensitivity += j * j * p[k] * (1 - p[k])
                    }
                    let (i, jj) = (pos / 6, pos % 6)
                    for c in 0..<2 {
                        for v in 0..<3 {
                            for u in 0..<3 {
                                let yy = i + v - 1, xx = jj + u - 1
                                guard yy >= 0, yy < 6, xx >= 0, xx < 6 else { continue }
                                let xv = input.values[(c * 6 + yy) * 6 + xx]
                                expected[((o * 2 + c) * 3 + v) * 3 + u] += xv * xv * sensitivity / Double(data.count)
                            }
                        }
                    }
                }
            }
        }
        assertClose(h.scalars.map(Double.init), expected, rtol: 1e-3, "per-connection Gauss-Newton diagonal of the convolution")
    }

    /// Two hidden layers: the engine's recursion against the same recursion written out in
    /// double-precision loops (h(z) = p(1-p)/N; h(a) = f'(a)² Σ_k W_ka² h(next)).
    func testTwoHiddenLayersMatchTheRecursionWrittenOut() throws {
        for (name, acts) in [("tanh", (Tanh() as Module, Tanh() as Module)), ("relu+sigmoid", (ReLU(), Sigmoid()))] {
            let data = PrunerFixtures.data(10, size: 4, classes: 3)
            let model = try PrunerFixtures.mlp(activations: acts)
            let context = try PruningContext(model: model, layer: 2, settings: settings(data))
            let engine2 = try context.hessianDiagonal()
            let engine4 = try context.forLayer(4).hessianDiagonal()
            let w1 = (model.modules[1] as! Linear).weightParameter.value
            let w2 = (model.modules[3] as! Linear).weightParameter.value
            let w3 = (model.modules[5] as! Linear).weightParameter.value
            func derivative(_ m: Module, _ a: Double) -> Double {
                switch m {
                case is Tanh: let y = Foundation.tanh(a); return 1 - y * y
                case is Sigmoid: let y = 1 / (1 + Foundation.exp(-a)); return y * (1 - y)
                default: return a > 0 ? 1 : 0
                }
            }
            let x = Tensor(), t = Tensor()
            data.fillBatch(0..<data.count, inputs: x, targets: t)
            var h1 = [Double](repeating: 0, count: w1.count), h2 = [Double](repeating: 0, count: w2.count)
            let n = Double(data.count)
            for e in 0..<data.count {
                let input = try ReferenceNet.run(model, example: x, e, upTo: 1).values
                let a1 = try ReferenceNet.run(model, example: x, e, upTo: 2).values
                let y1 = try ReferenceNet.run(model, example: x, e, upTo: 3).values
                let a2 = try ReferenceNet.run(model, example: x, e, upTo: 4).values
                let y2 = try ReferenceNet.run(model, example: x, e, upTo: 5).values
                let p = ReferenceNet.softmax(try ReferenceNet.logits(model, example: x, e))
                let hz = p.map { $0 * (1 - $0) / n }
                let hy2 = (0..<5).map { j in (0..<3).reduce(0.0) { $0 + Double(w3[$1 * 5 + j]) * Double(w3[$1 * 5 + j]) * hz[$1] } }
                let ha2 = (0..<5).map { j in Foundation.pow(derivative(acts.1, a2[j]), 2) * hy2[j] }
                for j in 0..<5 { for i in 0..<6 { h2[j * 6 + i] += ha2[j] * y1[i] * y1[i] } }
                let hy1 = (0..<6).map { i in (0..<5).reduce(0.0) { $0 + Double(w2[$1 * 6 + i]) * Double(w2[$1 * 6 + i]) * ha2[$1] } }
                let ha1 = (0..<6).map { i in Foundation.pow(derivative(acts.0, a1[i]), 2) * hy1[i] }
                for i in 0..<6 { for m in 0..<16 { h1[i * 16 + m] += ha1[i] * input[m] * input[m] } }
                _ = y2
            }
            assertClose(engine2.scalars.map(Double.init), h1, rtol: 1e-4, atol: 1e-6, "\(name): layer 2")
            assertClose(engine4.scalars.map(Double.init), h2, rtol: 1e-4, atol: 1e-6, "\(name): layer 4")
        }
    }

    /// Empirical Fisher: (1/N) Σ_e (∂ℓ_e/∂W)², with ∂ℓ_e/∂W by finite differences per example.
    func testFisherIsTheMeanSquaredPerExampleGradient() throws {
        let data = PrunerFixtures.data(8, size: 10, classes: 4)
        let model = try PrunerFixtures.miniLeNet()
        let x = Tensor(), t = Tensor()
        data.fillBatch(0..<data.count, inputs: x, targets: t)
        for layer in [1, 4, 8, 10] {
            let context = try PruningContext(model: model, layer: layer, settings: settings(data, hessian: .fisher))
            let f = try context.hessianDiagonal()
            let w = context.weight.value
            var expected = [Double](repeating: 0, count: w.count)
            for e in 0..<data.count {
                for i in 0..<w.count {
                    let p = try probe(w, i, 1e-5) {
                        ReferenceNet.crossEntropy(try ReferenceNet.logits(model, example: x, e), Int(t[e]))
                    }
                    let g = (p.up - p.down) / (p.hUp + p.hDown)
                    expected[i] += g * g / Double(data.count)
                }
            }
            assertClose(f.scalars.map(Double.init), expected, rtol: 3e-3, "Fisher diagonal of layer \(layer)")
        }
    }

    func testTaylor12CombinesBothTerms() throws {
        let data = PrunerFixtures.data(16, size: 10, classes: 4)
        let model = try PrunerFixtures.miniLeNet()
        for layer in [4, 8] {
            let context = try PruningContext(model: model, layer: layer, settings: settings(data))
            let g = try context.gradient(), h = try context.hessianDiagonal(), w = context.weight.value
            let s = try Taylor12Pruner().scores(context)
            for i in 0..<w.count {
                XCTAssertEqual(s[i], Swift.abs(-g[i] * w[i] + 0.5 * h[i] * w[i] * w[i]), accuracy: 1e-9)
            }
        }
    }

    func testUnsupportedModulesAreNamed() throws {
        let data = PrunerFixtures.data(8, size: 4, classes: 3)
        let model = Sequential([try View(16), Linear(16, 5), SoftMax(), Linear(5, 3)])
        XCTAssertThrowsError(try Pruning.scores(model: model, layer: 2, pruner: Taylor2Pruner(), settings: settings(data))) {
            XCTAssertTrue("\($0)".contains("nn.SoftMax"), "\($0)")
        }
        // The Fisher diagonal uses the engine's own backward, so it passes any module.
        XCTAssertNoThrow(try Pruning.scores(model: model, layer: 2, pruner: Taylor2Pruner(), settings: settings(data, hessian: .fisher)))
    }
}
