import XCTest
@testable import Engine

/// `MaskSelection`: exact counts, pruned weights first and kept, ties by index, global ranking.
final class PrunerSelectionTests: XCTestCase {
    private func zeros(_ m: Tensor) -> [Int] { (0..<m.count).filter { m[$0] == 0 } }

    func testPrunesExactlyRoundPTimesNLowestScores() throws {
        let s = Tensor(shape: [2, 5], values: [5, 3, 9, 1, 7, 2, 8, 4, 6, 0])
        XCTAssertEqual(zeros(try MaskSelection.mask(scores: s, current: nil, fraction: 0.3)), [3, 5, 9])
        XCTAssertEqual(try MaskSelection.mask(scores: s, current: nil, fraction: 0.3).shape, [2, 5])
        // 0.25 · 10 = 2.5 rounds away from zero to 3; 0.24 · 10 to 2.
        XCTAssertEqual(zeros(try MaskSelection.mask(scores: s, current: nil, fraction: 0.25)).count, 3)
        XCTAssertEqual(zeros(try MaskSelection.mask(scores: s, current: nil, fraction: 0.24)).count, 2)
        XCTAssertEqual(zeros(try MaskSelection.mask(scores: s, current: nil, fraction: 0)), [])
        XCTAssertEqual(zeros(try MaskSelection.mask(scores: s, current: nil, fraction: 1)).count, 10)
        XCTAssertEqual(try MaskSelection.pruneCount(fraction: 0.7, of: 288_000), 201_600)
    }

    func testAlreadyPrunedWeightsCountAndStayPrunedWhateverTheirScore() throws {
        let s = Tensor(shape: [6], values: [0, 1, 2, 3, 100, 200])
        let current = Tensor(shape: [6], values: [1, 1, 1, 1, 0, 0])
        // 50% = 3 weights: the two masked ones, then the lowest score.
        XCTAssertEqual(zeros(try MaskSelection.mask(scores: s, current: current, fraction: 0.5)), [0, 4, 5])
        // Asking for less than is pruned never revives a weight.
        XCTAssertEqual(zeros(try MaskSelection.mask(scores: s, current: current, fraction: 0.1)), [4, 5])
    }

    func testTiesBreakByIndex() throws {
        let s = Tensor(shape: [6], values: [1, 0, 1, 0, 1, 0])
        XCTAssertEqual(zeros(try MaskSelection.mask(scores: s, current: nil, fraction: 0.5)), [1, 3, 5])
        XCTAssertEqual(zeros(try MaskSelection.mask(scores: s, current: nil, fraction: 4.0 / 6)), [0, 1, 3, 5])
        let negativeZero = Tensor(shape: [2], values: [0, -0.0])
        XCTAssertEqual(zeros(try MaskSelection.mask(scores: negativeZero, current: nil, fraction: 0.5)), [0])
    }

    func testBadFractionsAndScoresAreErrors() throws {
        let s = Tensor(shape: [4], values: [1, 2, 3, 4])
        for p in [-0.1, 1.01, .nan, .infinity] {
            XCTAssertThrowsError(try MaskSelection.mask(scores: s, current: nil, fraction: p)) {
                XCTAssertTrue("\($0)".contains("between 0 and 1"), "\($0)")
            }
        }
        XCTAssertThrowsError(try MaskSelection.mask(scores: Tensor(shape: [2], values: [1, .nan]), current: nil, fraction: 0.5)) {
            XCTAssertTrue("\($0)".contains("NaN"), "\($0)")
        }
        XCTAssertThrowsError(try MaskSelection.mask(scores: s, current: Tensor(shape: [3], repeating: 1), fraction: 0.5))
    }

    func testGlobalRankingHitsTheTotalFraction() throws {
        let a = Tensor(shape: [4], values: [1, 2, 3, 6]), b = Tensor(shape: [6], values: [1, 10, 20, 30, 40, 49])
        // Raw scores: 4 of 10, the tie at 1 goes to the earlier layer.
        let masks = try MaskSelection.globalMasks(scores: [a, b], current: [nil, nil], fraction: 0.4, normalization: .none)
        XCTAssertEqual(zeros(masks[0]), [0, 1, 2])
        XCTAssertEqual(zeros(masks[1]), [0])
        // Mean normalisation: a / 3 = [0.33, 0.67, 1, 2]; b / 25 = [0.04, 0.4, 0.8, 1.2, 1.6, 1.96].
        let normalised = try MaskSelection.globalMasks(scores: [a, b], current: [nil, nil], fraction: 0.4, normalization: .mean)
        XCTAssertEqual(zeros(normalised[0]), [0, 1])
        XCTAssertEqual(zeros(normalised[1]), [0, 1])
        // Already-pruned weights count toward the total and stay pruned.
        let current = Tensor(shape: [6], values: [1, 1, 1, 1, 0, 0])
        let withMask = try MaskSelection.globalMasks(scores: [a, b], current: [nil, current], fraction: 0.3, normalization: .none)
        XCTAssertEqual(zeros(withMask[0]), [0])
        XCTAssertEqual(zeros(withMask[1]), [4, 5])
    }

    func testNormalisersAreTheLayerStatistics() {
        XCTAssertEqual(MaskSelection.normaliser([1, -3], .mean), 0.5)
        XCTAssertEqual(MaskSelection.normaliser([3, 4], .l2), 0.2)
        XCTAssertEqual(MaskSelection.normaliser([3, 4], .none), 1)
        XCTAssertEqual(MaskSelection.normaliser([0, 0], .mean), 1)
    }
}
