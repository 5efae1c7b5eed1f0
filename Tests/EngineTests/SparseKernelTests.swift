import XCTest
import Kernels
@testable import Engine

/// The sparse kernels against the dense products, on random shapes and densities (empty,
/// one nonzero, half, full, empty rows and columns), batch 1 and many; the layers' choice
/// never changes a result beyond float rounding, and never uses stale weights.
final class SparseKernelTests: XCTestCase {
    override func tearDown() { SparseChoice.forced = nil }
    override func setUp() { SparseChoice.forced = nil }

    /// A [rows × columns] matrix with about `density` of its entries nonzero (uniform in [-1, 1]).
    private func matrix(_ rows: Int, _ columns: Int, density: Double, _ rng: inout RandomGenerator) -> [Float] {
        (0..<(rows * columns)).map { _ in Double(rng.next() % 10_000) < density * 10_000 ? Float(rng.uniform(-1, 1)) : 0 }
    }

    private func assertClose(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for i in 0..<min(a.count, b.count) where abs(a[i] - b[i]) > 1e-5 * max(1, abs(b[i])) {
            XCTFail("\(what): element \(i): \(a[i]) vs \(b[i])", file: file, line: line)
            return
        }
    }

    func testSparseRowsProductsEqualTheDenseProducts() {
        var rng = RandomGenerator(seed: 1)
        for (rows, columns) in [(1, 1), (7, 13), (120, 300), (33, 5)] {
            for density in [0.0, -1, 0.02, 0.5, 1.0] {  // -1: exactly one nonzero
                var a = matrix(rows, columns, density: max(density, 0), &rng)
                if density == -1 { a[a.count / 2] = 0.75 }
                if rows > 4 { for k in 0..<columns { a[2 * columns + k] = 0 } ; for r in 0..<rows { a[r * columns] = 0 } }  // an empty row and column
                let s = a.withUnsafeBufferPointer { SparseRows(dense: $0.baseAddress!, rows: rows, columns: columns) }
                XCTAssertEqual(s.nonzeros, a.filter { $0 != 0 }.count)
                for batch in [1, 3, 4, 31, 32, 33, 100] {
                    let x = (0..<(batch * columns)).map { _ in Float(rng.uniform(-1, 1)) }
                    var want = [Float](repeating: 0, count: batch * rows)
                    for b in 0..<batch { for r in 0..<rows {
                        var sum: Float = 0
                        for k in 0..<columns { sum += a[r * columns + k] * x[b * columns + k] }
                        want[b * rows + r] = sum + 0.5
                    } }
                    var got = [Float](repeating: 0.5, count: batch * rows)
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: SparseRows.block * (columns + 1))
                    defer { scratch.deallocate() }
                    x.withUnsafeBufferPointer { xp in got.withUnsafeMutableBufferPointer { c in
                        s.multiplyTransposed(x: xp.baseAddress!, ldx: columns, samples: 0..<batch, c: c.baseAddress!, ldc: rows,
                                             accumulate: true, scratch: scratch)
                    } }
                    assertClose(got, want, "xAᵀ \(rows)x\(columns) density \(density) batch \(batch)")
                    // A · B with B = xᵀ [columns × batch]
                    var bt = [Float](repeating: 0, count: columns * batch)
                    for b in 0..<batch { for k in 0..<columns { bt[k * batch + b] = x[b * columns + k] } }
                    var c2 = [Float](repeating: 9, count: rows * batch)
                    bt.withUnsafeBufferPointer { bp in c2.withUnsafeMutableBufferPointer { c in
                        s.multiply(b: bp.baseAddress!, ldb: batch, n: batch, c: c.baseAddress!, ldc: batch, accumulate: false)
                    } }
                    var want2 = [Float](repeating: 0, count: rows * batch)
                    for r in 0..<rows { for b in 0..<batch { want2[r * batch + b] = want[b * rows + r] - 0.5 } }
                    assertClose(c2, want2, "AB \(rows)x\(columns) density \(density) batch \(batch)")
                }
            }
        }
    }

    /// `layer` reset, its weight masked at random to about `density`, in evaluation mode.
    private func maskAtRandom(_ layer: Module, density: Double, _ rng: inout RandomGenerator) throws {
        layer.reset(&rng)
        let mask = Tensor(shape: layer.weight!.value.shape)
        for i in 0..<mask.count { mask.data[i] = Double(rng.next() % 1000) < density * 1000 ? 1 : 0 }
        try layer.weight!.setMask(mask)
        layer.evaluate()
    }

    /// The layer's forward pass on `x`, dense and sparse (forced).
    private func denseAndSparse(_ layer: Module, _ x: Tensor) throws -> (dense: [Float], sparse: [Float]) {
        SparseChoice.forced = false
        let dense = try layer.forward(x).scalars
        SparseChoice.forced = true
        return (dense, try layer.forward(x).scalars)
    }

    /// The same on a random input of `shape`.
    private func denseAndSparse(_ layer: Module, _ shape: [Int], _ rng: inout RandomGenerator) throws -> (dense: [Float], sparse: [Float]) {
        let x = Tensor(shape: shape)
        x.fillUniform(-1, 1, &rng)
        return try denseAndSparse(layer, x)
    }

    /// One row of `multiply` at a time (`multiplyRow`), every width of its tiles and rests, on
    /// both vector widths: the rows of the whole product, to rounding.
    func testOneRowAtATimeEqualsTheWholeProduct() {
        var rng = RandomGenerator(seed: 4)
        let detected = SmallGEMM.wideVectors
        defer { SmallGEMM.wideVectors = detected }
        for wide in [false, true] {
            SmallGEMM.wideVectors = wide
            for density in [0.0, 0.1, 1.0] {
                let rows = 5, columns = 9
                let a = matrix(rows, columns, density: density, &rng)
                let s = a.withUnsafeBufferPointer { SparseRows(dense: $0.baseAddress!, rows: rows, columns: columns) }
                for n in [1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 130] {
                    let b = (0..<(columns * n)).map { _ in Float(rng.uniform(-1, 1)) }
                    for r in 0..<rows {
                        var got = [Float](repeating: 7, count: n)
                        b.withUnsafeBufferPointer { bp in got.withUnsafeMutableBufferPointer { s.multiplyRow(r, b: bp.baseAddress!, ldb: n, n: n, into: $0.baseAddress!) } }
                        let want = (0..<n).map { j in (0..<columns).reduce(Float(0)) { $0 + a[r * columns + $1] * b[$1 * n + j] } }
                        assertClose(got, want, "row \(r) of \(rows)x\(columns), n \(n), density \(density), wide \(wide)")
                    }
                }
            }
        }
    }

    /// The sparse stride-1 convolutions straight from the image, with an image per vector lane
    /// (blocks of 16 or 8 images) and one image at a time (the rest): the dense result, on both
    /// vector widths, with and without padding, for output rows of every chunk width (8, 4, 2, 1).
    func testDirectConvolutionsEqualTheDenseOnBothVectorWidths() throws {
        var rng = RandomGenerator(seed: 5)
        let detected = SmallGEMM.wideVectors
        defer { SmallGEMM.wideVectors = detected }
        let layers: [(SpatialConvolution, [Int])] = [(SpatialConvolution(6, 16, 5, 5), [6, 14, 14]),
                                                     (SpatialConvolution(2, 5, 3, 3, 1, 1, 1, 1), [2, 9, 15]),
                                                     (SpatialConvolution(1, 3, 5, 5, 1, 1, 2, 2, bias: false), [1, 6, 7])]
        for wide in [false, true] {
            SmallGEMM.wideVectors = wide
            for (layer, shape) in layers {
                for density in [0.02, 0.3, 1.0] {
                    try maskAtRandom(layer, density: density, &rng)
                    for batch in [1, 16, 17, 40] {
                        let (dense, sparse) = try denseAndSparse(layer, [batch] + shape, &rng)
                        assertClose(sparse, dense, "\(layer.description) density \(density) batch \(batch) wide \(wide)")
                    }
                    layer.training()
                    layer.weight!.removeMask()
                }
            }
        }
    }

    /// Every layer forward in evaluation: sparse (forced), the rule, and dense agree.
    func testLayersGiveTheDenseResultWhicheverPathIsChosen() throws {
        var rng = RandomGenerator(seed: 2)
        let layers: [(Module, [Int])] = [(Linear(50, 20), [50]), (Linear(7, 3, bias: false), [7]),
                                         (SpatialConvolution(3, 8, 3, 3), [3, 9, 9]), (SpatialConvolution(1, 6, 5, 5, 1, 1, 2, 2), [1, 28, 28]),
                                         (SpatialConvolution(2, 4, 3, 3, 2, 2, 1, 1, bias: false), [2, 7, 7])]
        for (layer, shape) in layers {
            for density in [0.0, 0.05, 0.5, 1.0] {
                try maskAtRandom(layer, density: density, &rng)
                let w = layer.weight!
                for batch in [1, 5, 40] {
                    let x = Tensor(shape: [batch] + shape)
                    x.fillUniform(-1, 1, &rng)
                    let (dense, sparse) = try denseAndSparse(layer, x)
                    SparseChoice.forced = nil
                    let chosen = try layer.forward(x).scalars
                    assertClose(sparse, dense, "\(layer.description) density \(density) batch \(batch), sparse")
                    assertClose(chosen, dense, "\(layer.description) density \(density) batch \(batch), rule")
                }
                layer.training()
                w.removeMask()
            }
        }
    }

    /// The sparse rows are built from the weights at every forward pass: a write into the
    /// weights between two passes (as a Lua script or a pruner makes) is seen.
    func testAWriteIntoTheWeightsIsSeenByTheNextPass() throws {
        let layer = Linear(40, 10)
        let mask = Tensor(shape: [10, 40])
        for i in 0..<mask.count { mask.data[i] = i % 10 == 0 ? 1 : 0 }
        try layer.weightParameter.setMask(mask)
        layer.evaluate()
        let x = Tensor(shape: [2, 40])
        var rng = RandomGenerator(seed: 3)
        x.fillUniform(-1, 1, &rng)
        SparseChoice.forced = true
        _ = try layer.forward(x)
        layer.weightParameter.value.data[0] += 1  // a kept entry changes
        let after = try layer.forward(x).scalars
        SparseChoice.forced = false
        assertClose(after, try layer.forward(x).scalars, "after the write")
    }

    func testTheRuleFollowsTheMeasuredDensities() {
        XCTAssertTrue(SparseChoice.prefersSparse(.linear, density: 0.05, batch: 1000))
        XCTAssertFalse(SparseChoice.prefersSparse(.linear, density: 0.05, batch: 1))
        XCTAssertFalse(SparseChoice.prefersSparse(.linear, density: 0.9, batch: 1000))
        XCTAssertTrue(SparseChoice.prefersSparse(.convolution, density: SparseChoice.convolutionDensity, batch: 1))
        XCTAssertFalse(SparseChoice.prefersSparse(.convolution, density: 0.95, batch: 1000))
        XCTAssertTrue(SparseChoice.prefersSparse(.linear, density: 0.05, batch: 1, frozen: true), "frozen: rows built once, any batch")
        XCTAssertFalse(SparseChoice.prefersSparse(.linear, density: 0.9, batch: 1, frozen: true))
        // few output planes, an image per lane: sparse at any density from a block per thread
        let block = SampleLaneConvolution.lanes * Parallel.threads
        XCTAssertTrue(SparseChoice.prefersSparse(.convolution, density: 1, batch: block, lanePlanes: 6))
        XCTAssertFalse(SparseChoice.prefersSparse(.convolution, density: 1, batch: block - 1, lanePlanes: 6))
        XCTAssertFalse(SparseChoice.prefersSparse(.convolution, density: 1, batch: block, lanePlanes: 96))
        XCTAssertFalse(SparseChoice.prefersSparse(.convolution, density: 1, batch: block))
    }

    /// In a frozen-weights scope the rows of the scope's first pass serve its other passes (a
    /// write inside the scope breaks the scope's contract and is not seen: that is the test
    /// that the rows are reused); a new scope, and every pass outside one, reads the weights
    /// anew. A batch of 1 runs sparse in a scope (the rule's minimum batch does not apply).
    func testFrozenScopesBuildTheRowsOnce() throws {
        let layer = Linear(40, 10)
        var rng = RandomGenerator(seed: 4)
        layer.reset(&rng)
        let mask = Tensor(shape: [10, 40])
        for i in 0..<mask.count { mask.data[i] = i % 25 == 0 ? 1 : 0 }   // 4%
        try layer.weightParameter.setMask(mask)
        layer.evaluate()
        let x = Tensor(shape: [1, 40])
        x.fillUniform(-1, 1, &rng)
        SparseChoice.forced = false
        let before = try layer.forward(x).scalars
        SparseChoice.forced = nil
        try SparseChoice.withFrozenWeights {
            assertClose(try layer.forward(x).scalars, before, "frozen, batch 1: sparse, the dense result")
            layer.weightParameter.value.data[0] += 1
            XCTAssertEqual(try layer.forward(x).scalars, try SparseChoice.withFrozenWeights { try layer.forward(x).scalars },
                           "a nested scope is the same scope")
            assertClose(try layer.forward(x).scalars, before, "inside the scope: the scope's rows")
        }
        let after = try layer.forward(x).scalars
        XCTAssertNotEqual(after[0], before[0], "outside: the weights as they are")
        try SparseChoice.withFrozenWeights { assertClose(try layer.forward(x).scalars, after, "a new scope reads the weights anew") }
        XCTAssertEqual(SparseChoice.frozen, nil)
    }
}
