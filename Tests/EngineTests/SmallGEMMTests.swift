import Dispatch
import XCTest
@testable import Engine
@testable import Kernels

/// SmallGEMM against OpenBLAS (`BLAS.openBLAS`) on random matrices: every transpose combination,
/// alpha/beta variants, odd and empty shapes, padded leading dimensions, both the
/// outer-product and the dot-product paths, and concurrent calls.
final class SmallGEMMTests: XCTestCase {
    /// Which implementation to run: the public entry point, or one of its two forms directly.
    private enum Path { case automatic, dotProducts, outerProducts }

    /// One product to check: sizes, transposes and extra row padding of A, B, C.
    private struct Case: CustomStringConvertible {
        var transA = false, transB = false
        var m: Int, n: Int, k: Int
        var alpha: Float = 1, beta: Float = 0
        var padA = 0, padB = 0, padC = 0
        var description: String {
            "\(transA ? "T" : "N")\(transB ? "T" : "N") m=\(m) n=\(n) k=\(k) alpha=\(alpha) beta=\(beta) pads=\(padA),\(padB),\(padC)"
        }
    }

    /// Runs SmallGEMM and BLAS on the same random inputs (padding of A and B filled with NaN,
    /// so reading it would poison the result; C's padding must stay untouched; with beta 0
    /// C starts as NaN) and compares within 1e-4 of Σ|terms|.
    private func check(_ t: Case, path: Path = .automatic, seed: UInt64 = 1,
                       file: StaticString = #filePath, line: UInt = #line) {
        var rng = RandomGenerator(seed: seed)
        let aRows = t.transA ? t.k : t.m, aCols = t.transA ? t.m : t.k
        let bRows = t.transB ? t.n : t.k, bCols = t.transB ? t.k : t.n
        let lda = aCols + t.padA, ldb = bCols + t.padB, ldc = t.n + t.padC
        func matrix(_ rows: Int, _ cols: Int, _ ld: Int) -> [Float] {
            var x = [Float](repeating: .nan, count: Swift.max(1, rows * ld))
            for r in 0..<rows { for c in 0..<cols { x[r * ld + c] = rng.uniform(-1, 1) } }
            return x
        }
        let a = matrix(aRows, aCols, lda), b = matrix(bRows, bCols, ldb)
        var c0 = [Float](repeating: -7, count: Swift.max(1, t.m * ldc))   // -7 marks padding
        for i in 0..<t.m { for j in 0..<t.n { c0[i * ldc + j] = t.beta == 0 ? .nan : rng.uniform(-1, 1) } }
        var blas = c0
        if t.beta == 0 {   // BLAS is the reference: give it a clean C
            for i in 0..<t.m { for j in 0..<t.n { blas[i * ldc + j] = 0 } }
        }
        blas.withUnsafeMutableBufferPointer { c in
            BLAS.openBLAS(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha,
                          a: a, lda: lda, b: b, ldb: ldb, beta: t.beta, c: c.baseAddress!, ldc: ldc)
        }
        // Both kernel shapes (`SmallGEMM.wideVectors`) on this machine; within one form they
        // give the same bits.
        let detected = SmallGEMM.wideVectors
        defer { SmallGEMM.wideVectors = detected }
        var results: [[Float]] = []
        for wide in [true, false] {
            SmallGEMM.wideVectors = wide
            var mine = c0
            mine.withUnsafeMutableBufferPointer { c in
                switch path {
                case .automatic:
                    SmallGEMM.gemm(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha,
                                   a: a, lda: lda, b: b, ldb: ldb, beta: t.beta, c: c.baseAddress!, ldc: ldc)
                case .dotProducts:
                    precondition(!t.transA && t.transB, "the dot-product form computes A·Bᵀ")
                    SmallGEMM.dotProductGEMM(m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: a, lda: lda, b: b,
                                             ldb: ldb, beta: t.beta, c: c.baseAddress!, ldc: ldc)
                case .outerProducts:
                    SmallGEMM.outerProductGEMM(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k,
                                               alpha: t.alpha, a: a, lda: lda, b: b, ldb: ldb, beta: t.beta,
                                               c: c.baseAddress!, ldc: ldc)
                }
            }
            var failures = 0
            for i in 0..<t.m {
                for j in 0..<ldc {
                    let index = i * ldc + j
                    if j >= t.n {
                        if mine[index] != -7 { failures += 1 }
                        continue
                    }
                    var magnitude = t.beta == 0 ? 0 : Double(abs(t.beta * c0[index]))
                    for p in 0..<t.k {
                        let x = t.transA ? a[p * lda + i] : a[i * lda + p]
                        let y = t.transB ? b[j * ldb + p] : b[p * ldb + j]
                        magnitude += Double(abs(t.alpha * x * y))
                    }
                    let error = Double(abs(mine[index] - blas[index]))
                    if !(error <= 1e-4 * magnitude + 1e-30) { failures += 1 }
                }
            }
            XCTAssertEqual(failures, 0, "\(t) \(path) \(wide ? "wide" : "narrow"): \(failures) elements differ from BLAS", file: file, line: line)
            results.append(mine)
        }
        if path != .automatic {
            XCTAssertEqual(results[0].map(\.bitPattern), results[1].map(\.bitPattern), "\(t) \(path): wide and narrow shapes differ",
                           file: file, line: line)
        }
    }

