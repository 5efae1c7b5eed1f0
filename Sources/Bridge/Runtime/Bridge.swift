import Foundation

/// Process-wide facts about the Lua bridge.
public enum Bridge {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var live = 0

    /// Swift objects (tensors, modules, criteria, ...) currently retained by Lua userdata in
    /// any `LuaRuntime`. Each userdata retains its object once when created and releases it in
    /// `__gc` or `__close`, so after `collectgarbage('collect')` this returns to where it was
    /// before a script ran: the leak check of the bridge tests.
    public static var liveObjects: Int {
        lock.lock(); defer { lock.unlock() }
        return live
    }

    static func objectRetained() {
        lock.lock(); live += 1; lock.unlock()
    }

    static func objectReleased() {
        lock.lock(); live -= 1; lock.unlock()
    }
}
