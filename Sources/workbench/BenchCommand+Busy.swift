import Foundation

/// `workbench bench --busy`: the same measurements with one core kept busy by another process,
/// as on a shared machine. The spinner is this executable (`bench --spin`, hidden), which ends
/// when its parent does (it looks every few milliseconds), so an interrupted benchmark leaves
/// nothing spinning.
struct BusyCore {
    private let process: Process

    /// Starts the spinning process.
    init() throws {
        process = Process()
        process.executableURL = BenchCommand.executable
        process.arguments = ["bench", "--spin"]
        try process.run()
    }

    /// Stops it and waits for it to end.
    func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    /// The spinner's body: integer work on one core until the parent process is gone (the
    /// parent's id changes when it ends).
    static func spinForever() -> Never {
        let parent = getppid()
        var x: UInt64 = 1
        while getppid() == parent {
            for _ in 0..<1_000_000 { x = x &* 6364136223846793005 &+ 1442695040888963407 }
            if x == 0 { print(x) }       // keeps the loop from being optimised away
        }
        exit(0)
    }
}
