import Foundation

/// Ctrl-C handling: the first SIGINT sets a flag that training loops check after each batch
/// (they then throw `Interrupted`); a second one exits at once.
public enum Interrupt {
    nonisolated(unsafe) public static var requested = false
    public static let message = "interrupted (Ctrl-C)"

    public static func install() {
        signal(SIGINT) { _ in
            if Interrupt.requested { _exit(130) }
            Interrupt.requested = true
        }
    }

    /// Throws `Interrupted` when an interrupt was requested.
    public static func check() throws {
        if requested { throw Interrupted() }
    }
}

/// The error a run stops with after Ctrl-C: its own type, so that the command line can tell
/// it from every other error (exit status 130) without reading its text. Its text is
/// `Interrupt.message`, which is also what a Lua script sees when it stops one.
public struct Interrupted: Error, CustomStringConvertible, Equatable, Sendable {
    public init() {}
    public var description: String { Interrupt.message }
}
