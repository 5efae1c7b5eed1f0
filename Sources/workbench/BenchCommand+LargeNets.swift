import ArgumentParser
import Bridge
import Engine
import Foundation

/// `workbench bench --large` (or `--nets conv4 conv48-2 ...`): the nets beyond LeNet, built from
/// their Torch7 model files in scripts/models/, timed on a random batch as
/// ../shared/bench/torch_bignets.py times PyTorch (one training step without the optimiser,
/// one inference pass), each measurement in its own process.
extension BenchCommand {
    /// A larger net of the benchmark: its model file (scripts/models/<file>.lua, with
    /// arguments), the image shape it takes and PyTorch's figures where an anchor has them.
    struct LargeNet {
        let name: String
        let file: String
        let args: [String]
        let inputShape: [Int]
        /// PyTorch 2.15 on a quiet 2-core Zen 4 at 2 threads, batch 128 (issue 15's table):
        /// (training step s, inference s).
        let pytorchAnchor: (Double, Double)?
    }

    static let largeNets: [LargeNet] = [
        LargeNet(name: "conv4", file: "conv4", args: [], inputShape: [3, 64, 64], pytorchAnchor: (0.263, 0.099)),
        LargeNet(name: "conv48-2", file: "conv48-2", args: [], inputShape: [3, 48, 48], pytorchAnchor: (1.445, 0.282)),
        // As torch_bignets.py builds them: ResNet-20 with option-B (1x1 conv + BN) shortcuts,
        // WRN-16-4 with pre-activation blocks; and the FreezeOut default net, DenseNet-BC-40.
        LargeNet(name: "resnet20", file: "resnet-cifar", args: ["20", "B"], inputShape: [3, 32, 32], pytorchAnchor: nil),
        LargeNet(name: "wrn16-4", file: "wide-resnet", args: ["16", "4"], inputShape: [3, 32, 32], pytorchAnchor: nil),
        LargeNet(name: "densenet-bc-40", file: "densenet-bc", args: ["40"], inputShape: [3, 32, 32], pytorchAnchor: nil),
    ]

    static func largeNet(_ name: String) -> LargeNet? { largeNets.first { $0.name == name } }

    /// The model file of `net`, or nil when scripts/models/ has none (a net whose file is not
    /// in this checkout).
    static func modelFile(_ net: LargeNet) -> String? {
        guard let scripts = LuaRuntime.locateScriptsDirectory() else { return nil }
        let path = scripts + "/models/\(net.file).lua"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Child process: one net on one thread count, as JSON on stdout.
    func measureLarge(_ net: LargeNet, threads: Int) throws -> LargeNetResult {
        guard let file = Self.modelFile(net) else { throw CLIError("scripts/models/\(net.file).lua not found") }
        GlobalRandom.seed(0)
        guard let model = try LuaRuntime().model(file: file, args: net.args) as? Sequential else {
            throw CLIError("\(file) does not return an nn.Sequential")
        }
        return try LargeNetBenchmark.run(net: net.name, model: model, inputShape: net.inputShape, threads: threads,
                                         batchSize: batch, steps: steps)
    }

    func runLarge(_ nets: [LargeNet]) throws {
        let script = torch ? try torchScript() : nil
        var results: [LargeNetResult] = []
        var pytorch: [String: TorchLargeNetResult] = [:]
        for net in nets {
            for t in threads {
                if !json { FileHandle.standardError.write("measuring \(net.name) (batch \(batch)) on \(t) thread(s)...\n".data(using: .utf8)!) }
                let out = try runChildProcess(["--one", net.name, "--threads", "\(t)", "--batch", "\(batch)", "--steps", "\(steps)"])
                guard let r = try? JSONDecoder().decode(LargeNetResult.self, from: out) else {
                    throw CLIError("benchmark of \(net.name) on \(t) thread(s) printed no result")
                }
                results.append(r)
                if let script {
                    if !json { FileHandle.standardError.write("measuring \(net.name) in PyTorch on \(t) thread(s)...\n".data(using: .utf8)!) }
                    let p = try measureTorch(script: script, net: net.name, threads: t)
                    if p.parameters != r.parameters {
                        throw CLIError("\(net.name): PyTorch's net has \(p.parameters) parameters, the workbench's \(r.parameters); scripts/bench/torch-large-nets.py and scripts/models/\(net.file).lua disagree")
                    }
                    pytorch["\(net.name)/\(t)"] = p
                }
            }
        }
        if json {
            if script == nil { return print(try Self.jsonText(results)) }
            struct Both: Encodable { var workbench: [LargeNetResult]; var pytorch: [TorchLargeNetResult] }
            return print(try Self.jsonText(Both(workbench: results, pytorch: results.compactMap { pytorch["\($0.net)/\($0.threads)"] })))
        }
        let source = script == nil ? "Zen 4 anchor" : "this run"
        print("| net | threads | params | fwd MFLOP/img | train step s | CPU s/step | PyTorch step s (\(source)) | step ratio | inference s | PyTorch inference s | inference ratio | train GFLOP/s | peak RSS MB | PyTorch peak RSS MB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in results {
            let measured = pytorch["\(r.net)/\(r.threads)"]
            let anchor = measured.map { ($0.trainStepSeconds, $0.inferenceSeconds) }
                ?? (script == nil && r.threads == 2 && r.batchSize == 128 ? Self.largeNet(r.net)?.pytorchAnchor : nil)
            let a = anchor.map { String(format: "%.3f | %.2fx", $0.0, $0.0 / r.trainStepSeconds) } ?? " | "
            let b = anchor.map { String(format: "%.3f | %.2fx", $0.1, $0.1 / r.inferenceSeconds) } ?? " | "
            let memory = measured.map { String(format: "%.0f", $0.trainingPeakResidentMB) } ?? ""
            print(String(format: "| %@ | %d | %d | %.1f | %.3f | %.3f | %@ | %.3f | %@ | %.0f | %.0f | %@ |", r.net as NSString, r.threads, r.parameters,
                         r.forwardFLOPPerImage / 1e6, r.trainStepSeconds, r.trainStepCPUSeconds, a as NSString, r.inferenceSeconds, b as NSString,
                         r.trainGFLOPS, r.trainingPeakResidentMB, memory as NSString))
        }
        print("\nbatch \(batch), random inputs in [0, 1), mean of \(steps) steps after one warm-up; ratio = PyTorch / workbench (above 1: the workbench is faster).")
        if let p = pytorch.values.first {
            print("PyTorch \(p.torch) measured in this run by scripts/bench/torch-large-nets.py (\(python)), each net and thread count in its own process right after the workbench's.")
        } else {
            print("The PyTorch anchor is issue 15's (quiet 2-core Zen 4, 2 threads); for this machine's figures add --torch --python PATH (a Python with torch).")
        }
    }

    /// Runs this executable's `bench` with `arguments` and returns its standard output.
    func runChildProcess(_ arguments: [String]) throws -> Data {
        let p = Process()
        p.executableURL = Self.executable
        p.arguments = ["bench"] + arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw CLIError("benchmark child `bench \(arguments.joined(separator: " "))` failed (status \(p.terminationStatus))")
        }
        return out
    }

    /// This executable: the path it was started by, or the running binary's own.
    static var executable: URL {
        let started = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        if !FileManager.default.isExecutableFile(atPath: started.path), let exe = Bundle.main.executablePath {
            return URL(fileURLWithPath: exe)
        }
        return started
    }

    static func jsonText<T: Encodable>(_ value: T) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(data: try enc.encode(value), encoding: .utf8)!
    }
}
