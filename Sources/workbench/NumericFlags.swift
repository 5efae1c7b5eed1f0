import ArgumentParser
import Bridge
import Foundation

/// A numeric flag's value as typed. The flags keep the text and check it in `validate()`, so
/// that every bad value — a negative number, nan, inf, a value too large for an integer, or
/// text — gets the same message naming the flag, the value and the allowed range. (The flags
/// are parsed with `.unconditional`, so `-threads -3` reads -3 as the value, not as a flag.)
struct NumberText: ExpressibleByArgument, CustomStringConvertible, Sendable {
    let text: String
    init(argument: String) { text = argument }
    init(_ value: Int) { text = String(value) }
    init(_ value: Double) { text = value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value) }
    var description: String { text }
    var defaultValueDescription: String { text }

    /// The value as an integer in `range`, or a `ValidationError` "FLAG must be in A...B, got X".
    func integer(_ flag: String, in range: ClosedRange<Int>, note: String = "") throws -> Int {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let v = Int(t) {
            guard range.contains(v) else { throw ValidationError("\(flag) must be in \(range.lowerBound)...\(range.upperBound)\(note), got \(text)") }
            return v
        }
        // Digits that overflow Int are out of range too; anything else is not an integer.
        let digits = t.hasPrefix("-") || t.hasPrefix("+") ? String(t.dropFirst()) : t
        if !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) {
            throw ValidationError("\(flag) must be in \(range.lowerBound)...\(range.upperBound)\(note), got \(text)")
        }
        throw ValidationError("\(flag) must be an integer in \(range.lowerBound)...\(range.upperBound)\(note), got \(text)")
    }

    /// The value as a finite number that `accept` accepts, else "FLAG must be RANGE, got X".
    func real(_ flag: String, _ rangeText: String, _ accept: (Double) -> Bool) throws -> Double {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let v = Double(t), v.isFinite, accept(v) else {
            throw ValidationError("\(flag) must be \(rangeText), got \(text)")
        }
        return v
    }
}

/// The limits of the numeric flags, stated in the help.
enum Limits {
    /// Engine threads: 1...256 (the engine's worker pool; more than the cores only slows it).
    static let threads = 1...WorkbenchBindings.maxThreads
    static let layer = 0...100_000
    static let iterations = 1...10_000          // -iPruning
    static let epochs = 0...10_000              // -nEpochs
    static let batchSize = 1...4096             // -batchsize: 4096 reference-LeNet-5 images already take ~2 GB of activations
    static let scoreSize = 1...1_000_000        // -scoreSize (at most the set's size is used)
    static let subsetSize = 0...100_000_000     // -trainSize, -testSize (0: all)
    static let seed = 0...(1 << 53 - 1)         // -manualSeed: exact as a Lua number
    static let maxLearningRate = 10.0           // -LR in (0, 10]
    static let maxAccTradeoff = 100.0           // -acctradeoff in [0, 100] (error points)
    static let luaMemoryMB = 0...1_048_576      // -luaMemory (0: no cap)
    static let defaultLuaMemoryMB = 4096
    static let benchImages = 1...1_000_000      // bench --epoch-images
    static let maxLuaTimeout = 1_000_000.0      // -luaTimeout seconds (0: none)
}
