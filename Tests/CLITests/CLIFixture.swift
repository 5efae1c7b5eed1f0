import Engine
import Foundation
import XCTest

/// A temporary working folder with tiny data and a tiny model, and a way to run the built
/// `workbench` binary in it.
///
/// Data: 8x8 images; class k (of 4 used, 10 possible) lights up row k·2 of the image, plus
/// seeded noise, so a small net learns it in a few epochs. Model `tiny`:
///   1 nn.View(64)  2 nn.Linear(64 -> 16)  3 nn.Tanh  4 nn.Linear(16 -> 10)
/// with 64·16 + 16·10 = 1,184 weights.
final class CLIFixture {
    let folder: String
    static let weightsLayer2 = 64 * 16
    static let weightsLayer4 = 16 * 10
    static let totalWeights = weightsLayer2 + weightsLayer4
    /// Test error (%) of the shipped tiny model.
    private(set) var trainedError = 100.0

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("wb-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder + "/inp", withIntermediateDirectories: true)
        try writeData(folder + "/data", train: 256, test: 64)
        GlobalRandom.seed(7)
        let model = Sequential([try View(64), Linear(64, 16), Tanh(), Linear(16, 10)])
        // Trained a little, so that test errors mean something (pruning makes them grow).
        let data = try Datasets.load(path: folder + "/data")
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.1, momentum: 0.9), batchSize: 32, seed: 1)
        for _ in 0..<5 { try trainer.trainEpoch(data.train) }
        trainedError = try evaluate(model, on: data.test).errorPercent
        try ModelFile.save(model, to: folder + "/inp/tiny.safetensors")
        try "2,4\n0.5,0.25\n".write(toFile: folder + "/inp/tiny.conf", atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    func path(_ p: String) -> String { folder + "/" + p }

    func exists(_ p: String) -> Bool { FileManager.default.fileExists(atPath: path(p)) }

    func read(_ p: String) -> String { (try? String(contentsOfFile: path(p), encoding: .utf8)) ?? "" }

    func write(_ text: String, to p: String) throws { try text.write(toFile: path(p), atomically: true, encoding: .utf8) }

    /// Files of a folder, sorted (empty when it does not exist).
    func files(in p: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path(p))) ?? []).sorted() }

    private func writeData(_ dir: String, train: Int, test: Int) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var rng = RandomGenerator(seed: 3)
        func images(_ n: Int) -> ([UInt8], [UInt8]) {
            var px = [UInt8](), lb = [UInt8]()
            for _ in 0..<n {
                let k = Int(rng.next() % 4)
                for r in 0..<8 {
                    for _ in 0..<8 {
                        let noise = UInt8(rng.next() % 40)
                        px.append(r == 2 * k ? 200 + noise / 2 : noise)
                    }
                }
                lb.append(UInt8(k))
            }
            return (px, lb)
        }
        func be(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        for (name, n) in [("train", train), ("t10k", test)] {
            let (px, lb) = images(n)
            try Data(be(0x803) + be(n) + be(8) + be(8) + px).write(to: URL(fileURLWithPath: "\(dir)/\(name)-images-idx3-ubyte"))
            try Data(be(0x801) + be(n) + lb).write(to: URL(fileURLWithPath: "\(dir)/\(name)-labels-idx1-ubyte"))
        }
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        var output: String { stdout + stderr }
    }

    /// The options every flow run needs to use this folder's data and model.
    var flowOptions: [String] {
        ["-model", "tiny", "-data", path("data"), "-inp", path("inp"), "-out", path("out"), "-logDir", path("logs"),
         "-batchsize", "32", "-threads", "1"]
    }

    /// Runs the workbench binary with `arguments` in this folder; with `interruptAfter`, sends
    /// SIGINT (Ctrl-C) that many seconds after the start.
    func run(_ arguments: [String], interruptAfter: Double? = nil) throws -> Result {
        try Self.run(arguments, in: folder, interruptAfter: interruptAfter)
    }

    /// Runs the workbench binary (or `executable`) with `arguments` in `folder` (see `run(_:interruptAfter:)`).
    static func run(_ arguments: [String], in folder: String, interruptAfter: Double? = nil, executable: String? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try executable ?? binary())
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: folder)
        var env = ProcessInfo.processInfo.environment
        env["WORKBENCH_SCRIPTS"] = repositoryRoot + "/scripts"
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Threads of their own, not the global dispatch queue: its few threads (2 on a 2-core
        // machine) can all be blocked reading pipes when runs overlap, and the interrupt would
        // then never be sent.
        if let delay = interruptAfter {
            Thread {
                Thread.sleep(forTimeInterval: delay)
                p.interrupt()
            }.start()
        }
        // Read both pipes while the process runs so that neither fills up.
        var outData = Data(), errData = Data()
        let outDone = DispatchSemaphore(value: 0)
        Thread { outData = out.fileHandleForReading.readDataToEndOfFile(); outDone.signal() }.start()
        errData = err.fileHandleForReading.readDataToEndOfFile()
        outDone.wait()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The `workbench` executable beside the test bundle (built by `swift test`).
    /// Runs `prefix + args` for each case and checks that it is refused (a non-zero status)
    /// with `expected` in its error output and no crash.
    func assertRefused(_ cases: [([String], String)], prefix: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        for (args, expected) in cases {
            let r = try run(prefix + args)
            XCTAssertNotEqual(r.status, 0, "\(args)", file: file, line: line)
            XCTAssertTrue(r.stderr.contains(expected), "\(args): expected \(expected) in\n\(r.stderr)", file: file, line: line)
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
        }
    }

    static func binary() throws -> String {
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("workbench").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        for b in Bundle.allBundles {
            let candidate = b.bundleURL.deletingLastPathComponent().appendingPathComponent("workbench").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw CLIFixtureError("the workbench binary was not found beside the test bundle \(Bundle.main.bundleURL.path)")
    }
}

struct CLIFixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
