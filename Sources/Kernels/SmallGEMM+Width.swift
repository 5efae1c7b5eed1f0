#if canImport(Glibc)
import Glibc
#endif

/// Which register width `SmallGEMM`'s kernels are shaped for on this CPU. The kernels are
/// written with 16-lane vectors; with AVX-512 each is one register (32 of them), with AVX2
/// two (16 of them), so the blocks of the wide shapes (16 or 24 vector accumulators) would
/// spill on an AVX2 machine. There the narrow shapes run instead: 6 rows × 16 columns of 8-lane
/// accumulators (12 registers) in the outer-product form, 3 × 2 tiles in the dot-product form.
/// The tests check that, within a form, both shapes give the same bits on their products (the
/// outer form runs along k per element; the dot form keeps 16 partial sums per element
/// whatever the tile), but the narrow shapes' cost model picks the outer form for more A·Bᵀ
/// products, and whole runs do differ in the last bits between the two kinds of machine
/// (LeNet-5's main job: 8.23% instead of 8.22% after retraining); each is deterministic.
extension SmallGEMM {
    /// Whether the kernels take the wide shapes: the CPU has 512-bit vectors (AVX-512F, read
    /// from /proc/cpuinfo; false when it cannot be read). `WORKBENCH_GEMM_WIDTH=256` or `512`
    /// overrides it (for measuring); tests set it to run both shapes on one machine (never
    /// while products run on other threads).
    nonisolated(unsafe) public static var wideVectors: Bool = detectedWideVectors

    /// What /proc/cpuinfo (or `WORKBENCH_GEMM_WIDTH`) says, read once.
    public static let detectedWideVectors: Bool = {
        if let forced = getenv("WORKBENCH_GEMM_WIDTH").map({ String(cString: $0) }) {
            if forced == "512" { return true }
            if forced == "256" { return false }
        }
        return cpuFlags().contains("avx512f")
    }()

    /// Whether the CPU runs 512-bit FMAs at the full rate (two a cycle, as Zen 5 and Intel's
    /// server cores with AVX-VNNI; Zen 4 splits each into two 256-bit halves): read from
    /// /proc/cpuinfo as AVX-512F together with AVX-VNNI. The dot-product form of A·Bᵀ is then
    /// bound by its loads rather than its FMAs, and costs more per vector than on Zen 4
    /// (`prefersDotProducts`). `WORKBENCH_GEMM_WIDTH` set to anything makes it false; tests
    /// set it to check both cost models on one machine.
    nonisolated(unsafe) public static var fullRateWideVectors: Bool = detectedFullRateWideVectors

    /// What /proc/cpuinfo says of `fullRateWideVectors`, read once.
    public static let detectedFullRateWideVectors: Bool = {
        if getenv("WORKBENCH_GEMM_WIDTH") != nil { return false }
        let flags = cpuFlags()
        return flags.contains("avx512f") && flags.contains("avx_vnni")
    }()

    /// The flags of the first processor in /proc/cpuinfo (empty if unreadable).
    static func cpuFlags() -> Set<Substring> {
        guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            if text.hasPrefix("flags") {
                return Set(text.split(separator: ":", maxSplits: 1).last?.split(whereSeparator: { $0 == " " || $0 == "\n" }) ?? [])
            }
        }
        return []
    }
}