    private let transposes = [(false, false), (false, true), (true, false), (true, true)]

    func testOddShapesForAllTransposes() {
        let shapes = [(1, 1, 1), (7, 33, 5), (17, 100, 150), (3, 2, 9), (9, 17, 16), (6, 31, 2),
                      (11, 48, 33), (2, 65, 40), (16, 16, 16), (13, 47, 19)]
        for (ta, tb) in transposes {
            for (m, n, k) in shapes {
                check(Case(transA: ta, transB: tb, m: m, n: n, k: k))
            }
        }
    }

    func testEveryRowRemainderAndColumnTail() {
        for (ta, tb) in transposes {
            for m in 1...17 { check(Case(transA: ta, transB: tb, m: m, n: 37, k: 7)) }
            for n in [1, 7, 8, 9, 15, 16, 17, 24, 25, 31, 32, 33, 40, 47, 48, 49, 56, 57, 64, 70] {
                check(Case(transA: ta, transB: tb, m: 9, n: n, k: 18))
            }
            // At most 6 rows: 64-column panels.
            for m in 1...6 {
                for n in [64, 65, 100, 135] {
                    check(Case(transA: ta, transB: tb, m: m, n: n, k: 11, beta: 0.5, padB: 2, padC: 1),
                          path: .outerProducts)
                }
            }
        }
    }

