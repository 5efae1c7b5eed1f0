import Foundation
import XCTest
@testable import Engine

/// The one reparametrisation point: W_eff = W ⊙ M, stored values under the mask, scores that
/// choose the mask with a straight-through gradient, and how files keep all of it.
final class ParameterReparametrisationTests: XCTestCase {
    private func tensor(_ shape: [Int], _ values: [Float]) -> Tensor {
        let t = Tensor(shape: shape)
        for (i, v) in values.enumerated() { t[i] = v }
        return t
    }

    private func batch(_ n: Int, _ inputs: Int, classes: Int, seed: UInt64) -> (Tensor, Tensor) {
        var rng = RandomGenerator(seed: seed)
        let x = Tensor(shape: [n, inputs]), y = Tensor(shape: [n])
        x.fillUniform(-1, 1, &rng)
        for i in 0..<n { y[i] = Float(rng.next() % UInt64(classes)) }
        return (x, y)
    }

    func testMaskedThenUnmaskedWeightsComeBackWithTheirStoredValues() throws {
        let p = Parameter(name: "weight", shape: [2, 3])
        try p.setWeights(tensor([2, 3], [1, -2, 3, -4, 5, -6]))
        try p.setMask(tensor([2, 3], [1, 0, 1, 0, 1, 0]))
        XCTAssertEqual(p.value.scalars.map { $0 == 0 }, [false, true, false, true, false, true])
        XCTAssertEqual(p.weights().scalars, [1, -2, 3, -4, 5, -6])
        // A second mask lets entry 2 through and removes entry 1: each keeps its value.
        try p.setMask(tensor([2, 3], [0, 1, 1, 0, 1, 0]))
        XCTAssertEqual(p.value.scalars, [0, -2, 3, 0, 5, 0].map { Float($0) })
        XCTAssertEqual(p.weights().scalars, [1, -2, 3, -4, 5, -6])
        p.removeMask()
        XCTAssertNil(p.mask)
        XCTAssertEqual(p.value.scalars, [1, -2, 3, -4, 5, -6])
    }

    func testTrainingMovesOnlyTheUnmaskedWeightsAndLeavesNoMomentumUnderTheMask() throws {
        GlobalRandom.seed(11)
        let model = Sequential([Linear(5, 6), Tanh(), Linear(6, 3)])
        let w = try XCTUnwrap(model.modules[0].weight)
        let before = w.weights()
        let mask = Tensor(shape: w.value.shape)
        for i in 0..<mask.count { mask[i] = i % 4 == 1 ? 0 : 1 }
        try w.setMask(mask)
        let sgd = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
        let trainer = Trainer(model: model, optimizer: sgd, batchSize: 4)
        for k in 0..<20 {
            let (x, y) = batch(4, 5, classes: 3, seed: UInt64(k))
            _ = try trainer.step(x, y)
        }
        let after = w.weights(), v = try XCTUnwrap(sgd.velocity(of: w))
        for i in 0..<mask.count {
            if mask[i] == 0 {
                XCTAssertEqual(after[i], before[i], "stored value \(i)")
                XCTAssertEqual(w.value[i], 0)
                XCTAssertEqual(v[i], 0)
            } else {
                XCTAssertNotEqual(after[i], before[i], "trained value \(i)")
            }
        }
        w.removeMask()
        for i in 0..<mask.count where mask[i] == 0 { XCTAssertEqual(w.value[i], before[i]) }
    }

    /// Backward gives ∂L/∂W_eff whole: the gradient of a model whose weights are W ⊙ M with no mask.
    func testBackwardLeavesTheGradientOfTheEffectiveWeightsUnmasked() throws {
        GlobalRandom.seed(12)
        let masked = Sequential([Linear(4, 3), Tanh(), Linear(3, 2)])
        let plain = try XCTUnwrap(masked.deepCopy() as? Sequential)
        let mask = tensor([3, 4], [1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1])
        try masked.modules[0].weight!.setMask(mask)
        try plain.modules[0].weight!.setWeights(masked.modules[0].weight!.value)
        let (x, y) = batch(3, 4, classes: 2, seed: 5)
        for model in [masked, plain] {
            model.zeroGradParameters()
            let out = try model.forward(x)
            let c = CrossEntropyCriterion()
            _ = try c.forward(out, y)
            try model.backward(x, try c.backward(out, y))
        }
        XCTAssertEqual(masked.modules[0].weight!.grad.scalars, plain.modules[0].weight!.grad.scalars)
        XCTAssertGreaterThan((0..<12).filter { mask[$0] == 0 && masked.modules[0].weight!.grad[$0] != 0 }.count, 0)
    }

