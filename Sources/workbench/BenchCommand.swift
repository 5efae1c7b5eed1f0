import ArgumentParser
import Bridge
import Engine
import Foundation

/// `workbench bench`: training and inference speed and peak memory of the engine on the
/// reference LeNet-5, the classic LeNet-5 and LeNet-300-100, on 1 and 2 threads, beside
/// PyTorch's figures on the same machine (../shared/bench). Each measurement runs in its own
/// process so that peak memory and thread settings are its own.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training/inference speed and peak memory (build with -c release).",
        discussion: """
        Protocol (as ../shared/bench/torch_lenet.py): batch 128, SGD lr 0.01 momentum 0.9, warm-up steps, \
        one timed 60k-image epoch; 10k-image inference at batch 1000, best of 3. Training GFLOP/s count \
        3x the forward FLOPs. Data: Fashion-MNIST when installed, else synthetic images.

        Examples:
          workbench bench
          workbench bench --json
          workbench bench --nets lenet5 --threads 2
          workbench bench --pruners          emp and taylor2 timings on inp/lenet5.safetensors (issue targets)
          workbench bench --sparse --model out/lenet5.safetensors --compressed out/lenet5.wbz
                                             sparse against dense kernels, and the pruned model dense vs sparse
          workbench bench --structured       thinned LeNet-5s against the original, in the workbench and ONNX Runtime
          workbench bench --large            conv4, conv48-2, ResNet-20, WRN-16-4, DenseNet-BC-40: a training step and inference (docs/speed.md)
          workbench bench --large --torch --python /path/to/venv/bin/python   PyTorch's figures for the same nets in the same run
          workbench bench --nets conv48-2 --threads 2 --busy   the same with one core kept busy by another process
        """
    )

    @Flag(help: "Print JSON instead of a table.")
    var json = false
    @Option(parsing: .upToNextOption, help: "Nets to measure (lenet5, lenet5-classic, lenet300-100).")
    var nets: [String] = ModelZoo.names
    @Option(parsing: .upToNextOption, help: "Thread counts, each in \(Limits.threads.lowerBound)...\(Limits.threads.upperBound).")
    var threads: [Int] = [1, 2]
    @Option(parsing: .unconditional, help: "Images in the timed training epoch, \(Limits.benchImages.lowerBound)...\(Limits.benchImages.upperBound).")
    var epochImages: Int = 60_000
    @Option(help: .hidden)
    var one: String?
    @Flag(help: "Time the expensive pruners instead: emp on layer 8 and on every layer (1,000 scoring images), and the taylor2 Hessian of the whole net over 10,000 images against one training pass over them.")
    var pruners = false
    @Flag(help: "Time the matrix products of the fully connected layers' and three convolutions' training steps, one thread: the engine's SmallGEMM against OpenBLAS, in GFLOP/s, and which one the routing picks.")
    var gemm = false
    @Option(help: "Model for --pruners (default inp/lenet5.safetensors) and --sparse (default out/lenet5.safetensors).")
    var model: String?
    @Flag(help: "Time the sparse kernels against the dense ones (Linear(2400, 120) and LeNet-5's two convolutions at 50/70/90/95/98% sparsity, batch 1 and 1000), then the pruned --model over the 10k test images (batch 250, as -test) dense and as the rule chooses, and the loading of --compressed.")
    var sparse = false
    @Flag(help: "Time one training epoch of sparse-train's mnist_mlp at --sparsity (default 98%) (Fashion-MNIST, 60k images, batch 100) dense-with-mask against the sparse training kernels, on each --threads count: wall and CPU seconds, the ratio and both losses.")
    var sparseTraining = false
    @Option(help: "Epochs of each path for --sparse-training (alternated), 1...20.")
    var runs: Int = 3
    @Option(help: "Sparsity of the masks for --sparse-training, in [0.5, 1) (with WORKBENCH_SPARSE_TRAINING=sparse above the rule's threshold).")
    var sparsity: Double = 0.98
    @Option(help: "Compressed model file whose loading --sparse times (e.g. out/lenet5.wbz).")
    var compressed: String?
    @Flag(help: "Time structured pruning's thinned models (--model, default inp/lenet5.safetensors, with 50% and 75% of conv2's filters or of fc1's neurons removed by their L1 norm) against the original over the 10k test images on each --threads count, beside ONNX Runtime's time for the same exported files (with --python); and the ONNX export time.")
    var structured = false
    @Option(help: "Python with onnxruntime for --structured (skipped when absent), with torch for --torch.")
    var python: String = ".venv/bin/python"
    @Option(help: "Folder where --structured writes the thinned models and their ONNX files (default: a temporary folder, removed).")
    var exportFolder: String?
    @Flag(help: "Time the nets beyond LeNet instead (\(BenchCommand.largeNets.map(\.name).joined(separator: ", ")), from scripts/models/): one training step and one inference pass of a random --batch, beside PyTorch's anchor figures. The same nets can be named with --nets.")
    var large = false
    @Option(help: "Batch of the --large nets, 1...1024.")
    var batch: Int = 128
    @Option(help: "Timed steps of the --large nets (after one warm-up), 1...100.")
    var steps: Int = 5
    @Flag(help: "With --large or large --nets: measure PyTorch's equivalent of each net in the same run (scripts/bench/torch-large-nets.py, run by --python), right after the workbench's, and give the ratios and both peaks of memory.")
    var torch = false
    @Flag(help: "Keep one core busy with a spinning process while measuring (started and stopped by the benchmark), as on a shared machine.")
    var busy = false
    @Flag(help: .hidden)
    var spin = false

    /// `--threads 1 -2` as `--threads=1 --threads=-2`: the numbers after `--threads`, negative
    /// ones included (which the parser would take for flags), so that they reach validate().
    static func joiningThreadCounts(_ args: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < args.count {
            if args[i] == "--threads" {
                var j = i + 1
                while j < args.count, args[j].range(of: #"^[+-]?([0-9.]|inf|nan)"#, options: [.regularExpression, .caseInsensitive]) != nil {
                    out.append("--threads=" + args[j])
                    j += 1
                }
                if j == i + 1 { out.append(args[i]) }
                i = j
            } else {
                out.append(args[i])
                i += 1
            }
        }
        return out
    }

    func validate() throws {
        for t in threads where !Limits.threads.contains(t) {
            throw ValidationError("--threads must be in \(Limits.threads.lowerBound)...\(Limits.threads.upperBound), got \(t)")
        }
        if !(1...1024).contains(batch) { throw ValidationError("--batch must be in 1...1024, got \(batch)") }
        if !(1...100).contains(steps) { throw ValidationError("--steps must be in 1...100, got \(steps)") }
        if torch && !large && !nets.contains(where: { Self.largeNet($0) != nil }) {
            throw ValidationError("--torch measures the larger nets: add --large or name them with --nets (\(Self.largeNets.map(\.name).joined(separator: ", ")))")
        }
        if !Limits.benchImages.contains(epochImages) {
            throw ValidationError("--epoch-images must be in \(Limits.benchImages.lowerBound)...\(Limits.benchImages.upperBound), got \(epochImages)")
        }
    }

    func run() throws {
        if spin { BusyCore.spinForever() }
        if let net = one {
            // Child process: one measurement, as JSON on stdout.
            if let large = Self.largeNet(net) { return print(try Self.jsonText(try measureLarge(large, threads: threads.first ?? 1))) }
            return print(try Self.jsonText(try measure(net: net, threads: threads.first ?? 1)))
        }
        let busyCore = busy ? try BusyCore() : nil
        defer { busyCore?.stop() }
        if busy && !json { FileHandle.standardError.write("one core kept busy by a spinning process (bench --busy)\n".data(using: .utf8)!) }
        try runMeasurements()
        if busy && !json { print("(measured with one core kept busy by a spinning process)") }
    }

    private func runMeasurements() throws {
        if pruners { return try runPruners() }
        if gemm { return runGEMM() }
        if sparse { return try runSparse() }
        if sparseTraining { return try runSparseTraining() }
        if structured { return try runStructured() }
        if large { return try runLarge(Self.largeNets.filter { Self.modelFile($0) != nil }) }
        let known = ModelZoo.names + Self.largeNets.map(\.name)
        for n in nets where !known.contains(n) {
            throw ValidationError("unknown net '\(n)'; known: \(known.joined(separator: ", "))")
        }
        let largeNames = nets.compactMap(Self.largeNet)
        if !largeNames.isEmpty {
            try runLarge(largeNames)
            if largeNames.count == nets.count { return }
            print("")
        }
        var results: [BenchResult] = []
        for net in nets where Self.largeNet(net) == nil {
            for t in threads {
                if !json { FileHandle.standardError.write("measuring \(net) on \(t) thread(s)...\n".data(using: .utf8)!) }
                results.append(try runChild(net: net, threads: t))
            }
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(data: try enc.encode(results), encoding: .utf8)!)
        } else {
            print(table(results))
        }
    }

    private func runSparse() throws {
        try runReportingErrors {
            Parallel.setThreads(threads.last ?? 2)
            let modelPath = self.model ?? "out/lenet5.safetensors"
            if !json { FileHandle.standardError.write("timing the sparse kernels on \(Parallel.threads) thread(s)...\n".data(using: .utf8)!) }
            let kernels = try SparseBenchmark.kernels()
            let test = try Datasets.load("fashion-mnist").test
            if !json { FileHandle.standardError.write("timing \(modelPath) over \(test.count) test images...\n".data(using: .utf8)!) }
            let whole = try SparseBenchmark.model(modelPath, compressed: compressed, test: test)
            if json {
                struct Out: Codable { var threads: Int; var kernels: [SparseBenchmark.KernelRow]; var model: SparseBenchmark.ModelRow }
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(data: try enc.encode(Out(threads: Parallel.threads, kernels: kernels, model: whole)), encoding: .utf8)!)
                return
            }
            print("| layer (evaluation) | sparsity | batch | dense ms | sparse ms (rows per pass) | speed-up | sparse ms (weights frozen) | speed-up | max rel. difference | rule picks (per pass / frozen) |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
            for r in kernels {
                print(String(format: "| %@ | %.0f%% | %d | %.3f | %.3f | %.2fx | %.3f | %.2fx | %.1e | %@ / %@ |", r.layer as NSString, 100 * r.sparsity, r.batch,
                             r.denseMilliseconds, r.sparseMilliseconds, r.speedup, r.frozenMilliseconds, r.frozenSpeedup, r.relativeDifference,
                             r.chosen as NSString, r.chosenFrozen as NSString))
            }
            print("(weights frozen: inside SparseChoice.withFrozenWeights, as every evaluation loop runs, the sparse rows are built at the first pass only)")
            print("")
            print(String(format: "%@, %d test images at batch %d as -test runs them (best of 3): dense %.3f s (error %.2f), as the rule chooses %.3f s (error %.2f): %.2fx",
                         whole.model as NSString, whole.images, SparseBenchmark.modelBatch, whole.denseSeconds, whole.denseError, whole.chosenSeconds, whole.chosenError, whole.speedup))
            if let c = whole.compressedFile, let ms = whole.loadMilliseconds {
                print(String(format: "loading %@ (best of 20): %.2f ms", c as NSString, ms))
            }
        }
    }

    private func runStructured() throws {
        try runReportingErrors {
            let modelPath = self.model ?? "inp/lenet5.safetensors"
            let test = try Datasets.load("fashion-mnist").test
            let folder = exportFolder ?? FileManager.default.temporaryDirectory.appendingPathComponent("wb-structured-\(getpid())").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { if exportFolder == nil { try? FileManager.default.removeItem(atPath: folder) } }
            let r = try StructuredBenchmark.run(path: modelPath, test: test, threads: threads, exportFolder: folder) { line in
                FileHandle.standardError.write((line + "\n").data(using: .utf8)!)
            }
            let onnx = try onnxRuntimeTimes(folder: folder, test: test)
            guard let base = r.variants.first else { return }
            print("| model | parameters | MFLOPs/image | FLOPs ratio | test error % | " + threads.map { "workbench s (\($0) thr) | speed-up | CPU s" }.joined(separator: " | ")
                  + " | " + threads.map { "ORT s (\($0) thr) | CPU s" }.joined(separator: " | ") + " | ORT error % |")
            print("|---|---:|---:|---:|---:|" + String(repeating: "---:|---:|---:|", count: threads.count) + String(repeating: "---:|---:|", count: threads.count) + "---:|")
            for v in r.variants {
                var row = "| \(v.name) | \(v.parameters) | " + String(format: "%.2f | %.2fx | %.2f", v.flops / 1e6, base.flops / v.flops, v.testError)
                for t in threads {
                    row += String(format: " | %.3f | %.2fx | %.3f", v.seconds[t] ?? .nan, (base.seconds[t] ?? .nan) / (v.seconds[t] ?? .nan), v.cpuSeconds[t] ?? .nan)
                }
                let o = onnx?[v.name]
                for t in threads {
                    row += o?.seconds[String(t)].map { String(format: " | %.3f", $0) } ?? " | -"
                    row += o?.cpuSeconds[String(t)].map { String(format: " | %.3f", $0) } ?? " | -"
                }
                row += o.map { String(format: " | %.2f |", $0.error) } ?? " | - |"
                print(row)
            }
            print(String(format: "\n%@ over %d test images at batch %d as -test runs them (forward passes only), best of 3; ONNX export of the original: %.1f ms (best of 10)",
                         modelPath as NSString, r.images, StructuredBenchmark.batch, r.exportMilliseconds))
            if onnx == nil { print("(ONNX Runtime not timed: \(python) with onnxruntime not found; run scripts/setup/install.sh)") }
        }
    }

    /// ONNX Runtime's times from scripts/bench/structured-onnx.py over the exported files, or
    /// nil without a Python that has onnxruntime.
    private func onnxRuntimeTimes(folder: String, test: Dataset) throws -> [String: OnnxRuntimeRow]? {
        guard FileManager.default.isExecutableFile(atPath: python), let scripts = LuaRuntime.locateScriptsDirectory() else { return nil }
        let x = Tensor(), labels = Tensor()
        test.fillBatch(0..<test.count, inputs: x, targets: labels)
        let data = folder + "/test.safetensors"
        try AtomicFile.write(try SafetensorsFile.encode([("input", x), ("labels", labels)], metadata: [:]), to: data)
        FileHandle.standardError.write("timing the ONNX files in ONNX Runtime...\n".data(using: .utf8)!)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [scripts + "/bench/structured-onnx.py", folder, data, "--batch=\(StructuredBenchmark.batch)"] + threads.map(String.init)
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return try JSONDecoder().decode([String: OnnxRuntimeRow].self, from: out)
    }

    struct OnnxRuntimeRow: Codable { var seconds: [String: Double]; var cpuSeconds: [String: Double]; var error: Double }

    private func runSparseTraining() throws {
        guard (1...20).contains(runs) else { throw ValidationError("--runs must be in 1...20, got \(runs)") }
        guard sparsity >= 0.5 && sparsity < 1 else { throw ValidationError("--sparsity must be in [0.5, 1), got \(sparsity)") }
        try runReportingErrors {
            let train = try Datasets.load("fashion-mnist").train
            var results: [SparseTrainingBenchmark.Result] = []
            for t in threads {
                if !json { FileHandle.standardError.write("training mnist_mlp at \(100 * sparsity)% sparsity on \(t) thread(s), \(runs) epoch(s) per path...\n".data(using: .utf8)!) }
                results.append(try SparseTrainingBenchmark.run(train: train, threads: t, sparsity: sparsity, runs: runs) { line in
                    if !json { FileHandle.standardError.write((line + "\n").data(using: .utf8)!) }
                })
            }
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(data: try enc.encode(results), encoding: .utf8)!)
                return
            }
            print("| threads | sparsity | images | dense s/epoch (wall) | sparse s/epoch (wall) | ratio | dense CPU s | sparse CPU s | CPU ratio | dense loss | sparse loss | max rel. weight difference | control: dense at lr·(1+2⁻²⁰) loss | its weight difference |")
            print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for r in results {
                let dl = r.runs.first { !$0.sparse }?.meanLoss ?? .nan, sl = r.runs.first { $0.sparse }?.meanLoss ?? .nan
                print(String(format: "| %d | %.0f%% | %d | %.3f | %.3f | %.2fx | %.3f | %.3f | %.2fx | %.6f | %.6f | %.1e | %.6f | %.1e |", r.threads, 100 * r.sparsity, r.images,
                             r.denseWall, r.sparseWall, r.wallRatio, r.denseCPU, r.sparseCPU, r.cpuRatio, Double(dl), Double(sl), r.weightDifference,
                             Double(r.roundingControlLoss), r.roundingControl))
            }
            print("(best of \(runs) per path; losses: the epoch's mean training loss of the first run of each path; weight differences: max |a - b| / max(1, |a|) "
                  + "after the first epoch, dense against sparse, and the control: dense against dense with every update off by a relative 2⁻²⁰ ≈ 1e-6, "
                  + "a float sum's typical rounding: how far 600 steps carry a rounding-size difference; docs/sparse.md)")
        }
    }

    private func runGEMM() {
        BLAS.setThreads(1)
        let results = GEMMBenchmark.run()
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(data: try! enc.encode(results), encoding: .utf8)!)
            return
        }
        print("CPU: \(BLAS.coreName) (OpenBLAS core); SmallGEMM's \(GEMMBenchmark.kernelShapes) shapes; "
              + "one thread; GFLOP/s, best of 5")
        print("product".padding(toLength: 32, withPad: " ", startingAt: 0) + "     m     n     k  op      SmallGEMM  OpenBLAS  routed to")
        for r in results {
            let s = r.shape
            let op = (s.transA ? "Aᵀ" : "A") + (s.transB ? "·Bᵀ" : "·B")
            print(s.name.padding(toLength: 32, withPad: " ", startingAt: 0) + String(format: " %5d %5d %5d  %@ %9.1f %9.1f  %@", s.m, s.n, s.k,
                         op.padding(toLength: 6, withPad: " ", startingAt: 0) as NSString,
                         r.smallGFLOPS, r.openBLASGFLOPS, (r.routedToSmallGEMM ? "SmallGEMM" : "OpenBLAS") as NSString))
        }
    }

    private func runPruners() throws {
        let modelPath = self.model ?? "inp/lenet5.safetensors"
        let model = try ModelFile.load(modelPath)
        let train = try Datasets.load("fashion-mnist").train
        let t = threads.last ?? 2
        if !json { FileHandle.standardError.write("timing emp and taylor2 on \(modelPath), \(t) thread(s)...\n".data(using: .utf8)!) }
        let r = try PrunerBenchmark.run(model: model, train: train, threads: t)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(data: try enc.encode(r), encoding: .utf8)!)
            return
        }
        print("| work | measured | target |")
        print("|---|---:|---:|")
        print(String(format: "| emp, all %d weights of layer %d, %d scoring images | %.1f s | <= 60 s |",
                     r.empLayerWeights, r.empLayer, r.empScoringImages, r.empLayerSeconds))
        print(String(format: "| emp, all %d weights of the net, %d scoring images | %.1f s | <= 180 s |",
                     r.empWholeNetWeights, r.empScoringImages, r.empWholeNetSeconds))
        print(String(format: "| taylor2 Hessian diagonal, whole net, %d images | %.2f s = %.2fx one training pass (%.2f s) | <= 3x |",
                     r.hessianScoringImages, r.hessianSeconds, r.hessianOverTrainingPass, r.trainingPassSeconds))
        print("\nthreads: \(r.threads); OpenBLAS kernels: \(r.blasCore)")
    }

    private func measure(net: String, threads: Int) throws -> BenchResult {
        let data: DatasetSplits
        if let d = try? Datasets.load("fashion-mnist") {
            data = d
        } else {
            data = DatasetSplits(train: Benchmark.syntheticData(count: 60_000), test: Benchmark.syntheticData(count: 10_000, seed: 1))
        }
        return try Benchmark.run(net: net, threads: threads, train: data.train, test: data.test, epochImages: epochImages)
    }

    private func runChild(net: String, threads: Int) throws -> BenchResult {
        let out = try runChildProcess(["--one", net, "--threads", "\(threads)", "--epoch-images", "\(epochImages)"])
        guard let r = try? JSONDecoder().decode(BenchResult.self, from: out) else {
            throw CLIError("benchmark of \(net) on \(threads) thread(s) printed no result")
        }
        return r
    }

    /// PyTorch 2.15 CPU on the anchor machine, a Zen 5 (../shared/bench/results.md): s/epoch, 10k inference s.
    /// Run ../shared/bench/torch_lenet.py for the figures of the machine at hand.
    static let pytorch: [String: [Int: (String, String)]] = [
        "lenet5": [2: ("8.55", "0.59-1.10"), 1: ("15.0", "1.2-1.9")],
        "lenet5-classic": [2: ("3.4", "0.25-0.39"), 1: ("5.3", "0.47-0.69")],
        "lenet300-100": [2: ("0.60", "0.033"), 1: ("0.98", "0.064")],
    ]

    private func table(_ rs: [BenchResult]) -> String {
        var s = "| net | threads | s/epoch (60k) | PyTorch s/epoch (Zen 5 anchor) | 10k inference s | PyTorch inference s (anchor) | train GFLOP/s | infer GFLOP/s | peak RSS MB training / with inference |\n"
        s += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for r in rs {
            let pt = Self.pytorch[r.net]?[r.threads]
            s += "| \(r.net) | \(r.threads) | " + String(format: "%.2f", r.epochSeconds) + " | \(pt?.0 ?? "") | "
                + String(format: "%.3f", r.inferenceSeconds) + " | \(pt?.1 ?? "") | "
                + String(format: "%.0f | %.0f | %.0f / %.0f |\n", r.trainGFLOPS, r.inferenceGFLOPS, r.trainingPeakResidentMB, r.peakResidentMB)
        }
        if let r = rs.first { s += "\nOpenBLAS kernels: \(r.blasCore); data: \(r.data)" }
        return s
    }
}
