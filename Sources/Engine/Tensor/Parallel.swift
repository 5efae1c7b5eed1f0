import Foundation

/// The engine's thread count for its own loops and for OpenBLAS. Results do not depend on
/// how work is split: parallel loops only write disjoint outputs, and reductions run in a
/// fixed order.
public enum Parallel {
    nonisolated(unsafe) public private(set) static var threads: Int = 1

    /// Sets the thread count used by the engine's loops and by OpenBLAS.
    public static func setThreads(_ n: Int) {
        threads = Swift.max(1, n)
        BLAS.setThreads(threads)
    }

    /// Runs `body` over `0..<count` split into at most `threads` contiguous chunks.
    /// Falls back to one chunk when the work is small (`count * costPerItem` below ~32k).
    @inline(__always)
    public static func forChunks(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        let t = threads
        if t <= 1 || count < 2 || count * costPerItem < 32_768 {
            body(0..<count)
            return
        }
        let chunks = Swift.min(t, count)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            body(lo..<hi)
        }
    }
}