    func testScoresKeepTheTopKOfTheirMagnitudesWithTiesToTheLowerIndex() throws {
        var rng = RandomGenerator(seed: 3)
        for n in [1, 7, 64, 301] {
            let s = Tensor(shape: [n])
            for i in 0..<n { s[i] = Float(Int(rng.next() % 9)) - 4 }   // many ties, both signs
            for fraction in [0.0, 0.1, 0.5, 0.77, 1.0] {
                let p = Parameter(name: "weight", shape: [n])
                p.value.fill(1)
                try p.setScores(s, keeping: fraction)
                let k = Int((fraction * Double(n)).rounded(.toNearestOrAwayFromZero))
                let expected = Set((0..<n).sorted { (abs(s[$0]), -$0) > (abs(s[$1]), -$1) }.prefix(k))
                let kept = Set((0..<n).filter { p.mask![$0] == 1 })
                XCTAssertEqual(kept, expected, "n \(n), fraction \(fraction)")
                XCTAssertEqual(kept.count, k)
            }
        }
    }

    func testTheScoreGradientIsTheStraightThroughProduct() throws {
        GlobalRandom.seed(13)
        let model = Sequential([Linear(4, 5), Tanh(), Linear(5, 2)])
        let w = model.modules[0].weight!
        let s = TestData.uniform(w.value.shape, seed: 9)
        try w.setScores(s, keeping: 0.6)
        let (x, y) = batch(3, 4, classes: 2, seed: 6)
        model.zeroGradParameters()
        let out = try model.forward(x)
        let c = CrossEntropyCriterion()
        _ = try c.forward(out, y)
        try model.backward(x, try c.backward(out, y))
        let W = w.weights(), g = w.grad, sg = try XCTUnwrap(w.scores?.grad)
        for i in 0..<W.count {
            let sign: Float = s[i] > 0 ? 1 : (s[i] < 0 ? -1 : 0)
            XCTAssertEqual(sg[i], g[i] * W[i] * sign, "score \(i)")
        }
        XCTAssertEqual(w.mask!.count - w.mask!.zeroCount(), 12)   // round(0.6 · 20)
    }

    /// The first backward pass after a forward pass in training reads W from the stored values
    /// alone; a second one (W_eff where M = 1, stored values where M = 0) gives the same bits.
    func testTheScoreGradientHasTheSameBitsFromEitherCopyOfW() throws {
        GlobalRandom.seed(15)
        let model = Sequential([Linear(7, 9), Tanh(), Linear(9, 3)])
        let w = model.modules[0].weight!
        try w.setScores(TestData.uniform(w.value.shape, seed: 10), keeping: 0.4)
        let (x, y) = batch(4, 7, classes: 3, seed: 7)
        let c = CrossEntropyCriterion()
        for _ in 0..<2 {   // the second round reselects with a mask and a guessed bucket in place
            model.zeroGradParameters()
            let out = try model.forward(x)
            _ = try c.forward(out, y)
            let gradOut = try c.backward(out, y)
            try model.backward(x, gradOut)
            let first = try XCTUnwrap(w.scores?.grad).scalars
            w.propagateGradientToScores()
            XCTAssertEqual(try XCTUnwrap(w.scores?.grad).scalars.map(\.bitPattern), first.map(\.bitPattern))
            let W = w.weights(), g = w.grad, s = w.scores!.value
            for i in 0..<W.count {
                let sign: Float = s[i] > 0 ? 1 : (s[i] < 0 ? -1 : 0)
                XCTAssertEqual(first[i], g[i] * W[i] * sign, "score \(i)")
            }
        }
    }