    func testAlphaBetaVariants() {
        for (ta, tb) in transposes {
            for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (-0.5, 0), (-0.5, 1), (2, 0.25), (1, -1)] {
                check(Case(transA: ta, transB: tb, m: 10, n: 35, k: 21, alpha: alpha, beta: beta))
            }
        }
    }

    func testLeadingDimensionsLargerThanTheMatrices() {
        for (ta, tb) in transposes {
            check(Case(transA: ta, transB: tb, m: 9, n: 40, k: 20, padA: 3, padB: 5, padC: 7))
            check(Case(transA: ta, transB: tb, m: 17, n: 13, k: 33, beta: 1, padA: 16, padB: 1, padC: 2))
        }
    }

    /// k beyond one chunk (256) accumulates later chunks into C.
    func testLongK() {
        for (ta, tb) in transposes {
            check(Case(transA: ta, transB: tb, m: 9, n: 20, k: 300, alpha: 0.5, beta: 1))
            check(Case(transA: ta, transB: tb, m: 3, n: 41, k: 515), path: .outerProducts)
        }
    }

    /// Both forms of A·Bᵀ on the same shapes, with every tile remainder (rows mod 6, columns
    /// mod 4) and k mod 16; and the choice between them on the brief's shapes.
    func testBothFormsOfABTransposed() {
        for (m, n, k) in [(6, 25, 200), (13, 7, 53), (1, 1, 17), (7, 11, 197), (11, 6, 16), (5, 3, 40), (4, 2, 15)] {
            for path in [Path.dotProducts, .outerProducts] {
                check(Case(transB: true, m: m, n: n, k: k), path: path)
                check(Case(transB: true, m: m, n: n, k: k, alpha: -0.5, beta: 1, padA: 3, padB: 1, padC: 4), path: path)
            }
        }
        let detected = (SmallGEMM.wideVectors, SmallGEMM.fullRateWideVectors)
        defer { (SmallGEMM.wideVectors, SmallGEMM.fullRateWideVectors) = detected }
        SmallGEMM.wideVectors = true
        SmallGEMM.fullRateWideVectors = false
        XCTAssertTrue(SmallGEMM.prefersDotProducts(m: 6, n: 25, k: 896))
        XCTAssertTrue(SmallGEMM.prefersDotProducts(m: 64, n: 120, k: 2400))
        XCTAssertFalse(SmallGEMM.prefersDotProducts(m: 96, n: 150, k: 100))
        XCTAssertFalse(SmallGEMM.prefersDotProducts(m: 512, n: 512, k: 512))
        // Full-rate 512-bit FMAs (Zen 5): the dot form wins for up to ~16 rows of C only.
        SmallGEMM.fullRateWideVectors = true
        XCTAssertTrue(SmallGEMM.prefersDotProducts(m: 6, n: 25, k: 896))
        XCTAssertTrue(SmallGEMM.prefersDotProducts(m: 16, n: 120, k: 2400))
        XCTAssertTrue(SmallGEMM.prefersDotProducts(m: 16, n: 300, k: 784))
        XCTAssertFalse(SmallGEMM.prefersDotProducts(m: 64, n: 120, k: 2400))
        XCTAssertFalse(SmallGEMM.prefersDotProducts(m: 32, n: 300, k: 784))
        SmallGEMM.fullRateWideVectors = false
        // The narrow shapes' 3 × 2 dot tiles win only for few rows of C.
        SmallGEMM.wideVectors = false
        XCTAssertTrue(SmallGEMM.prefersDotProducts(m: 6, n: 25, k: 896))
        XCTAssertFalse(SmallGEMM.prefersDotProducts(m: 64, n: 120, k: 2400))
        XCTAssertFalse(SmallGEMM.prefersDotProducts(m: 100, n: 300, k: 784))
    }

    /// A row bias added as the product is stored gives the bits of filling each row of C with
    /// its bias and taking beta = 1: every transpose, ragged panels, k over one chunk
    /// (`kChunk`), the dot form (which fills first), both kernel shapes, padded C untouched.
    func testRowBiasEqualsFilledRowsWithBetaOne() {
        let detected = SmallGEMM.wideVectors
        defer { SmallGEMM.wideVectors = detected }
        var rng = RandomGenerator(seed: 5)
        let shapes = [(96, 100, 150), (13, 37, 600), (7, 5, 20), (6, 25, 896), (1, 9, 3), (40, 70, 0)]
        for wide in [true, false] {
            SmallGEMM.wideVectors = wide
            for (m, n, k) in shapes {
                for (ta, tb) in transposes {
                    let a = (0..<Swift.max(1, m * k)).map { _ in rng.uniform(-1, 1) }
                    let b = (0..<Swift.max(1, k * n)).map { _ in rng.uniform(-1, 1) }
                    let bias = (0..<m).map { _ in rng.uniform(-1, 1) }
                    let ldc = n + 3
                    var filled = [Float](repeating: -7, count: m * ldc), biased = filled
                    for i in 0..<m { for j in 0..<n { filled[i * ldc + j] = bias[i]; biased[i * ldc + j] = .nan } }
                    filled.withUnsafeMutableBufferPointer { c in
                        SmallGEMM.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n,
                                       beta: 1, c: c.baseAddress!, ldc: ldc)
                    }
                    biased.withUnsafeMutableBufferPointer { c in
                        SmallGEMM.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n,
                                       c: c.baseAddress!, ldc: ldc, rowBias: bias)
                    }
                    XCTAssertEqual(filled.map(\.bitPattern), biased.map(\.bitPattern), "m=\(m) n=\(n) k=\(k) \(ta) \(tb) wide=\(wide)")
                }
            }
        }
    }

    func testEmptyAndDegenerateShapes() {
        for (ta, tb) in transposes {
            check(Case(transA: ta, transB: tb, m: 0, n: 5, k: 3))
            check(Case(transA: ta, transB: tb, m: 4, n: 0, k: 3))
            check(Case(transA: ta, transB: tb, m: 4, n: 5, k: 0))             // C = 0 even if NaN
            check(Case(transA: ta, transB: tb, m: 4, n: 5, k: 0, beta: 0.5))  // C = beta · C
            check(Case(transA: ta, transB: tb, m: 3, n: 6, k: 4, alpha: 0, beta: 1))
        }
    }

    /// alpha == 0 must not read A or B (cblas semantics): NaN there does not reach C.
    func testAlphaZeroIgnoresTheOperands() {
        let a = [Float](repeating: .nan, count: 12), b = [Float](repeating: .nan, count: 12)
        var c = [Float](repeating: 2, count: 9)
        SmallGEMM.gemm(m: 3, n: 3, k: 4, alpha: 0, a: a, lda: 4, b: b, ldb: 3, beta: 0.5, c: &c, ldc: 3)
        XCTAssertEqual(c, [Float](repeating: 1, count: 9))
    }

    /// Several threads at once on different data give the same bits as one thread.
    func testConcurrentCallsMatchSerialResults() {
        let jobs = 8, m = 13, n = 37, k = 29
        var rng = RandomGenerator(seed: 9)
        let inputs = (0..<jobs).map { _ in
            ((0..<(k * m)).map { _ in rng.uniform(-1, 1) }, (0..<(n * k)).map { _ in rng.uniform(-1, 1) })
        }
        func run(_ job: Int, into c: UnsafeMutablePointer<Float>) {
            let (a, b) = inputs[job]
            SmallGEMM.gemm(transA: job % 2 == 0, transB: job % 3 == 0, m: m, n: n, k: k,
                           a: a, lda: job % 2 == 0 ? m : k, b: b, ldb: job % 3 == 0 ? k : n,
                           c: c, ldc: n)
        }
        var serial = [Float](repeating: 0, count: jobs * m * n)
        serial.withUnsafeMutableBufferPointer { s in for j in 0..<jobs { run(j, into: s.baseAddress! + j * m * n) } }
        let parallel = UnsafeMutablePointer<Float>.allocate(capacity: jobs * m * n)
        defer { parallel.deallocate() }
        DispatchQueue.concurrentPerform(iterations: jobs) { j in
            for _ in 0..<3 { run(j, into: parallel + j * m * n) }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: parallel, count: jobs * m * n)), serial)
    }

    /// The 8×8 in-register transpose used to pack Bᵀ.
    func testTileTransposeIsATranspose() {
        var source = [Float](repeating: 0, count: 8 * 12)
        for r in 0..<8 { for c in 0..<12 { source[r * 12 + c] = Float(r * 100 + c) } }
        var out = [Float](repeating: -1, count: 8 * 10)
        source.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                SmallGEMM.Tile8.transpose(s.baseAddress! + 2, stride: 12, into: o.baseAddress!, outStride: 10)
            }
        }
        for r in 0..<8 {
            for c in 0..<10 {
                XCTAssertEqual(out[r * 10 + c], c < 8 ? Float(c * 100 + r + 2) : -1, "row \(r) column \(c)")
            }
        }
    }
}
