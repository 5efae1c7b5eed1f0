import XCTest
@testable import Engine

/// SpatialConvolution has three code paths (row-segment unfolding; padded-width unfolding for
/// stride-1 layers with wide padded rows; groups of images side by side for small output
/// planes, whose sparse-rows form SparseKernelTests checks) and splits batches across threads. Each is checked
/// against the definition computed naively:
///   y[b,o,i,j] = bias[o] + Σ W[o,c,v,u] · x[b,c,i·dH+v-padH, j·dW+u-padW]
final class ConvolutionPathTests: XCTestCase {
    private func naive(_ m: SpatialConvolution, _ x: Tensor, _ gy: Tensor) -> (y: [Float], gx: [Float], gw: [Float], gb: [Float]) {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h + 2 * m.padH - m.kH) / m.dH + 1, ow = (w + 2 * m.padW - m.kW) / m.dW + 1
        let W = m.weightParameter.value, bias = m.biasParameter!.value
        var y = [Float](repeating: 0, count: b * m.nOutputPlane * oh * ow)
        var gx = [Float](repeating: 0, count: x.count), gw = [Float](repeating: 0, count: W.count)
        var gb = [Float](repeating: 0, count: m.nOutputPlane)
        for n in 0..<b { for o in 0..<m.nOutputPlane { for i in 0..<oh { for j in 0..<ow {
            let yi = ((n * m.nOutputPlane + o) * oh + i) * ow + j
            var s = Double(bias[o])
            let g = gy[yi]
            gb[o] += g
            for cc in 0..<c { for v in 0..<m.kH { for u in 0..<m.kW {
                let yy = i * m.dH + v - m.padH, xx = j * m.dW + u - m.padW
                guard yy >= 0, yy < h, xx >= 0, xx < w else { continue }
                let xi = ((n * c + cc) * h + yy) * w + xx, wi = ((o * c + cc) * m.kH + v) * m.kW + u
                s += Double(W[wi]) * Double(x[xi])
                gx[xi] += W[wi] * g
                gw[wi] += x[xi] * g
            } } }
            y[yi] = Float(s)
        } } } }
        return (y, gx, gw, gb)
    }

    private func check(_ m: SpatialConvolution, input shape: [Int], threads: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        Parallel.setThreads(threads)
        defer { Parallel.setThreads(1) }
        var rng = RandomGenerator(seed: 11)
        let x = Tensor(shape: shape); x.fillUniform(-1, 1, &rng)
        let y = try m.forward(x)
        let gy = Tensor(shape: y.shape); gy.fillUniform(-1, 1, &rng)
        m.zeroGradParameters()
        let gx = try m.backward(x, gy)
        let ref = naive(m, x, gy)
        func close(_ a: [Float], _ b: [Float], _ what: String) {
            XCTAssertEqual(a.count, b.count, what, file: file, line: line)
            let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-4, "\(what) differs from the definition by \(worst)", file: file, line: line)
        }
        close(y.scalars, ref.y, "output")
        close(gx.scalars, ref.gx, "input gradient")
        close(m.weightParameter.grad.scalars, ref.gw, "weight gradient")
        close(m.biasParameter!.grad.scalars, ref.gb, "bias gradient")
    }

    func testPaddedWidthPathMatchesDefinition() throws {
        // 28 wide, pad 2, 5x5: padded rows of 32 for 28 outputs, the padded-width path.
        for threads in [1, 2] {
            GlobalRandom.seed(1)
            try check(SpatialConvolution(2, 3, 5, 5, 1, 1, 2, 2), input: [3, 2, 28, 28], threads: threads)
        }
    }

    func testRowSegmentPathMatchesDefinition() throws {
        for threads in [1, 2] {
            GlobalRandom.seed(2)
            try check(SpatialConvolution(3, 4, 5, 5), input: [5, 3, 14, 14], threads: threads)
            try check(SpatialConvolution(2, 3, 3, 2, 2, 1, 1, 0), input: [3, 2, 9, 8], threads: threads)
        }
    }

    func testImageGroupsMatchDefinition() throws {
        // Output planes of ≤ 64 positions run groups of images side by side: 3x3 planes (at
        // most 57 a group, so 71 images make a group of 36 and a shorter one of 35), 1x1 planes
        // (the whole chunk) and a strided 4x4 plane.
        XCTAssertEqual(SpatialConvolution.imagesPerGroup(positions: 9, chunkImages: 71), 36)
        XCTAssertEqual(SpatialConvolution.imagesPerGroup(positions: 9, chunkImages: 128), 43)
        XCTAssertEqual(SpatialConvolution.imagesPerGroup(positions: 100, chunkImages: 70), 1)
        for threads in [1, 2] {
            GlobalRandom.seed(4)
            try check(SpatialConvolution(4, 5, 3, 3, 1, 1, 1, 1), input: [71, 4, 3, 3], threads: threads)
            try check(SpatialConvolution(3, 4, 3, 3), input: [20, 3, 3, 3], threads: threads)
            try check(SpatialConvolution(2, 3, 3, 3, 2, 2, 1, 1), input: [9, 2, 8, 7], threads: threads)
        }
    }

    func testThreadCountDoesNotChangeResultsBeyondRounding() throws {
        GlobalRandom.seed(3)
        let m = SpatialConvolution(1, 6, 5, 5, 1, 1, 2, 2)
        var rng = RandomGenerator(seed: 5)
        let x = Tensor(shape: [8, 1, 28, 28]); x.fillUniform(0, 1, &rng)
        Parallel.setThreads(1)
        let y1 = try m.forward(x).clone()
        Parallel.setThreads(2)
        let y2 = try m.forward(x).clone()
        Parallel.setThreads(1)
        XCTAssertEqual(y1.scalars, y2.scalars, "the forward pass splits images, not sums: identical bits")
    }
}