    func testTrainingScoresOnlyLeavesTheWeightsBitIdenticalAndKeepsK() throws {
        GlobalRandom.seed(14)
        let model = Sequential([Linear(6, 8), Tanh(), Linear(8, 3)])
        let w = model.modules[0].weight!
        let before = w.weights().scalars
        try w.setScores(TestData.uniform(w.value.shape, seed: 4), keeping: 0.25)
        w.isFrozen = true
        for p in model.allParameters where p !== w { p.isFrozen = true }
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.5, momentum: 0.9), batchSize: 8)
        let scoresBefore = w.scores!.value.scalars, maskBefore = w.mask!.scalars
        for k in 0..<30 {
            let (x, y) = batch(8, 6, classes: 3, seed: UInt64(100 + k))
            _ = try trainer.step(x, y)
            XCTAssertEqual(w.mask!.count - w.mask!.zeroCount(), 12)   // round(0.25 · 48)
        }
        XCTAssertEqual(w.weights().scalars, before)
        XCTAssertNotEqual(w.scores!.value.scalars, scoresBefore)
        XCTAssertNotEqual(w.mask!.scalars, maskBefore, "the trained scores chose another mask")
        for i in 0..<w.value.count { XCTAssertEqual(w.value[i], w.mask![i] == 1 ? before[i] : 0) }
    }

    // MARK: files

    private func scoredModel() throws -> Sequential {
        GlobalRandom.seed(16)
        let model = Sequential([Linear(4, 3), Tanh(), Linear(3, 2)])
        try model.modules[0].weight!.setMask(tensor([3, 4], [1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1]))
        try model.modules[2].weight!.setScores(TestData.uniform([2, 3], seed: 2), keeping: 0.5)
        return model
    }

    private func temporary(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reparam-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    func testMasksOriginalsAndScoresRoundTripBitForBit() throws {
        let model = try scoredModel()
        let path = temporary("full.safetensors")
        try ModelFile.save(model, to: path, originals: true)
        let names = try SafetensorsFile(contentsOf: path).entries.map(\.name)
        XCTAssertTrue(names.contains("0.weight_orig") && names.contains("2.weight_scores") && names.contains("2.weight_orig"))
        let loaded = try ModelFile.load(path)
        for (a, b) in zip(model.allParameters, loaded.allParameters) {
            XCTAssertEqual(a.value.scalars, b.value.scalars)
            XCTAssertEqual(a.weights().scalars, b.weights().scalars)
            XCTAssertEqual(a.mask?.scalars, b.mask?.scalars)
            XCTAssertEqual(a.scores?.value.scalars, b.scores?.value.scalars)
            XCTAssertEqual(a.keptCount, b.keptCount)
        }
    }

    func testAFileSavedWithoutOriginalsHoldsWhatPyTorchNeedsAndNoMore() throws {
        let model = try scoredModel()
        model.modules[2].weight!.removeScores()   // the mask they chose stays
        let plain = temporary("plain.safetensors"), full = temporary("orig.safetensors")
        try ModelFile.save(model, to: plain)
        try ModelFile.save(model, to: full, originals: true)
        let names = try SafetensorsFile(contentsOf: plain).entries.map(\.name)
        XCTAssertEqual(Set(names), ["0.weight", "0.bias", "2.weight", "2.bias"])
        // The masks are compact: in the metadata, as (weight != 0) with no exceptions.
        XCTAssertEqual(try ModelFile.metadata(plain)[CompactMasks.metadataKey], #"{"0.weight":[],"2.weight":[]}"#)
        let size = { (p: String) in (try FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0 }
        XCTAssertGreaterThanOrEqual(try size(full) - size(plain), 4 * (12 + 6))
        // Loaded without originals, the masked weights are 0 and stay so when unmasked.
        let loaded = try ModelFile.load(plain)
        loaded.modules[0].weight!.removeMask()
        XCTAssertEqual(loaded.modules[0].weight!.value.zeroCount(), 4)
    }

    func testCompanionTensorsWithoutTheirMaskAreRefused() throws {
        let model = try scoredModel()
        let path = temporary("bad.safetensors")
        try ModelFile.save(model, to: path, originals: true, floatMasks: true)
        let file = try SafetensorsFile(contentsOf: path)
        var tensors = [(String, Tensor)]()
        for e in file.entries where e.name != "0.weight_mask" {
            let t = Tensor(shape: e.shape)
            file.copy(e, into: t)
            tensors.append((e.name, t))
        }
        try AtomicFile.write(try SafetensorsFile.encode(tensors, metadata: file.metadata), to: path)
        assertMessage(errorMessage { try ModelFile.load(path) }, contains: ["0.weight_orig", "without the mask", "0.weight_mask"])
    }
}
