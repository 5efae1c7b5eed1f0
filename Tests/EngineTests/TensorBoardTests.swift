import Engine
import Foundation
import XCTest

/// The TensorBoard event files: CRC-32C against published vectors, the TFRecord framing,
/// the hand-written protobuf bytes, and the files read back by TensorBoard's own
/// `EventAccumulator` (from the project's virtual environment, `.venv`, made by
/// scripts/setup/install.sh).
final class TensorBoardTests: XCTestCase {
    func testCRC32CKnownVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        // RFC 3720 (iSCSI), appendix B.4.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }), 0x113F_DB5C)
        // The mask: rotate right 15, add 0xA282EAD8.
        XCTAssertEqual(CRC32C.masked(0), 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked(0x0000_8000), 0xA282_EAD9)
    }

    func testTFRecordFramesAndChecks() throws {
        let data = Array("hello".utf8)
        let framed = TFRecord.frame(data)
        XCTAssertEqual(framed.count, data.count + 16)
        XCTAssertEqual(Array(framed[0..<8]), [5, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(try TFRecord.records(framed + TFRecord.frame([])), [data, []])
        var broken = framed
        broken[14] ^= 1
        XCTAssertThrowsError(try TFRecord.records(broken)) { XCTAssertTrue("\($0)".contains("data CRC")) }
        XCTAssertThrowsError(try TFRecord.records(Array(framed.dropLast()))) { XCTAssertTrue("\($0)".contains("cut short")) }
    }

    func testScalarEventBytesAsDocumented() {
        let e = EventProtobuf.scalar(tag: "a", value: 1, step: 3, wallTime: 0)
        XCTAssertEqual(e, [0x09] + [UInt8](repeating: 0, count: 8) + [0x10, 0x03, 0x2A, 0x0A, 0x0A, 0x08, 0x0A, 0x01, 0x61, 0x15, 0x00, 0x00, 0x80, 0x3F])
        // A negative step is a 10-byte varint; a long tag a two-byte length.
        let negative = EventProtobuf.scalar(tag: "a", value: 0, step: -1, wallTime: 0)
        XCTAssertEqual(Array(negative[9..<21]), [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01, 0x2A])
        let long = EventProtobuf.scalar(tag: String(repeating: "t", count: 200), value: 0, step: 0, wallTime: 0)
        XCTAssertEqual(Array(long[11..<14]), [0x2A, 0xD3, 0x01])
    }

    func testFileNameAndFirstEvent() throws {
        let dir = NSTemporaryDirectory() + "tb-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try SummaryWriter(directory: dir + "/logs", clock: { 1_700_000_000.5 })
        try w.scalar("x", 2.5, step: 7)
        w.close()
        XCTAssertThrowsError(try w.scalar("x", 1, step: 8))
        let name = (w.path as NSString).lastPathComponent
        XCTAssertTrue(name.hasPrefix("events.out.tfevents.1700000000."), name)
        let records = try TFRecord.records(Array(try Data(contentsOf: URL(fileURLWithPath: w.path))))
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records[0], EventProtobuf.fileVersion(wallTime: 1_700_000_000.5))
        XCTAssertEqual(records[1], EventProtobuf.scalar(tag: "x", value: 2.5, step: 7, wallTime: 1_700_000_000.5))
    }

    /// Writes scalars and reads them back with TensorBoard's EventAccumulator: the tags, steps
    /// and values are the ones written.
    func testTensorBoardReadsTheEventFile() throws {
        let python = try TensorBoardPython.interpreter()
        let dir = NSTemporaryDirectory() + "tb-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try SummaryWriter(directory: dir)
        var written: [String: [(Int, Float)]] = [:]
        for step in 0..<5 {
            for (tag, value) in [("train/Loss_avg", 2.0 / Double(step + 1)), ("test/Acc@1_avg", 10.0 * Double(step) + 0.25), ("test/lr", 0.1 * cos(Double(step)))] {
                try w.scalar(tag, value, step: step * 100)
                written[tag, default: []].append((step * 100, Float(value)))
            }
        }
        try w.scalar("negative/step", -3.5, step: -2)
        written["negative/step"] = [(-2, -3.5)]
        w.close()
        let script = """
        import sys, json
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        acc = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0})
        acc.Reload()
        print(json.dumps({t: [[e.step, e.value] for e in acc.Scalars(t)] for t in acc.Tags()['scalars']}))
        """
        let output = try TensorBoardPython.run(python, ["-c", script, dir])
        let line = output.split(separator: "\n").last.map(String.init) ?? ""
        let read = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: [[Double]]], output)
        XCTAssertEqual(Set(read.keys), Set(written.keys))
        for (tag, events) in written {
            let got = try XCTUnwrap(read[tag])
            XCTAssertEqual(got.map { Int($0[0]) }, events.map { $0.0 }, tag)
            XCTAssertEqual(got.map { Float($0[1]) }, events.map { $0.1 }, tag)
        }
    }
}

/// The project's Python (`.venv/bin/python`, with the `tensorboard` package from PyPI).
enum TensorBoardPython {
    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The venv's interpreter. Skips only when the machine has no python3 at all; a machine
    /// with Python but no set-up fails, saying how to make the venv.
    static func interpreter() throws -> String {
        let venv = repositoryRoot + "/.venv/bin/python"
        if FileManager.default.isExecutableFile(atPath: venv) {
            _ = try run(venv, ["-c", "import tensorboard"], failure: "the venv has no tensorboard package: run scripts/setup/install.sh")
            return venv
        }
        let hasPython = ["/usr/bin/python3", "/usr/local/bin/python3"].contains { FileManager.default.isExecutableFile(atPath: $0) }
            || (try? run("/usr/bin/env", ["python3", "--version"])) != nil
        guard hasPython else { throw XCTSkip("no python3 on this machine: TensorBoard's own reader cannot be run") }
        XCTFail("python3 is here but \(venv) is missing: run scripts/setup/install.sh (it makes .venv with tensorboard)")
        throw XCTSkip("no .venv")
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], failure: String? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        var errData = Data()
        let done = DispatchSemaphore(value: 0)
        Thread { errData = err.fileHandleForReading.readDataToEndOfFile(); done.signal() }.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        done.wait()
        p.waitUntilExit()
        let text = String(decoding: outData, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw CLIRunError("\(failure ?? executable + " failed"): \(String(decoding: errData, as: UTF8.self))")
        }
        return text
    }
}

struct CLIRunError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
