import Foundation
import Synchronization

/// The engine's worker threads. A parallel region's chunks are claimed one at a time by
/// whoever is free, the calling thread first: the caller runs chunk 0, then claims the next
/// chunk no worker has started, and so on; it waits only for chunks a worker is running.
///
/// Why not `DispatchQueue.concurrentPerform`: a training step of a small net has dozens of
/// regions of ~100 µs each, and waking a sleeping thread costs tens of microseconds on a
/// virtual machine. Workers here spin for a while (~100 µs) after each region before they
/// block, so back-to-back regions start at once; idle workers still end up asleep.
///
/// Why claiming: on a busy machine a worker may not get a core for a whole time slice; with
/// fixed chunk owners the caller would wait for it (a 2-thread step then costs more than a
/// 1-thread one). Now the caller runs the chunks nobody has started.
///
/// On a busy machine (another process wants a core) spinning itself costs: a worker spinning
/// between regions keeps a core from the caller's serial work, and a caller spinning for a
/// worker that was preempted in the middle of its chunk keeps from it the core it could run
/// on. So both spin for a bounded time only and then block: the caller for at most
/// `callerSpin` before it sleeps until the last chunk ends, a worker for `workerSpin` after
/// a region, or not at all while its thread is being preempted (its involuntary context
/// switches grew since its last region), so that the kernel hands the freed core to whoever
/// has work.
///
/// A region started while another runs (nested, or from another thread) runs its chunks in
/// order on the calling thread. Chunk boundaries never depend on scheduling and each chunk
/// runs exactly once, so results are the same whoever runs which chunk.
final class WorkerPool: @unchecked Sendable {
    private let workers: Int
    /// The current region's number (high bits) and its next unclaimed chunk (low 16 bits):
    /// one atomic, so a claim can only take a chunk of the region its claimer saw start.
    private let state = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let sleeping: [Flag]
    private let wakeups: [DispatchSemaphore]
    /// The caller sleeps on `callerWakeup` until the last running chunk ends (the flag is
    /// taken by whoever signals, as the workers' `sleeping` flags).
    private let callerSleeping = Flag()
    private let callerWakeup = DispatchSemaphore(value: 0)
    /// The current region's body and chunk count (written before `state` moves on).
    nonisolated(unsafe) private var job: ((Int) -> Void)?
    nonisolated(unsafe) private var chunks = 0

    /// How long a worker spins for the next region before it blocks (nanoseconds), and the
    /// caller for the region's running chunks before it blocks.
    private static let workerSpin: UInt64 = 100_000
    private static let callerSpin: UInt64 = 50_000
    private static let chunkBits = 16

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
            remaining.store(used, ordering: .sequentiallyConsistent)
            let region = (state.load(ordering: .sequentiallyConsistent) >> Self.chunkBits) + 1
            state.store(region << Self.chunkBits, ordering: .sequentiallyConsistent)
            for w in 0..<(used - 1) where sleeping[w].value.exchange(false, ordering: .sequentiallyConsistent) {
                wakeups[w].signal()
            }
            while let c = claim(region) {
                escapable(c)
                remaining.subtract(1, ordering: .sequentiallyConsistent)
            }
            waitForRunningChunks()
            job = nil
        }
        // Chunks beyond the pool's size (count > workers + 1) run here.
        for c in used..<count { body(c) }
        busy.store(false, ordering: .releasing)
    }

    /// Returns when no chunk of the region is running: spins for up to `callerSpin`, then
    /// sleeps until the worker that ends the last chunk signals.
    private func waitForRunningChunks() {
        let deadline = DispatchTime.now().uptimeNanoseconds + Self.callerSpin
        var spins = 0
        while remaining.load(ordering: .sequentiallyConsistent) > 0 {
            spins += 1
            guard spins % 64 == 0, DispatchTime.now().uptimeNanoseconds > deadline else { continue }
            callerSleeping.value.store(true, ordering: .sequentiallyConsistent)
            if remaining.load(ordering: .sequentiallyConsistent) > 0 {
                callerWakeup.wait()
            } else if !callerSleeping.value.exchange(false, ordering: .sequentiallyConsistent) {
                callerWakeup.wait()  // a worker took the flag: consume its signal
            }
            return
        }
    }

    /// Marks one chunk done; the one that ends the region wakes a sleeping caller.
    @inline(__always)
    private func chunkDone() {
        if remaining.subtract(1, ordering: .sequentiallyConsistent).newValue == 0,
           callerSleeping.value.exchange(false, ordering: .sequentiallyConsistent) {
            callerWakeup.signal()
        }
    }

    /// The next unclaimed chunk of `region`, or nil when that region has none left (or is over).
    private func claim(_ region: Int) -> Int? {
        while true {
            let s = state.load(ordering: .sequentiallyConsistent)
            guard s >> Self.chunkBits == region else { return nil }
            let c = s & ((1 << Self.chunkBits) - 1)
            guard c < chunks else { return nil }
            if state.compareExchange(expected: s, desired: s + 1, ordering: .sequentiallyConsistent).exchanged { return c }
        }
    }

    /// Runs the chunks of `region` that are left. A function of its own, so that the worker's
    /// reference to the region's body is gone when it returns: the caller may only leave
    /// `withoutActuallyEscaping` once no thread holds the body.
    @inline(never)
    private func runChunks(of region: Int) {
        while let c = claim(region) {
            job?(c)
            chunkDone()
        }
    }

    private func workerLoop(_ w: Int) {
        // Region 0 is the one before any region: a region started before this thread runs
        // its first line must still be seen as new.
        var seen = 0
        var preemptions = Self.involuntarySwitches()
        func current() -> Int { state.load(ordering: .sequentiallyConsistent) >> Self.chunkBits }
        while true {
            // Spin for the next region unless this thread is being preempted.
            let now = Self.involuntarySwitches()
            if now == preemptions {
                let deadline = DispatchTime.now().uptimeNanoseconds + Self.workerSpin
                var spins = 0
                while current() == seen {
                    spins += 1
                    if spins % 64 == 0 && DispatchTime.now().uptimeNanoseconds > deadline { break }
                }
            }
            preemptions = now
            if current() == seen {
                sleeping[w].value.store(true, ordering: .sequentiallyConsistent)
                if current() == seen {
                    wakeups[w].wait()
                } else if !sleeping[w].value.exchange(false, ordering: .sequentiallyConsistent) {
                    wakeups[w].wait()  // the caller took the flag: consume its signal
                }
                continue
            }
            seen = current()
            runChunks(of: seen)
        }
    }
}

extension WorkerPool {
    /// The calling thread's involuntary context switches so far (getrusage, RUSAGE_THREAD):
    /// times the kernel took its core away while it could still run.
    static func involuntarySwitches() -> Int {
        var u = rusage()
        getrusage(__rusage_who_t(1), &u)   // RUSAGE_THREAD
        return u.ru_nivcsw
    }
}

/// An atomic flag with reference identity (atomics cannot be copied into arrays).
private final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
