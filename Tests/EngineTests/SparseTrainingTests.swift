import XCTest
import Kernels
@testable import Engine

/// Training on sparse kernels (`Linear.sparseTraining`): the kernels of SparseRows+Training
/// against the dense products with the mask, the layer's sparse path against its
/// dense-with-mask path, finite differences, and determinism.
///
/// Tolerance: a float sum of n products differs from the exact one by at most
/// γ·Σ|terms| with γ = n·u, u = 2⁻²⁴ (the standard bound for recursive summation, Higham
/// §3.1; the 8-lane sums are a different order of the same n terms, within the same bound).
/// The references here are summed in double, so the bound, with 2 more roundings for the
/// scale and the accumulation, is what each entry is held to.
final class SparseTrainingTests: XCTestCase {
    override func setUp() { SparseChoice.forcedTraining = nil; SparseChoice.forced = nil }
    override func tearDown() { SparseChoice.forcedTraining = nil; SparseChoice.forced = nil }

    private static let unit = Double(Float.ulpOfOne) / 2   // 2⁻²⁴

    /// A 0/1 mask with about `density` of its entries 1, a weight that is uniform where the
    /// mask is 1 (a few active entries exactly 0), 0 elsewhere.
    private func masked(_ rows: Int, _ columns: Int, density: Double, _ rng: inout RandomGenerator) -> (w: [Float], m: [Float]) {
        var m = (0..<(rows * columns)).map { _ in Double(rng.next() % 10_000) < density * 10_000 ? Float(1) : 0 }
        if density < 0 { m[m.count / 2] = 1 }   // exactly one active entry
        if rows > 4 {   // an empty row and an empty column
            for k in 0..<columns { m[2 * columns + k] = 0 }
            for r in 0..<rows { m[r * columns + columns - 1] = 0 }
        }
        var w = m.map { $0 == 0 ? Float(0) : Float(rng.uniform(-1, 1)) }
        if let i = m.firstIndex(of: 1) { w[i] = 0 }   // active but 0: still an entry
        return (w, m)
    }

    private func assertWithinBound(_ got: Float, _ exact: Double, _ absSum: Double, terms n: Int, _ what: String,
                                   file: StaticString = #filePath, line: UInt = #line) -> Bool {
        let bound = Double(n + 2) * Self.unit * absSum + 1e-30
        if abs(Double(got) - exact) > bound {
            XCTFail("\(what): \(got) vs exact \(exact) (bound \(bound))", file: file, line: line)
            return false
        }
        return true
    }

