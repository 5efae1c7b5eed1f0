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
}
