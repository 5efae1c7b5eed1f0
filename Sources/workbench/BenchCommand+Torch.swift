import Bridge
import Foundation

/// `workbench bench --large --torch [--python PATH]`: PyTorch's figures for the same nets on
/// the same machine in the same run, from scripts/bench/torch-large-nets.py (the PyTorch
/// equivalents of scripts/models/, timed by the workbench's protocol). Each net and thread count
/// runs in a Python process of its own, right after the workbench's measurement of it, so that
/// a change in the machine's load shows in both.
extension BenchCommand {
    /// One PyTorch measurement, as torch-large-nets.py prints it.
    struct TorchLargeNetResult: Codable {
        var net: String
        var threads: Int
        var batchSize: Int
        var parameters: Int
        var forwardFLOPPerImage: Double
        var trainStepSeconds: Double
        var trainStepCPUSeconds: Double
        var inferenceSeconds: Double
        var inferenceCPUSeconds: Double
        var trainingPeakResidentMB: Double
        var torch: String
    }

    /// The script, or a clear error naming what is missing.
    func torchScript() throws -> String {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw CLIError("--torch: no Python at '\(python)'; pass --python PATH, a Python that has torch (pip install torch)")
        }
        guard let scripts = LuaRuntime.locateScriptsDirectory(),
              FileManager.default.fileExists(atPath: scripts + "/bench/torch-large-nets.py") else {
            throw CLIError("--torch: scripts/bench/torch-large-nets.py not found (run from the workbench's folder)")
        }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: python)
        check.arguments = ["-c", "import torch"]
        check.standardOutput = FileHandle.nullDevice
        check.standardError = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        guard check.terminationStatus == 0 else {
            throw CLIError("--torch: '\(python)' cannot import torch; pass --python PATH, a Python that has it (pip install torch)")
        }
        return scripts + "/bench/torch-large-nets.py"
    }

    /// PyTorch's measurement of `net` on `threads` threads, in a process of its own.
    func measureTorch(script: String, net: String, threads: Int) throws -> TorchLargeNetResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [script, net, "\(threads)", "--batch", "\(batch)", "--steps", "\(steps)"]
        // Each thread count is the process's own: no OpenMP or MKL setting inherited from ours.
        var env = ProcessInfo.processInfo.environment
        for key in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"] { env[key] = "\(threads)" }
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let r = try? JSONDecoder().decode(TorchLargeNetResult.self, from: out) else {
            throw CLIError("PyTorch's measurement of \(net) on \(threads) thread(s) failed (\(python) \(script), status \(p.terminationStatus))")
        }
        return r
    }
}
