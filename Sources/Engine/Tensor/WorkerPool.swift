import Foundation
import Synchronization

/// The engine's worker threads. A parallel region hands chunk 0 to the calling thread and
/// chunk w + 1 to worker w, then waits for all of them.
///
/// Why not `DispatchQueue.concurrentPerform`: a training step of a small net has dozens of
/// regions of ~100 µs each, and waking a sleeping thread costs tens of microseconds on a
/// virtual machine. Workers here spin for a while (~100 µs) after each region before they
/// block, so back-to-back regions start at once; idle workers still end up asleep.
///
/// A region started while another runs (nested, or from another thread) runs its chunks in
/// order on the calling thread. Chunk boundaries never depend on scheduling, so results are
/// the same either way.
final class WorkerPool: @unchecked Sendable {
    private let workers: Int
    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let sleeping: [Flag]
    private let wakeups: [DispatchSemaphore]
    /// The current region's body and chunk count (written before `generation` moves on).
    nonisolated(unsafe) private var job: ((Int) -> Void)?
    nonisolated(unsafe) private var chunks = 0

    private static let spinIterations = 200_000

    init(workers: Int) {
        self.workers = workers
        sleeping = (0..<workers).map { _ in Flag() }
        wakeups = (0..<workers).map { _ in DispatchSemaphore(value: 0) }
        for w in 0..<workers {
            let t = Thread { [unowned self] in self.workerLoop(w) }
            t.name = "workbench worker \(w + 1)"
            t.start()
        }
    }

    /// Runs `body(c)` for c in 0..<count (count ≤ workers + 1) and returns when all are done.
    func run(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 || workers == 0 || !busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            for c in 0..<count { body(c) }
            return
        }
        let used = Swift.min(count, workers + 1)
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            chunks = used
            remaining.store(used - 1, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            for w in 0..<(used - 1) where sleeping[w].value.exchange(false, ordering: .sequentiallyConsistent) {
                wakeups[w].signal()
            }
            escapable(0)
            while remaining.load(ordering: .sequentiallyConsistent) > 0 {}
            job = nil
        }
        // Chunks beyond the pool's size (count > workers + 1) run here.
        for c in used..<count { body(c) }
        busy.store(false, ordering: .releasing)
    }

    /// Runs one chunk of the current region. A function of its own, so that the worker's
    /// reference to the region's body is gone when it returns: the caller may only leave
    /// `withoutActuallyEscaping` once no thread holds the body.
    @inline(never)
    private func runChunk(_ c: Int) {
        job?(c)
    }

    private func workerLoop(_ w: Int) {
        // Generation 0 is the one before any region: a region started before this thread
        // runs its first line must still be seen as new.
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .sequentiallyConsistent) == seen && spins < Self.spinIterations { spins += 1 }
            if generation.load(ordering: .sequentiallyConsistent) == seen {
                sleeping[w].value.store(true, ordering: .sequentiallyConsistent)
                if generation.load(ordering: .sequentiallyConsistent) == seen {
                    wakeups[w].wait()
                } else if !sleeping[w].value.exchange(false, ordering: .sequentiallyConsistent) {
                    wakeups[w].wait()  // the caller took the flag: consume its signal
                }
                continue
            }
            seen = generation.load(ordering: .sequentiallyConsistent)
            if w + 1 < chunks {
                runChunk(w + 1)
                remaining.subtract(1, ordering: .sequentiallyConsistent)
            }
        }
    }
}

/// An atomic flag with reference identity (atomics cannot be copied into arrays).
private final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
