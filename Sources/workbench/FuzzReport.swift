import Foundation

// What `workbench fuzz` reports: per format, the counts of each outcome and the inputs worth
// a look; printed as a table or, with --json, as JSON.

struct FuzzFinding: Codable {
    var index: Int
    var outcome: String
    var message: String
    var mutation: String
    var input: String?
    var peakMB: Double
    var seconds: Double
    var reproduce: String
}

struct FuzzSummary: Codable {
    var format: String
    var runs = 0, accepted = 0, wrong = 0, cleanErrors = 0, unnamedErrors = 0, crashes = 0, hangs = 0, runaway = 0
    var peakBytes = 0
    var seconds = 0.0
    /// The slowest input that did not fail, and its index.
    var slowestSeconds = 0.0
    var slowestIndex = -1
    /// Crashes, hangs, runaway inputs.
    var failures = [FuzzFinding]()
    /// Errors not naming the file, and inputs accepted but wrong.
    var notes = [FuzzFinding]()

    init(format: String) { self.format = format }
}

struct FuzzReport: Codable {
    var seed: UInt64
    var formats: [FuzzSummary]
}
