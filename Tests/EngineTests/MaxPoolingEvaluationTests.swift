import XCTest
@testable import Engine

/// 2x2 max pooling in evaluation computes the values only (no indices): the same bits as in
/// training, ties and NaNs included, and a backward pass after it still routes the gradient to
/// each window's first maximum.
final class MaxPoolingEvaluationTests: XCTestCase {
    func testEvaluationGivesTheTrainingValuesAndABackwardPassStillWorks() throws {
        var rng = RandomGenerator(seed: 11)
        // output rows of 9, 2, 17, 5, 14, 4, 6, 3 and 9 from odd input rows: the 8- and 4-wide
        // steps, the overlapping last step of each, and the one-by-one rows of fewer than 4
        for shape in [[2, 3, 10, 18], [1, 4, 5], [3, 1, 33, 34], [2, 6, 10, 10], [1, 2, 28, 28], [1, 1, 8, 8],
                      [1, 1, 12, 12], [1, 1, 6, 7], [1, 2, 9, 19]] {
            let x = Tensor(shape: shape)
            x.fillUniform(-1, 1, &rng)
            // ties (a row of equal values) and NaNs in every corner of some windows
            for i in stride(from: 0, to: x.count, by: 7) { x.data[i] = 0.25 }
            for i in stride(from: 3, to: x.count, by: 29) { x.data[i] = .nan }
            let pool = SpatialMaxPooling(2, 2)
            let go = Tensor(shape: try pool.forward(x).shape)
            go.fillUniform(-1, 1, &rng)
            let training = try pool.forward(x).scalars
            let trainingGrad = try pool.backward(x, go).scalars
            pool.evaluate()
            let evaluation = try pool.forward(x).scalars
            XCTAssertEqual(evaluation.map(\.bitPattern), training.map(\.bitPattern), "\(shape)")
            XCTAssertEqual(try pool.backward(x, go).scalars, trainingGrad, "\(shape): backward after an evaluation pass")
        }
    }
}
