import Foundation
import Synchronization
import XCTest
@testable import Engine

/// The worker pool runs every chunk exactly once, including a region started before its
/// workers have begun running (a start-up race that once deadlocked), nested regions,
/// regions after the workers fell asleep, regions whose caller waits for a long chunk, and
/// regions on a machine whose cores are all kept busy by other threads.
final class WorkerPoolTests: XCTestCase {
    /// Runs `body` on another thread and fails if it does not finish within `seconds`
    /// (a deadlock would otherwise hang the suite).
    private func finishes(within seconds: Double, _ body: @escaping @Sendable () -> Void) -> Bool {
        let done = DispatchSemaphore(value: 0)
        Thread { body(); done.signal() }.start()
        return done.wait(timeout: .now() + seconds) == .success
    }

    func testRegionsRightAfterStartAndAfterSleeping() {
        nonisolated(unsafe) var pools: [WorkerPool] = []   // kept alive: their threads live forever
        nonisolated(unsafe) var counts = [Int](repeating: 0, count: 3)
        XCTAssertTrue(finishes(within: 20) {
            for _ in 0..<20 {
                let pool = WorkerPool(workers: 2)
                pools.append(pool)
                for _ in 0..<50 {
                    let hits = UnsafeMutablePointer<Int>.allocate(capacity: 3)
                    hits.initialize(repeating: 0, count: 3)
                    pool.run(3) { c in hits[c] += 1 }
                    for c in 0..<3 { counts[c] += hits[c] }
                    hits.deallocate()
                }
            }
            // After the workers have gone to sleep.
            Thread.sleep(forTimeInterval: 0.3)
            pools[0].run(3) { c in counts[c] += 0 }
        }, "a parallel region deadlocked")
        XCTAssertEqual(counts, [1000, 1000, 1000])
    }

    func testNestedRegionsRunInline() {
        Parallel.setThreads(2)
        defer { Parallel.setThreads(1) }
        let n = 64
        let out = UnsafeMutablePointer<Int>.allocate(capacity: n * n)
        defer { out.deallocate() }
        XCTAssertTrue(finishes(within: 20) {
            Parallel.forChunks(n, costPerItem: 1 << 20) { rows in
                for i in rows {
                    Parallel.forChunks(n, costPerItem: 1 << 20) { cols in
                        for j in cols { out[i * n + j] = i * n + j }
                    }
                }
            }
        })
        XCTAssertTrue((0..<(n * n)).allSatisfy { out[$0] == $0 })
    }

    func testCallerWaitsForALongChunkEveryTime() {
        // A worker's chunk of 2 ms, far longer than a region's usual wait: the caller waits
        // for it and the region ends, 200 times in a row.
        let pool = WorkerPool(workers: 1)
        nonisolated(unsafe) var total = 0
        XCTAssertTrue(finishes(within: 30) {
            for _ in 0..<200 {
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: 2)
                hits.initialize(repeating: 0, count: 2)
                pool.run(2) { c in
                    if c == 1 { Thread.sleep(forTimeInterval: 0.002) }
                    hits[c] += 1
                }
                total += hits[0] + hits[1]
                hits.deallocate()
            }
        }, "a caller waiting for a long chunk never saw it end")
        XCTAssertEqual(total, 400)
    }

    func testRegionsCompleteWhileEveryCoreIsBusy() {
        // As many spinning threads as cores, for the whole test: 2,000 regions of 3 chunks on a
        // 2-worker pool still each run every chunk once, and finish in a bound far above their
        // work (not a speed assertion: a slow pool would still pass it, but a lost wake-up or a
        // caller waiting on a chunk nobody runs would not).
        final class StopFlag: Sendable { let value = Atomic<Bool>(false) }
        let stop = StopFlag()
        let spinners = ProcessInfo.processInfo.activeProcessorCount
        let stopped = DispatchSemaphore(value: 0)
        for _ in 0..<spinners {
            Thread {
                var x: UInt64 = 1
                while !stop.value.load(ordering: .relaxed) { x = x &* 6364136223846793005 &+ 1 }
                if x == 0 { print(x) }
                stopped.signal()
            }.start()
        }
        defer {
            stop.value.store(true, ordering: .relaxed)
            for _ in 0..<spinners { stopped.wait() }
        }
        let pool = WorkerPool(workers: 2)
        nonisolated(unsafe) var counts = [Int](repeating: 0, count: 3)
        XCTAssertTrue(finishes(within: 60) {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: 3)
            defer { hits.deallocate() }
            for _ in 0..<2000 {
                hits.initialize(repeating: 0, count: 3)
                pool.run(3) { c in
                    var s: Float = 0
                    for i in 0..<2000 { s += Float(i) }   // ~µs of work per chunk
                    hits[c] += s > 0 ? 1 : 0
                }
                for c in 0..<3 { counts[c] += hits[c] }
            }
        }, "parallel regions stalled while every core was busy")
        XCTAssertEqual(counts, [2000, 2000, 2000])
    }

    /// A worker that holds a chunk far longer than the caller's (as one that lost its core
    /// does) is a stall: the next region runs every chunk on the caller, and once the back-off
    /// has passed the workers take chunks again.
    func testAStalledWorkerSendsTheNextRegionsToTheCaller() {
        final class Seen: @unchecked Sendable {
            let started = Atomic<Bool>(false)
            var threads = [pthread_t?](repeating: nil, count: 2)
        }
        let pool = WorkerPool(workers: 1)
        pool.backOffUnit = 100_000_000   // 200 ms after one stall, so that a loaded machine cannot outwait it
        // The caller's chunk waits until a worker has started the other one (at most 1 s),
        // then returns; the worker's takes `workerSleeps` (either may claim either chunk).
        func region(_ seen: Seen, workerSleeps: Double) {
            let caller = pthread_self()
            pool.run(2) { c in
                seen.threads[c] = pthread_self()
                if pthread_equal(pthread_self(), caller) != 0 {
                    let t0 = Date()
                    while !seen.started.load(ordering: .acquiring) && Date().timeIntervalSince(t0) < 1 {}
                } else {
                    seen.started.store(true, ordering: .releasing)
                    Thread.sleep(forTimeInterval: workerSleeps)
                }
            }
        }
        XCTAssertTrue(finishes(within: 30) {
            let first = Seen(), caller = pthread_self()
            region(first, workerSleeps: 0.2)
            XCTAssertEqual(pool.stalls, 1, "a 200 ms wait for the worker's chunk is a stall")
            XCTAssertEqual(pthread_equal(first.threads[0]!, first.threads[1]!), 0, "a worker ran one chunk")
            XCTAssertTrue(first.threads.contains { pthread_equal($0!, caller) != 0 }, "the caller the other")

            let next = Seen()
            next.started.store(true, ordering: .releasing)
            pool.run(2) { c in next.threads[c] = pthread_self() }
            XCTAssertEqual(pool.regionsAlone, 1)
            XCTAssertTrue(next.threads.allSatisfy { pthread_equal($0!, caller) != 0 }, "both chunks on the caller")

            Thread.sleep(forTimeInterval: 0.5)   // past the back-off
            let later = Seen()
            region(later, workerSleeps: 0)
            XCTAssertTrue(later.threads.contains { pthread_equal($0!, caller) == 0 }, "the worker helps again")
            XCTAssertEqual(pool.regionsAlone, 1)
        }, "a region never ended")
    }
}
