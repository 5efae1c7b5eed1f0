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
/// 1-thread one). Now the caller runs the chunks nobody has started, and while it waits for
/// a running one it yields its core every few thousand spins.
///
/// Why regions sometimes run alone: claiming cannot help when a worker claimed a chunk and
/// then lost its core (another process wants it); the caller then waits for that chunk for
/// up to a time slice, and on a machine with a busy core this happens every few regions. So
/// the caller times its wait: a wait longer than max(2 × its own chunks' time, 100 µs) is a
/// stall, and after one the caller runs every region alone for 0.25 ms · 2^level (level
/// 1...9, one up per stall: 0.5 ms after a first stall, at most 128 ms), then tries the
/// workers again; 64 regions in a row that a worker helped without a stall take the level one
/// down. A quiet machine never stalls and keeps every region parallel. And an idle worker
/// yields its core every 1,024 spins: when the caller shares that core (the other one is
/// taken), a spinning worker would otherwise take half of it from the caller's work.
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
    /// The current region's body and chunk count (written before `state` moves on).
    nonisolated(unsafe) private var job: ((Int) -> Void)?
    nonisolated(unsafe) private var chunks = 0

    /// The stall back-off (above), touched only by the thread that holds `busy`.
    nonisolated(unsafe) private var aloneUntil: UInt64 = 0
    nonisolated(unsafe) private var level = 0
    nonisolated(unsafe) private var cleanRegions = 0
    /// Regions run alone after a stall, and stalls seen (for inspection).
    nonisolated(unsafe) private(set) var regionsAlone = 0
    nonisolated(unsafe) private(set) var stalls = 0

    /// The back-off after a first stall is 2 × this (ns); a test may lengthen it.
    nonisolated(unsafe) var backOffUnit: UInt64 = 250_000

    private static let spinIterations = 200_000
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
        let start = Self.nanoseconds()
        if start < aloneUntil {
            regionsAlone += 1
            for c in 0..<count { body(c) }
            busy.store(false, ordering: .releasing)
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
            var ranHere = 0
            while let c = claim(region) {
                escapable(c)
                remaining.subtract(1, ordering: .sequentiallyConsistent)
                ranHere += 1
            }
            let ownEnd = Self.nanoseconds()
            var spins = 0
            while remaining.load(ordering: .sequentiallyConsistent) > 0 {
                spins += 1
                if spins % 4096 == 0 { sched_yield() }   // let a preempted worker finish
            }
            job = nil
            if spins > 0 { noteWait(from: ownEnd, own: ownEnd &- start, helped: ranHere < used) }
            else if ranHere < used { noteClean() }
        }
        // Chunks beyond the pool's size (count > workers + 1) run here.
        for c in used..<count { body(c) }
        busy.store(false, ordering: .releasing)
    }

    /// After a wait for a worker's chunk that began at `from`: a stall, or a clean region.
    private func noteWait(from: UInt64, own: UInt64, helped: Bool) {
        let end = Self.nanoseconds()
        if end &- from > Swift.max(2 * own, 100_000) {
            stalls += 1
            level = Swift.min(level + 1, 9)
            cleanRegions = 0
            aloneUntil = end + (backOffUnit << UInt64(level))
        } else if helped {
            noteClean()
        }
    }

    private func noteClean() {
        cleanRegions += 1
        if cleanRegions >= 64 { cleanRegions = 0; level = Swift.max(level - 1, 0) }
    }

    /// CLOCK_MONOTONIC in nanoseconds (a vDSO call: ~20 ns).
    @inline(__always) private static func nanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
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
            remaining.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    private func workerLoop(_ w: Int) {
        // Region 0 is the one before any region: a region started before this thread runs
        // its first line must still be seen as new.
        var seen = 0
        func current() -> Int { state.load(ordering: .sequentiallyConsistent) >> Self.chunkBits }
        while true {
            var spins = 0
            while current() == seen && spins < Self.spinIterations {
                spins += 1
                if spins % 1024 == 0 { sched_yield() }   // a thread that shares this core (the caller) gets it back
            }
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

/// An atomic flag with reference identity (atomics cannot be copied into arrays).
private final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
