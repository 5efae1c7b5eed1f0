import XCTest
@testable import Kernels

/// The unfolding against its definition, and the run copy under it.
final class Im2ColTests: XCTestCase {
    /// copyRun copies exactly s[0..<count] to o[0..<count] for every count from 0 to 40 (one by
    /// one, 4-wide and 8-wide moves, overlapping last moves), at every alignment, and touches
    /// nothing around the run.
    func testARunCopiesExactlyItsFloats() {
        let source = (0..<64).map { Float($0) + 0.5 }
        for count in 0...40 {
            for offset in 0..<8 {
                var out = [Float](repeating: -1, count: 64)
                source.withUnsafeBufferPointer { s in
                    out.withUnsafeMutableBufferPointer { o in
                        Im2Col.copyRun(s.baseAddress! + offset, into: o.baseAddress! + 8, count: count)
                    }
                }
                let expected = (0..<64).map { $0 >= 8 && $0 < 8 + count ? source[offset + $0 - 8] : -1 }
                XCTAssertEqual(out, expected, "count \(count), offset \(offset)")
            }
        }
    }

    /// Every way to unfold (windows inside, through a padded plane, row by row) gives
    /// columns[(c·kH + v)·kW + u, i·oW + j] = x[c, i·dH + v − padH, j·dW + u − padW], 0 outside.
    func testUnfoldingMatchesTheDefinition() {
        // (planes, h, w, kernel, stride, padding): LeNet-5's second layer (runs of 10), runs of
        // 1-7, 8, 9 and 17, strided and padded ones
        let shapes: [(Int, Int, Int, Int, Int, Int)] = [(6, 14, 14, 5, 1, 0), (2, 5, 7, 3, 1, 0), (1, 10, 12, 5, 1, 0),
                                                        (2, 9, 20, 3, 1, 0), (3, 9, 9, 3, 1, 1), (2, 11, 13, 3, 2, 1),
                                                        (1, 6, 6, 5, 1, 2), (2, 30, 30, 3, 1, 1)]
        for (c, h, w, k, d, pad) in shapes {
            let im = Im2Col(nInputPlane: c, kW: k, kH: k, dW: d, dH: d, padW: pad, padH: pad, h: h, w: w)
            let x = (0..<(c * h * w)).map { Float($0 % 251) - 100 }
            var col = [Float](repeating: .nan, count: im.kernelSize * im.positions)
            x.withUnsafeBufferPointer { xb in col.withUnsafeMutableBufferPointer { im.unfold(xb.baseAddress!, into: $0.baseAddress!) } }
            var wrong = 0
            for cc in 0..<c { for v in 0..<k { for u in 0..<k { for i in 0..<im.oh { for j in 0..<im.ow {
                let yy = i * d + v - pad, xx = j * d + u - pad
                let expected: Float = yy >= 0 && yy < h && xx >= 0 && xx < w ? x[(cc * h + yy) * w + xx] : 0
                if col[((cc * k + v) * k + u) * im.positions + i * im.ow + j].bitPattern != expected.bitPattern { wrong += 1 }
            } } } } }
            XCTAssertEqual(wrong, 0, "planes \(c), \(h)x\(w), kernel \(k), stride \(d), padding \(pad)")
        }
    }
}
