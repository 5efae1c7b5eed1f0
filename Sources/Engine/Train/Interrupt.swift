import Foundation

/// Ctrl-C handling: the first SIGINT sets a flag that training loops check after each batch
/// (they then throw `EngineError.interrupted`); a second one exits at once.
public enum Interrupt {
    nonisolated(unsafe) public static var requested = false
    public static let message = "interrupted (Ctrl-C)"

    public static func install() {
        signal(SIGINT) { _ in
            if Interrupt.requested { _exit(130) }
            Interrupt.requested = true
        }
    }

    /// Throws when an interrupt was requested.
    public static func check() throws {
        if requested { throw EngineError(message) }
    }
}
