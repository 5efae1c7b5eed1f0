import Foundation
import XCTest
@testable import Engine

/// The worker pool runs every chunk exactly once, including a region started before its
/// workers have begun running (a start-up race that once deadlocked), nested regions, and
/// regions after the workers fell asleep.
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
}
