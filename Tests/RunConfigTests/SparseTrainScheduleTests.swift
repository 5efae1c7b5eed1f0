import Foundation
import RunConfig
import XCTest

/// The schedule file of `workbench sparse-train` and the YAML documents under it: the
/// shipped schedules read as the original's lists, values looked up per epoch, and every
/// error naming the file and the line.
final class SparseTrainScheduleTests: XCTestCase {
    func assertError(_ text: String, _ expected: String, line: UInt = #line) {
        XCTAssertThrowsError(try SparseTrainSchedule(text: text, path: "s.yaml"), line: line) { e in
            XCTAssertEqual("\(e)", expected, line: line)
        }
    }

    func testTheShippedSchedulesRead() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let mnist = try SparseTrainSchedule(path: root.appendingPathComponent("inp/sparse-train/mnist_schedule.yaml").path)
        XCTAssertEqual(mnist.learningRate?.map(\.epoch), [0, 25, 50, 75])
        XCTAssertEqual(mnist.learningRate?.map(\.value), [0.1, 0.02, 0.004, 0.0008])
        XCTAssertEqual(mnist.rewirePeriod?.map(\.value), [100, 200, 400, 800])
        XCTAssertEqual(mnist.temperature?.map(\.value), [1e-3, 1e-4, 1e-5, 1e-6])
        XCTAssertEqual(SparseTrainSchedule.value(mnist.learningRate!, at: 0), 0.1)
        XCTAssertEqual(SparseTrainSchedule.value(mnist.learningRate!, at: 24), 0.1)
        XCTAssertEqual(SparseTrainSchedule.value(mnist.learningRate!, at: 25), 0.02)
        XCTAssertEqual(SparseTrainSchedule.value(mnist.rewirePeriod!, at: 99), 800)
        for name in ["cpu_schedule.yaml", "cpu10_schedule.yaml"] {
            let s = try SparseTrainSchedule(path: root.appendingPathComponent("inp/sparse-train/" + name).path)
            XCTAssertEqual(s.learningRate?.first?.value, 0.1, name)
            XCTAssertEqual(s.rewirePeriod?.map(\.value), [100, 200, 400, 800], name)
        }
    }

    func testAMissingListIsNil() throws {
        let s = try SparseTrainSchedule(text: "lr_schedule:\n  - 0 : 0.5\n", path: "s.yaml")
        XCTAssertEqual(s.learningRate?.count, 1)
        XCTAssertNil(s.rewirePeriod)
        XCTAssertNil(s.temperature)
    }

    func testEveryErrorNamesTheFileAndLine() {
        assertError("", "s.yaml:1: the schedule file is empty (expected lr_schedule, rewire_period_schedule, DeepR_temperature_schedule)")
        assertError("- 0 : 1\n", "s.yaml:1: the schedule file must be a mapping of lr_schedule, rewire_period_schedule, DeepR_temperature_schedule, not a list")
        assertError("lr_schedule:\n  - 0 : 0.1\nlr_shedule:\n  - 0 : 1\n",
                    "s.yaml:3: unknown schedule 'lr_shedule' (known: lr_schedule, rewire_period_schedule, DeepR_temperature_schedule)")
        assertError("lr_schedule: 0.1\n", "s.yaml:1: lr_schedule: expected a list of `- EPOCH : VALUE` entries, not a number")
        assertError("lr_schedule:\n  - 5 : 0.1\n", "s.yaml:2: lr_schedule: the first entry must be at epoch 0, not 5")
        assertError("lr_schedule:\n  - 0 : 0.1\n  - 30 : 0.01\n  - 20 : 0.001\n",
                    "s.yaml:4: lr_schedule: epoch 20 comes after epoch 30: epochs must increase")
        assertError("lr_schedule:\n  - 0 : 0.1\n  - x : 0.01\n", "s.yaml:3: lr_schedule: the epoch must be an integer >= 0, not the text 'x'")
        assertError("lr_schedule:\n  - 0 : fast\n", "s.yaml:2: lr_schedule: the value at epoch 0 must be a number, not the text 'fast'")
        assertError("lr_schedule:\n  - 0 : 20\n", "s.yaml:2: lr_schedule: learning rate 20 at epoch 0 is out of range [0, 10]")
        assertError("rewire_period_schedule:\n  - 0 : 100\n  - 10 : 0.5\n",
                    "s.yaml:3: rewire_period_schedule: the rewire period at epoch 10 must be a whole number of iterations >= 1, not 0.5")
        assertError("DeepR_temperature_schedule:\n  - 0 : -1.0e-3\n",
                    "s.yaml:2: DeepR_temperature_schedule: the temperature at epoch 0 must be >= 0, not -0.001")
        assertError("lr_schedule:\n  - 0 : 0.1\n    5 : 0.2\n", "s.yaml:2: lr_schedule: each entry is one `- EPOCH : VALUE`, not a mapping")
        assertError("lr_schedule:\n  - 0 : 0.1\nlr_schedule:\n  - 0 : 0.2\n", "s.yaml:3: lr_schedule: given twice")
        assertError("lr_schedule:\n  - 0 : [0.1\n", "s.yaml:3: not valid YAML: did not find expected ',' or ']'")
        assertError("lr_schedule: []\n", "s.yaml:1: lr_schedule: the list is empty (start with `- 0 : VALUE`)")
    }

    func testDocumentsKeepTypesAndLines() throws {
        let doc = try XCTUnwrap(YAMLDocument.parse("a: 1\nb:\n  - 2.5\n  - 'x'\n  - true\nc: ~\n7: text\n", path: "d.yaml"))
        guard case let .mapping(entries) = doc.value else { return XCTFail("a mapping") }
        XCTAssertEqual(entries.map(\.key.line), [1, 2, 6, 7])
        XCTAssertEqual(entries[0].value.value, .int(1))
        guard case let .list(items) = entries[1].value.value else { return XCTFail("a list") }
        XCTAssertEqual(items.map(\.value), [.double(2.5), .string("x"), .bool(true)])
        XCTAssertEqual(items.map(\.line), [3, 4, 5])
        XCTAssertEqual(entries[2].value.value, .null)
        XCTAssertEqual(entries[3].key.value, .int(7))
        XCTAssertNil(try YAMLDocument.parse("", path: "e.yaml"))
        XCTAssertThrowsError(try YAMLDocument.parse("a: 1\nb: 2\na: 3\n", path: "d.yaml")) { e in
            XCTAssertEqual("\(e)", "d.yaml:3: a: given twice")
        }
    }
}
