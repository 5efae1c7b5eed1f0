import Foundation

/// The engine's thread count. All parallelism is the engine's own: work is split into
/// contiguous chunks, one per thread, each calling single-threaded OpenBLAS. Results do not
/// depend on scheduling: chunks write disjoint outputs, and partial sums are reduced in a
/// fixed order, so the same thread count gives the same bits.
public enum Parallel {
    nonisolated(unsafe) public private(set) static var threads: Int = 1

    nonisolated(unsafe) private static var pool: WorkerPool?

    /// The most threads the engine runs (more than the cores only slows it down); callers
    /// that take a count from users check it against this range.
    public static let maxThreads = 256

    /// Sets the engine's thread count, clamped to 1...`maxThreads`; OpenBLAS itself always
    /// runs one thread per call.
    public static func setThreads(_ n: Int) {
        threads = Swift.min(Swift.max(1, n), maxThreads)
        BLAS.setThreads(1)
        if threads > 1 && (pool == nil || poolWorkers < threads - 1) {
            pool = WorkerPool(workers: threads - 1)
            poolWorkers = threads - 1
        }
    }
    nonisolated(unsafe) private static var poolWorkers = 0

    /// The worker pool's counts so far: parallel regions that stalled on a preempted worker,
    /// and regions run on the calling thread alone after a stall (WorkerPool's back-off).
    public static var poolCounts: (stalls: Int, regionsAlone: Int) { (pool?.stalls ?? 0, pool?.regionsAlone ?? 0) }

    /// Runs `body` over `0..<count` split into at most `threads` contiguous chunks.
    /// Falls back to one chunk when the work is small (`count * costPerItem` below ~32k).
    @inline(__always)
    public static func forChunks(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        forChunksIndexed(count, costPerItem: costPerItem) { _, r in body(r) }
    }

    /// Like `forChunks`, also passing the chunk's index (0..<chunkCount(count)) so that the
    /// body can use per-chunk workspaces.
    @inline(__always)
    public static func forChunksIndexed(_ count: Int, costPerItem: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        let chunks = chunkCount(count, costPerItem: costPerItem)
        if chunks <= 1 {
            body(0, 0..<count)
            return
        }
        guard let pool else {
            DispatchQueue.concurrentPerform(iterations: chunks) { c in body(c, chunkRange(c, of: chunks, count)) }
            return
        }
        pool.run(chunks) { c in body(c, chunkRange(c, of: chunks, count)) }
    }

    /// How many chunks `forChunksIndexed` uses for this much work.
    @inline(__always)
    public static func chunkCount(_ count: Int, costPerItem: Int = 1) -> Int {
        if threads <= 1 || count < 2 || count * costPerItem < 32_768 { return 1 }
        return Swift.min(threads, count)
    }

    @inline(__always)
    public static func chunkRange(_ c: Int, of chunks: Int, _ count: Int) -> Range<Int> {
        (count * c / chunks)..<(count * (c + 1) / chunks)
    }
}

extension BLAS {
    /// `gemm` with the rows of C split across the engine's threads (each element of C is
    /// computed by one thread, so the result does not depend on the thread count).
    /// With `rowsStartAt`, each thread first sets its rows of C to that row of n values (a
    /// bias), and the product is added to them (C = αAB + 1·C).
    public static func parallelGemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil,
        rowsStartAt row: UnsafePointer<Float>? = nil
    ) {
        let la = lda ?? (transA ? m : k), lc = ldc ?? n
        let beta = row == nil ? beta : 1
        Parallel.forChunks(m, costPerItem: n * k / 4 + 1) { r in
            if let row { for i in r { (c + i * lc).update(from: row, count: n) } }
            let aStart = transA ? a + r.lowerBound : a + r.lowerBound * la
            gemm(transA: transA, transB: transB, m: r.count, n: n, k: k, alpha: alpha,
                 a: aStart, lda: la, b: b, ldb: ldb, beta: beta, c: c + r.lowerBound * lc, ldc: lc)
        }
    }
}
