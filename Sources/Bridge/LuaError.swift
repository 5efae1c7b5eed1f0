import Foundation

/// A Lua error seen from Swift: a syntax error, a runtime error raised by a script (or by a
/// Swift binding on the script's behalf), or a file that cannot be read.
///
/// `message` starts with the place the error was raised (`script.lua:12: ...`); `traceback`
/// is Lua's `stack traceback:` block (empty when there is none, e.g. for a syntax error).
public struct LuaError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable { case syntax, runtime, file, other }

    public let kind: Kind
    public let message: String
    public let traceback: String

    public init(kind: Kind = .runtime, message: String, traceback: String = "") {
        self.kind = kind
        self.message = message
        self.traceback = traceback
    }

    /// Splits an error string produced under `LuaRuntime`'s message handler into the message
    /// and its traceback.
    public init(kind: Kind, raw: String) {
        if let r = raw.range(of: "\nstack traceback:") {
            self.init(kind: kind, message: String(raw[..<r.lowerBound]),
                      traceback: String(raw[raw.index(after: r.lowerBound)...]))
        } else {
            self.init(kind: kind, message: raw)
        }
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
