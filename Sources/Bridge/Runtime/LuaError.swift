import Foundation

/// A Lua error seen from Swift: a syntax error, a runtime error raised by a script (or by a
/// Swift binding on the script's behalf), or a file that cannot be read.
///
/// `message` starts with the place the error was raised (`script.lua:12: ...`); `traceback`
/// is Lua's `stack traceback:` block (empty when there is none, e.g. for a syntax error).
/// `cause` is the Swift error behind it when that error must survive the trip through Lua
/// (which carries only text): today the Engine's `Interrupted` (Ctrl-C) raised by a binding
/// while the script ran.
public struct LuaError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable { case syntax, runtime, file, other }

    public let kind: Kind
    public let message: String
    public let traceback: String
    public let cause: (any Error)?

    public init(kind: Kind = .runtime, message: String, traceback: String = "", cause: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.traceback = traceback
        self.cause = cause
    }

    /// Splits an error string produced under `LuaRuntime`'s message handler into the message
    /// and its traceback.
    public init(kind: Kind, raw: String, cause: (any Error)? = nil) {
        if let r = raw.range(of: "\nstack traceback:") {
            self.init(kind: kind, message: String(raw[..<r.lowerBound]),
                      traceback: String(raw[raw.index(after: r.lowerBound)...]), cause: cause)
        } else {
            self.init(kind: kind, message: raw, cause: cause)
        }
    }

    /// Equal kind, message and traceback (the cause is not compared).
    public static func == (a: LuaError, b: LuaError) -> Bool {
        a.kind == b.kind && a.message == b.message && a.traceback == b.traceback
    }

    /// The message and, when there is one, the traceback below it: what a user should see.
    public var description: String { traceback.isEmpty ? message : message + "\n" + traceback }

    /// The error as Lua raised it (message, newline, traceback), used to re-raise an error
    /// from a nested call without adding a second traceback.
    var raw: String { description }
}

/// A wrongly typed or out-of-range argument to a Swift function called from Lua. Its text
/// follows Lua's own: `bad argument #2 to 'add' (number expected, got string)`.
public struct LuaArgumentError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
