import ArgumentParser

/// A boolean flag's value as typed (`--scale_lr false`): true/false, yes/no, 1/0, any case.
/// Kept as text and checked in `validate()` (as `NumberText`), so that anything else is an
/// error naming the flag, never read as true: the original FreezeOut's `type=bool` made
/// `--scale_lr False` true (any non-empty string is), which this avoids.
struct BooleanText: ExpressibleByArgument, CustomStringConvertible, Sendable {
    let text: String
    init(argument: String) { text = argument }
    init(_ value: Bool) { text = value ? "true" : "false" }
    var description: String { text }
    var defaultValueDescription: String { text }

    /// The value, or a `ValidationError` "FLAG must be true or false, got X".
    func value(_ flag: String) throws -> Bool {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "1": return true
        case "false", "no", "0": return false
        default: throw ValidationError("\(flag) must be true or false, got \(text)")
        }
    }
}