    func testTrainingKernelsEqualTheDenseProductsWithTheMask() {
        var rng = RandomGenerator(seed: 11)
        for (rows, columns) in [(1, 1), (7, 13), (33, 5), (100, 300), (10, 100)] {
            for density in [0.0, -1, 0.02, 0.3, 1.0] {
                let (w, m) = masked(rows, columns, density: density, &rng)
                let s = w.withUnsafeBufferPointer { wp in m.withUnsafeBufferPointer { mp in
                    SparseRows(dense: wp.baseAddress!, pattern: mp.baseAddress!, rows: rows, columns: columns)
                } }
                XCTAssertEqual(s.nonzeros, m.filter { $0 != 0 }.count, "entries = the mask's ones, zeros included")
                let t = s.transposed()
                XCTAssertEqual(t.rows, columns)
                XCTAssertEqual(t.columns, rows)
                XCTAssertEqual(t.nonzeros, s.nonzeros)
                XCTAssertEqual(t.transposed().values, s.values, "transposing twice gives A back")
                XCTAssertEqual(t.transposed().columnIndex, s.columnIndex)
                for batch in [1, 3, 8, 31, 33, 100] {
                    let g = (0..<(batch * rows)).map { _ in Float(rng.uniform(-1, 1)) }
                    let x = (0..<(batch * columns)).map { _ in Float(rng.uniform(-1, 1)) }
                    let label = "\(rows)x\(columns) density \(density) batch \(batch)"
                    // input gradient: gx = g · W_eff through Aᵀ
                    var gx = [Float](repeating: 7, count: batch * columns)
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: SparseRows.block * (rows + 1))
                    defer { scratch.deallocate() }
                    g.withUnsafeBufferPointer { gp in gx.withUnsafeMutableBufferPointer { c in
                        t.multiplyTransposed(x: gp.baseAddress!, ldx: rows, samples: 0..<batch, c: c.baseAddress!, ldc: columns,
                                             accumulate: false, scratch: scratch)
                    } }
                    check: for b in 0..<batch { for j in 0..<columns {
                        var exact = 0.0, absSum = 0.0
                        for i in 0..<rows {
                            let term = Double(g[b * rows + i]) * Double(w[i * columns + j])
                            exact += term; absSum += abs(term)
                        }
                        if !assertWithinBound(gx[b * columns + j], exact, absSum, terms: rows, "g·W \(label) [\(b), \(j)]") { break check }
                    } }
                    // weight gradient at the entries: out += scale · gᵀx where m = 1, unchanged elsewhere
                    let ldt = (batch + 7) / 8 * 8
                    var gt = [Float](repeating: .nan, count: rows * ldt), xt = [Float](repeating: .nan, count: columns * ldt)
                    g.withUnsafeBufferPointer { gp in gt.withUnsafeMutableBufferPointer { d in
                        SparseRows.transpose(gp.baseAddress!, lds: rows, samples: batch, columns: 0..<rows, into: d.baseAddress!, ldt: ldt)
                    } }
                    x.withUnsafeBufferPointer { xp in xt.withUnsafeMutableBufferPointer { d in
                        // in two column ranges, as the threads split it
                        SparseRows.transpose(xp.baseAddress!, lds: columns, samples: batch, columns: 0..<(columns / 2), into: d.baseAddress!, ldt: ldt)
                        SparseRows.transpose(xp.baseAddress!, lds: columns, samples: batch, columns: (columns / 2)..<columns, into: d.baseAddress!, ldt: ldt)
                    } }
                    XCTAssertFalse(gt.contains { $0.isNaN } || xt.contains { $0.isNaN }, "transposes write every entry, padding included")
                    var out = [Float](repeating: 0.25, count: rows * columns)
                    let scale: Float = 0.5
                    gt.withUnsafeBufferPointer { gp in xt.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { o in
                        s.accumulateEntryGradients(gt: gp.baseAddress!, xt: xp.baseAddress!, ldt: ldt, rows: 0..<(rows / 2),
                                                   scale: scale, into: o.baseAddress!, ldo: columns)
                        s.accumulateEntryGradients(gt: gp.baseAddress!, xt: xp.baseAddress!, ldt: ldt, rows: (rows / 2)..<rows,
                                                   scale: scale, into: o.baseAddress!, ldo: columns)
                    } } }
                    check: for i in 0..<rows { for j in 0..<columns {
                        let e = i * columns + j
                        if m[e] == 0 {
                            if out[e] != 0.25 { XCTFail("weight gradient \(label): masked [\(i), \(j)] touched: \(out[e])"); break check }
                            continue
                        }
                        var exact = 0.0, absSum = 0.0
                        for b in 0..<batch {
                            let term = Double(scale) * Double(g[b * rows + i]) * Double(x[b * columns + j])
                            exact += term; absSum += abs(term)
                        }
                        if !assertWithinBound(out[e], 0.25 + exact, 0.25 + absSum, terms: batch, "gᵀx \(label) [\(i), \(j)]") { break check }
                    } }
                }
            }
        }
    }

    /// Two copies of a masked Linear, the first on sparse kernels (forced), the second dense
    /// with the mask: output, input gradient, weight gradient at the mask's entries (0 under
    /// it on the sparse path), bias gradient, and the weights after two momentum SGD steps agree
    /// to float rounding.
    func testLinearSparseTrainingAgreesWithDenseWithMask() throws {
        var rng = RandomGenerator(seed: 12)
        for (inputs, outputs, bias) in [(50, 20, true), (7, 3, false), (300, 100, false)] {
            for density in [0.02, 0.3] {
                for batch in [1, 5, 40, 100] {
                    let sparse = Linear(inputs, outputs, bias: bias), dense = Linear(inputs, outputs, bias: bias)
                    sparse.reset(&rng)
                    try dense.weightParameter.setWeights(sparse.weightParameter.value)
                    if bias { dense.biasParameter!.value.copy(from: sparse.biasParameter!.value) }
                    let (_, m) = masked(outputs, inputs, density: density, &rng)
                    let mask = Tensor(shape: [outputs, inputs])
                    for i in 0..<m.count { mask.data[i] = m[i] }
                    try sparse.weightParameter.setMask(mask)
                    try dense.weightParameter.setMask(mask)
                    sparse.sparseTraining = true
                    SparseChoice.forcedTraining = true
                    let label = "Linear(\(inputs), \(outputs)) density \(density) batch \(batch)"
                    let sgdS = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 1e-3), sgdD = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 1e-3)
                    for step in 0..<2 {
                        let x = TestData.uniform([batch, inputs], seed: UInt64(100 + step)), r = TestData.uniform([batch, outputs], seed: UInt64(200 + step))
                        sparse.zeroGradParameters(); dense.zeroGradParameters()
                        let ys = try sparse.forward(x).clone(), yd = try dense.forward(x).clone()
                        XCTAssertNotNil(sparse.trainingRows, "\(label): the sparse path ran")
                        XCTAssertNil(dense.trainingRows)
                        assertClose(ys, yd, "\(label) step \(step) output")
                        let gs = try sparse.backward(x, r).clone(), gd = try dense.backward(x, r).clone()
                        assertClose(gs, gd, "\(label) step \(step) input gradient")
                        let masked = Tensor(shape: [outputs, inputs])
                        masked.copy(from: dense.weightParameter.grad)
                        for i in 0..<m.count where m[i] == 0 {
                            XCTAssertEqual(sparse.weightParameter.grad.data[i], 0, "\(label): no gradient under the mask")
                            masked.data[i] = 0
                        }
                        assertClose(sparse.weightParameter.grad, masked, "\(label) step \(step) weight gradient")
                        if bias { XCTAssertEqual(sparse.biasParameter!.grad.scalars, dense.biasParameter!.grad.scalars, "bias gradient: same code") }
                        sgdS.step(sparse); sgdD.step(dense)
                        assertClose(sparse.weightParameter.value, dense.weightParameter.value, "\(label) weights after step \(step + 1)")
                        XCTAssertEqual(sparse.weightParameter.weights().scalars.enumerated().filter { m[$0.offset] == 0 }.map(\.element),
                                       dense.weightParameter.weights().scalars.enumerated().filter { m[$0.offset] == 0 }.map(\.element),
                                       "\(label): the stored values under the mask are untouched either way")
                    }
                }
            }
        }
    }

    /// |a - b| ≤ 1e-5 · max(1, |b|) entrywise: sums of at most 300 products of magnitude ≤ 1
    /// in float, in two orders (n·u = 1.8e-5 is the worst case; in practice 1e-6).
    private func assertClose(_ a: Tensor, _ b: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        for i in 0..<min(a.count, b.count) where abs(a.data[i] - b.data[i]) > 1e-5 * max(1, abs(b.data[i])) {
            XCTFail("\(what): element \(i): \(a.data[i]) vs \(b.data[i])", file: file, line: line)
            return
        }
    }

    /// The default is the dense path (same code, same bits), with or without a mask; the rule
    /// takes the sparse path only up to `linearTrainingDensity`, only with a mask and without
    /// scores, and WORKBENCH_SPARSE_TRAINING's dense forces the dense path.
    func testTheChoiceIsOptInAndFollowsTheRule() throws {
        var rng = RandomGenerator(seed: 13)
        let l = Linear(40, 30)
        let x = TestData.uniform([20, 40])
        _ = try l.forward(x)
        XCTAssertNil(l.trainingRows, "off by default")
        l.sparseTraining = true
        _ = try l.forward(x)
        XCTAssertNil(l.trainingRows, "no mask: dense")
        let mask = Tensor(shape: [30, 40])
        for i in 0..<mask.count { mask.data[i] = rng.next() % 50 == 0 ? 1 : 0 }   // about 2%
        try l.weightParameter.setMask(mask)
        _ = try l.forward(x)
        XCTAssertNotNil(l.trainingRows, "2% ≤ the training threshold: sparse")
        l.evaluate()
        _ = try l.forward(x)
        XCTAssertNil(l.trainingRows, "evaluation: the inference rule, no training rows")
        l.training()
        SparseChoice.forcedTraining = false
        _ = try l.forward(x)
        XCTAssertNil(l.trainingRows, "forced dense")
        SparseChoice.forcedTraining = nil
        for i in 0..<mask.count { mask.data[i] = rng.next() % 2 == 0 ? 1 : 0 }   // about 50%
        try l.weightParameter.setMask(mask)
        _ = try l.forward(x)
        XCTAssertNil(l.trainingRows, "50% > the threshold: dense")
        SparseChoice.forcedTraining = true
        try l.weightParameter.setScores(TestData.uniform([30, 40]), keeping: 0.05)
        _ = try l.forward(x)
        XCTAssertNil(l.trainingRows, "scores read the gradient under the mask: dense even when forced")
    }

    /// Finite differences of L = Σ y·R through the sparse path: the input gradient, the weight
    /// gradient (0 under the mask, where the forward pass zeroes any perturbation, so the
    /// numeric gradient is 0 too) and the bias gradient.
    func testSparsePathPassesTheGradientCheck() throws {
        var rng = RandomGenerator(seed: 14)
        for (inputs, outputs, bias, batch) in [(6, 4, true, 5), (9, 7, false, 3), (12, 5, true, 1)] {
            let l = Linear(inputs, outputs, bias: bias)
            l.reset(&rng)
            let mask = Tensor(shape: [outputs, inputs])
            for i in 0..<mask.count { mask.data[i] = rng.next() % 5 < 2 ? 1 : 0 }
            try l.weightParameter.setMask(mask)
            l.sparseTraining = true
            SparseChoice.forcedTraining = true
            assertGradients(l, TestData.uniform(batch == 1 ? [inputs] : [batch, inputs]), .init(), "sparse \(l.description) batch \(batch)")
            XCTAssertNotNil(l.trainingRows)
        }
    }

    /// The same bits twice, and on 1 and 2 threads (each output element is computed by one
    /// thread in a fixed order).
    func testSparseTrainingIsDeterministicForAnyThreadCount() throws {
        let before = Parallel.threads
        defer { Parallel.setThreads(before) }
        var rng = RandomGenerator(seed: 15)
        let mask = Tensor(shape: [100, 300])
        for i in 0..<mask.count { mask.data[i] = rng.next() % 10 == 0 ? 1 : 0 }
        let weights = TestData.uniform([100, 300], seed: 3)
        let x = TestData.uniform([100, 300], seed: 4), r = TestData.uniform([100, 100], seed: 5)
        SparseChoice.forcedTraining = true
        func run(threads: Int) throws -> [[Float]] {
            Parallel.setThreads(threads)
            let l = Linear(300, 100)
            try l.weightParameter.setWeights(weights)
            l.biasParameter!.value.fill(0.125)
            try l.weightParameter.setMask(mask)
            l.sparseTraining = true
            l.zeroGradParameters()
            let y = try l.forward(x).scalars
            XCTAssertNotNil(l.trainingRows)
            let g = try l.backward(x, r).scalars
            return [y, g, l.weightParameter.grad.scalars, l.biasParameter!.grad.scalars]
        }
        let one = try run(threads: 1), again = try run(threads: 1), two = try run(threads: 2)
        for (k, name) in ["output", "input gradient", "weight gradient", "bias gradient"].enumerated() {
            XCTAssertTrue(one[k].map(\.bitPattern) == again[k].map(\.bitPattern), "\(name): same bits twice")
            XCTAssertTrue(one[k].map(\.bitPattern) == two[k].map(\.bitPattern), "\(name): same bits on 1 and 2 threads")
        }
    }

    /// SGD over the active entries alone (`Parameter.stepEntries`) gives the bits of the step
    /// over all entries, with momentum, Nesterov and weight decay, through masks rewired in
    /// place (as scripts/lib/sparsetrain/masks.lua does) and replaced with setMask: the first
    /// copy takes the active path where it may, the second is forced onto the full one.
    func testOptimizerStepOverActiveEntriesEqualsTheFullStep() throws {
        SparseChoice.forcedTraining = true
        for nesterov in [false, true] {
            var rng = RandomGenerator(seed: 16)
            let weights = TestData.uniform([20, 30], seed: 6)
            let mask = Tensor(shape: [20, 30])
            for i in 0..<mask.count { mask.data[i] = rng.next() % 10 == 0 ? 1 : 0 }
            let layers = [Linear(30, 20), Linear(30, 20)]
            for l in layers {
                try l.weightParameter.setWeights(weights)
                try l.weightParameter.setMask(mask)
                l.sparseTraining = true
            }
            let sgd = [SGD(learningRate: 0.1, momentum: 0.9, nesterov: nesterov, weightDecay: 1e-2),
                       SGD(learningRate: 0.1, momentum: 0.9, nesterov: nesterov, weightDecay: 1e-2)]
            for step in 0..<8 {
                let x = TestData.uniform([40, 30], seed: UInt64(300 + step)), r = TestData.uniform([40, 20], seed: UInt64(400 + step))
                if step == 3 {   // in place: two entries leave, two come in with new values
                    let active = (0..<mask.count).filter { layers[0].weightParameter.mask!.data[$0] == 1 }
                    let free = (0..<mask.count).filter { layers[0].weightParameter.mask!.data[$0] == 0 }
                    for l in layers {
                        let m = l.weightParameter.mask!.data, w = l.weightParameter.value.data
                        for p in active.prefix(2) { m[p] = 0; w[p] = 0 }
                        for p in free.suffix(2) { m[p] = 1; w[p] = 0.5 }
                    }
                }
                if step == 6 {   // a new mask through setMask
                    for i in 0..<mask.count { mask.data[i] = rng.next() % 8 == 0 ? 1 : 0 }
                    for l in layers { try l.weightParameter.setMask(mask) }
                }
                for (k, l) in layers.enumerated() {
                    l.zeroGradParameters()
                    _ = try l.forward(x)
                    XCTAssertNotNil(l.trainingRows)
                    _ = try l.backward(x, r)
                    if k == 1 { l.weightParameter.stepEntries = nil }
                    sgd[k].step(l)
                }
                let label = "nesterov \(nesterov) step \(step + 1)"
                let (a, b) = (layers[0].weightParameter, layers[1].weightParameter)
                XCTAssertEqual(a.value.scalars.map(\.bitPattern), b.value.scalars.map(\.bitPattern), "\(label): W_eff")
                XCTAssertEqual(a.weights().scalars.map(\.bitPattern), b.weights().scalars.map(\.bitPattern), "\(label): W")
                let va = try XCTUnwrap(sgd[0].velocity(of: a)), vb = try XCTUnwrap(sgd[1].velocity(of: b))
                XCTAssertEqual(va.scalars.map(\.bitPattern), vb.scalars.map(\.bitPattern), "\(label): velocity")
                for i in 0..<va.count where a.mask!.data[i] == 0 && (va.data[i] != 0 || a.value.data[i] != 0) {
                    XCTFail("\(label): W_eff and v are 0 under the mask (entry \(i))"); break
                }
            }
            XCTAssertEqual(sgd[0].activeEntryUpdates, 6, "nesterov \(nesterov): the active path ran except after the two mask changes")
            XCTAssertEqual(sgd[1].activeEntryUpdates, 0)
        }
    }

    /// The products from batches transposed once (`TransposedBatch`: stride n rounded up to 32)
    /// give the bits of the forms that transpose per block (forward) or at stride n rounded up
    /// to 8 (weight gradient): the same sums in the same order.
    func testProductsFromTransposedBatchesKeepTheirBits() {
        var rng = RandomGenerator(seed: 17)
        let (rows, columns) = (37, 70)
        let (w, m) = masked(rows, columns, density: 0.1, &rng)
        let a = w.withUnsafeBufferPointer { wp in m.withUnsafeBufferPointer { mp in
            SparseRows(dense: wp.baseAddress!, pattern: mp.baseAddress!, rows: rows, columns: columns)
        } }
        for n in [4, 9, 32, 33, 100] {
            let x = (0..<(n * columns)).map { _ in Float(rng.uniform(-1, 1)) }, g = (0..<(n * rows)).map { _ in Float(rng.uniform(-1, 1)) }
            let ldt = (n + 31) / 32 * 32, short = (n + 7) / 8 * 8
            var xt = [Float](repeating: .nan, count: columns * ldt), gt = [Float](repeating: .nan, count: rows * ldt)
            var xs = [Float](repeating: .nan, count: columns * short), gs = [Float](repeating: .nan, count: rows * short)
            var scratch = [Float](repeating: 0, count: SparseRows.block * (columns + 1))
            var y1 = [Float](repeating: 0, count: n * rows), y2 = y1
            var d1 = [Float](repeating: 0, count: rows * columns), d2 = d1
            x.withUnsafeBufferPointer { xp in g.withUnsafeBufferPointer { gp in
                SparseRows.transpose(xp.baseAddress!, lds: columns, samples: n, columns: 0..<columns, into: &xt, ldt: ldt)
                SparseRows.transpose(gp.baseAddress!, lds: rows, samples: n, columns: 0..<rows, into: &gt, ldt: ldt)
                SparseRows.transpose(xp.baseAddress!, lds: columns, samples: n, columns: 0..<columns, into: &xs, ldt: short)
                SparseRows.transpose(gp.baseAddress!, lds: rows, samples: n, columns: 0..<rows, into: &gs, ldt: short)
                a.multiplyTransposed(x: xp.baseAddress!, ldx: columns, samples: 0..<n, c: &y1, ldc: rows, accumulate: false, scratch: &scratch)
            } }
            a.multiplyTransposed(xt: xt, ldt: ldt, samples: 0..<n, c: &y2, ldc: rows, accumulate: false)
            XCTAssertEqual(y1.map(\.bitPattern), y2.map(\.bitPattern), "forward, batch \(n)")
            // split at every multiple of 8 (a thread's share), blocks of 32 from there
            for cut in stride(from: 8, to: n, by: 8) {
                var y3 = [Float](repeating: 0, count: n * rows)
                a.multiplyTransposed(xt: xt, ldt: ldt, samples: 0..<cut, c: &y3, ldc: rows, accumulate: false)
                a.multiplyTransposed(xt: xt, ldt: ldt, samples: cut..<n, c: &y3, ldc: rows, accumulate: false)
                XCTAssertEqual(y1.map(\.bitPattern), y3.map(\.bitPattern), "forward, batch \(n) split at \(cut)")
            }
            a.accumulateEntryGradients(gt: gs, xt: xs, ldt: short, rows: 0..<rows, scale: 0.5, into: &d1, ldo: columns)
            a.accumulateEntryGradients(gt: gt, xt: xt, ldt: ldt, length: short, rows: 0..<rows, scale: 0.5, into: &d2, ldo: columns)
            XCTAssertEqual(d1.map(\.bitPattern), d2.map(\.bitPattern), "weight gradient, batch \(n)")
            for k in 0..<columns { for s in 0..<ldt where xt[k * ldt + s] != (s < n ? x[s * columns + k] : 0) {
                XCTFail("transpose, batch \(n): [\(k), \(s)]"); return
            } }
        }
    }

    /// A reused `TransposedBatch` zeroes only the padding a smaller batch left behind, and its
    /// transposes equal a fresh one's for any sequence of batch sizes and widths (smaller,
    /// larger, the same, another width of the same storage size); on 1 and 2 threads.
    func testReusedTransposedBatchesAreZeroPadded() {
        let before = Parallel.threads
        defer { Parallel.setThreads(before) }
        for threads in [1, 2] {
            Parallel.setThreads(threads)
            var reused = TransposedBatch()
            for (n, width) in [(100, 784), (60, 784), (100, 784), (100, 784), (96, 784), (3, 784), (97, 784), (128, 392), (100, 784)] {
                let b = TestData.uniform([n, width], seed: UInt64(n + width))
                var fresh = TransposedBatch()
                let t = reused.make(b.data, width: width, samples: n), f = fresh.make(b.data, width: width, samples: n)
                XCTAssertEqual(reused.ldt, fresh.ldt)
                let count = width * reused.ldt
                XCTAssertEqual(Array(UnsafeBufferPointer(start: t, count: count)).map(\.bitPattern),
                               Array(UnsafeBufferPointer(start: f, count: count)).map(\.bitPattern), "\(threads) thread(s), batch \(n) × \(width)")
                reused.forget()
            }
        }
    }

    /// A mask's layout is its entries row by row, and `matches` sees a change anywhere: in
    /// the first or a later byte of bits, in the ragged tail; a sign of zero is no change (-0
    /// is no entry).
    func testMaskPatternSeesEveryChange() {
        var rng = RandomGenerator(seed: 18)
        let (rows, columns) = (41, 53)   // 2,173 entries: two stretches and a tail of 5
        let m = Tensor(shape: [rows, columns])
        for i in 0..<m.count { m.data[i] = rng.next() % 7 == 0 ? 1 : 0 }
        let p = MaskPattern(m, rows: rows, columns: columns)
        var expected: [Int] = []
        for i in 0..<m.count where m.data[i] != 0 { expected.append(i) }
        var listed: [Int] = []
        p.forEachPosition { listed.append($0) }
        XCTAssertEqual(listed, expected)
        XCTAssertEqual(p.count, expected.count)
        XCTAssertTrue(p.matches(m))
        for i in [0, 7, 1023, 1024, 1500, 2167, 2172] {
            let old = m.data[i]
            m.data[i] = old == 0 ? 1 : 0
            XCTAssertFalse(p.matches(m), "a change at \(i)")
            m.data[i] = old
            XCTAssertTrue(p.matches(m), "undone at \(i)")
        }
        if let z = (0..<m.count).first(where: { m.data[$0] == 0 }) {
            m.data[z] = -0.0
            XCTAssertTrue(p.matches(m), "-0 is a zero")
            XCTAssertEqual(MaskPattern(m, rows: rows, columns: columns).count, p.count, "-0 is no entry")
        }
        XCTAssertFalse(p.matches(Tensor(shape: [rows, columns - 1])), "another size")
    }

    /// The fused pass of a forward pass in training (`MaskPattern.applyMask`) leaves the same
    /// bits as `Parameter.applyMask` (+0 under the mask, whatever was written there, in whole
    /// blocks of 8, ragged tails and the first block) and says whether the mask changed, in
    /// a full block or the tail; on 1 and 2 threads.
    func testMaskPatternAppliesTheMaskWhileComparing() throws {
        let before = Parallel.threads
        defer { Parallel.setThreads(before) }
        for threads in [1, 2] {
            Parallel.setThreads(threads)
            var rng = RandomGenerator(seed: 21)
            let (rows, columns) = (301, 317)   // 95,417 entries: a tail of 1, two chunks on 2 threads
            let m = Tensor(shape: [rows, columns])
            for i in 0..<m.count { m.data[i] = rng.next() % 9 == 0 ? 1 : 0 }
            let pattern = MaskPattern(m, rows: rows, columns: columns)
            let p = Parameter(name: "weight", shape: [rows, columns])
            p.value.fillUniform(-1, 1, &rng)
            try p.setMask(m)
            let x = p.value
            for i in [0, 3, 8, 4_000, 60_001, m.count - 1] { x.data[i] = m.data[i] == 0 ? -2.5 : x.data[i] }   // strays under the mask
            x.data[17] = m.data[17] == 0 ? -0.0 : x.data[17]
            let expected = x.clone()
            for i in 0..<m.count where m.data[i] == 0 { expected.data[i] = 0 }
            XCTAssertTrue(pattern.applyMask(m, to: x), "\(threads) thread(s): unchanged")
            XCTAssertEqual(x.scalars.map(\.bitPattern), expected.scalars.map(\.bitPattern), "\(threads) thread(s): +0 under the mask")
            for i in [5, 50_000, m.count - 1] {
                let old = m.data[i]
                m.data[i] = old == 0 ? 1 : 0
                XCTAssertFalse(pattern.applyMask(m, to: x.clone()), "\(threads) thread(s): a change at \(i)")
                m.data[i] = old
            }
            XCTAssertTrue(pattern.applyMask(m, to: x))
            // x is zeroed under the mask now: a lone -0 written there (in the second chunk on
            // 2 threads, the only bits set under the mask) is still found and made +0.
            let z = (60_000..<m.count).first { m.data[$0] == 0 }!
            x.data[z] = -0.0
            XCTAssertTrue(pattern.applyMask(m, to: x))
            XCTAssertEqual(x.data[z].bitPattern, 0, "\(threads) thread(s): a lone -0 under the mask becomes +0")
        }
    }

    /// `move` gives the layout and copy that reading the changed mask anew gives (entries in
    /// the first and last rows, a row emptied, an empty row filled), and refuses, changing
    /// nothing, a position that is not active, one that already is, or a repeated one.
    func testMaskPatternMovesWithTheMask() {
        var rng = RandomGenerator(seed: 19)
        let (rows, columns) = (12, 9)
        let m = Tensor(shape: [rows, columns])
        for i in 0..<m.count { m.data[i] = rng.next() % 4 == 0 ? 1 : 0 }
        for k in 0..<columns { m.data[5 * columns + k] = 0; m.data[7 * columns + k] = k % 3 == 0 ? 1 : 0 }
        m.data[0] = 1; m.data[m.count - 1] = 0
        let p = MaskPattern(m, rows: rows, columns: columns)
        func layout(_ q: MaskPattern) -> [Int] { var l: [Int] = []; q.forEachPosition { l.append($0) }; return l }
        let removing = [0, 7 * columns, 7 * columns + 3, 7 * columns + 6] + ((0..<m.count).filter { m.data[$0] == 1 }.suffix(2))
        let adding = [5 * columns + 2, 5 * columns + 8, m.count - 1, 1]
        XCTAssertTrue(adding.allSatisfy { m.data[$0] == 0 })
        XCTAssertFalse(p.move(removing: [1], adding: []), "1 is not active")
        XCTAssertFalse(p.move(removing: [], adding: [0]), "0 is active")
        XCTAssertFalse(p.move(removing: [0, 0], adding: []), "repeated")
        XCTAssertFalse(p.move(removing: [], adding: [m.count]), "outside")
        XCTAssertTrue(p.matches(m), "a refused move changes nothing")
        XCTAssertTrue(p.move(removing: removing.shuffled(), adding: adding.shuffled()))
        for i in removing { m.data[i] = 0 }
        for i in adding { m.data[i] = 1 }
        let fresh = MaskPattern(m, rows: rows, columns: columns)
        XCTAssertTrue(p.matches(m), "the bits moved with the mask")
        XCTAssertEqual(p.rowStart, fresh.rowStart)
        XCTAssertEqual(p.columnIndex, fresh.columnIndex)
        XCTAssertEqual(layout(p), layout(fresh))
    }

    /// DeepR on sparse training: its rewiring moves the parameter's layout (and zeroes the
    /// velocity where it prunes), so every SGD step runs over the active entries, with the
    /// bits of the same training where the layout is read anew after each rewiring (and the
    /// step then runs over all entries).
    func testDeepRKeepsTheStepOnTheActiveEntries() throws {
        SparseChoice.forcedTraining = true
        var results: [[UInt32]] = [], updates: [Int] = []
        for dropLayout in [false, true] {
            var rng = RandomGenerator(seed: 20)
            let l = Linear(40, 30)
            try l.weightParameter.setWeights(TestData.uniform([30, 40], seed: 21))
            let mask = Tensor(shape: [30, 40])
            for i in 0..<mask.count { mask.data[i] = rng.next() % 10 == 0 ? 1 : 0 }
            try l.weightParameter.setMask(mask)
            l.sparseTraining = true
            let sgd = SGD(learningRate: 0.5, momentum: 0.9, nesterov: true, weightDecay: 1e-3)
            let d = try DeepRConnections(parameter: l.weightParameter)
            var moved = 0
            for step in 0..<12 {
                let x = TestData.uniform([16, 40], seed: UInt64(500 + step)), r = TestData.uniform([16, 30], seed: UInt64(600 + step))
                l.zeroGradParameters()
                _ = try l.forward(x)
                _ = try l.backward(x, r)
                d.addNoise(std: 0.3, &rng)
                sgd.step(l)
                moved += try d.rewire(optimizer: sgd, newWeightStd: nil, &rng).moved
                if dropLayout { l.weightParameter.maskPattern = nil }
            }
            XCTAssertGreaterThan(moved, 10, "the noise flips signs")
            results.append(l.weightParameter.value.scalars.map(\.bitPattern) + sgd.velocity(of: l.weightParameter)!.scalars.map(\.bitPattern))
            updates.append(sgd.activeEntryUpdates)
        }
        XCTAssertEqual(results[0], results[1], "weights and velocity")
        XCTAssertEqual(updates, [12, 1], "every step on the active entries (only the first after a new layout)")
    }
}
