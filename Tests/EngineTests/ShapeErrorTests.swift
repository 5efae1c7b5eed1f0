import XCTest
@testable import Engine

/// Wrong shapes and labels give errors that name the module and the numbers.
final class ShapeErrorTests: XCTestCase {
    private func message(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "no error" } catch { return "\(error)" }
    }

    func testLinearRejectsAGradientOfTheWrongSize() throws {
        let l = Linear(4, 3)
        let x = Tensor(shape: [2, 4])
        _ = try l.forward(x)
        let m = message { try l.backward(x, Tensor(shape: [2, 2])) }
        XCTAssertTrue(m.contains("nn.Linear(4 -> 3)") && m.contains("gradOutput has 4 elements") && m.contains("expected 6"), m)
    }

    func testCriterionNamesABadLabelAsAnInteger() {
        let m = message { try CrossEntropyCriterion().forward(Tensor(shape: [1, 3]), Tensor(shape: [1], values: [5])) }
        XCTAssertTrue(m.contains("target 6 at position 1 is not a class in 1..3"), m)
    }
}
