/// The kinds of mutation the fuzzer makes. Byte-level kinds apply to every format; the others
/// need a seed that knows its structure (see `FuzzSeed.edits`).
public enum FuzzMutationKind: String, CaseIterable, Codable, Sendable {
    /// One to eight bits flipped.
    case bitFlip = "bit-flip"
    /// One to four bytes set to 0x00, 0xff, 0x7f or 0x80.
    case byteSet = "byte-set"
    /// Cut at a structural boundary (inside a length field, inside a header, at a record or
    /// tensor boundary) or at a random point.
    case truncate
    /// Bytes inserted (random, interesting values, or a block of zeros or 0xff).
    case insert
    /// Bytes deleted.
    case delete
    /// A length/count/size field set to 0, 1, off by one, huge or negative (as signed).
    case lengthField = "length-field"
    /// The safetensors JSON header edited: dtype, shape entries, data_offsets, keys.
    case header = "header-json"
    /// A numeric arg or option of the architecture JSON in
    /// `__metadata__["workbench.architecture"]` set to -1, 0, 2.5, 65536, 4e9, 1e18, 1e300 or -1e300.
    case architectureValue = "architecture-value"
    /// The architecture otherwise edited: types renamed, modules removed, duplicated,
    /// swapped or nested deeply, args and options of the wrong shape, the JSON broken.
    case architecture
    /// Header and data disagreeing while each looks fine: shapes, dtypes, names, values.
    case tensorMismatch = "tensor-mismatch"
    /// The compressed model format's own structure edited: its layout JSON
    /// (`workbench.compressed`: counts, shapes, position and value kinds, bits, mask flags)
    /// and its streams (coding byte, value counts, widths, code tables, the last byte).
    case compressedLayout = "compressed-layout"
    /// A gzip stream corrupted: deflate bytes, CRC, ISIZE, header flags, trailing members.
    case gzipCorruption = "gzip-corruption"
    /// A gzip bomb: a small .gz of many zeros behind a header that claims little data.
    case gzipBomb = "gzip-bomb"
    /// Text-level edits of a configuration file's fields and lines.
    case text
}

/// What one mutation did, in words that let a person see the bug (and the kind, for tests).
public struct FuzzMutation: Equatable, Sendable {
    public let kind: FuzzMutationKind
    public let detail: String
    public init(_ kind: FuzzMutationKind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }
    public var description: String { "\(kind.rawValue): \(detail)" }
}

/// One structure-aware edit a seed offers: a description and the transformation of the
/// seed's bytes. The list of a seed's edits of a kind is enumerated in a seeded order, so that
/// a run of N inputs covers min(N, list size) different edits of each kind.
public struct FuzzEdit {
    public let detail: String
    public let apply: ([UInt8]) -> [UInt8]
    public init(_ detail: String, _ apply: @escaping ([UInt8]) -> [UInt8]) {
        self.detail = detail
        self.apply = apply
    }
}

/// A valid input the mutants derive from, with what the fuzzer knows of its structure.
public struct FuzzSeed {
    public let name: String
    public let bytes: [UInt8]
    /// Offsets where a truncation is structurally interesting (besides random ones).
    public var boundaries: [Int]
    /// Structure-aware edits by kind (length fields, header and architecture edits, ...).
    public var edits: [FuzzMutationKind: [FuzzEdit]]
    /// Where byte-level mutations should mostly land (e.g. a header), or nil for anywhere.
    public var hotRange: Range<Int>?

    public init(name: String, bytes: [UInt8], boundaries: [Int] = [], edits: [FuzzMutationKind: [FuzzEdit]] = [:],
                hotRange: Range<Int>? = nil) {
        self.name = name
        self.bytes = bytes
        self.boundaries = boundaries
        self.edits = edits
        self.hotRange = hotRange
    }
}

/// One generated input.
public struct FuzzMutant {
    public let index: Int
    public let seedName: String
    public let bytes: [UInt8]
    public let mutations: [FuzzMutation]
    public var description: String {
        "seed \(seedName); " + mutations.map(\.description).joined(separator: "; then ")
    }
}

/// The deterministic mutation fuzzer: mutant `i` of a run depends only on (seed, i, the
/// seeds), never on the mutants before it, so `--only i` reproduces it and a worker can
/// restart at any index.
///
/// Mutant i uses kind `schedule[i % schedule.count]` on seed `(i / schedule.count) % seeds`;
/// structure-aware kinds take the k-th edit of the seed's list in a seeded, full-cycle order
/// (k counts that kind's occurrences on that seed), so every edit of a list is made once
/// before any is repeated. A quarter of the byte-level mutants get a second byte-level mutation on top.
public struct FuzzMutator {
    public let seeds: [FuzzSeed]
    public let schedule: [FuzzMutationKind]
    public let seed: UInt64

    public init(seeds: [FuzzSeed], schedule: [FuzzMutationKind], seed: UInt64) {
        precondition(!seeds.isEmpty && !schedule.isEmpty)
        self.seeds = seeds
        self.schedule = schedule
        self.seed = seed
    }

    public static let byteLevel: Set<FuzzMutationKind> = [.bitFlip, .byteSet, .truncate, .insert, .delete]

    public static let interestingBytes: [UInt8] = [0x00, 0xff, 0x7f, 0x80]

    /// SplitMix64 of `x`: decorrelates the per-index generators.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public func mutant(_ index: Int) -> FuzzMutant {
        var rng = RandomGenerator(seed: Self.mix(seed ^ Self.mix(UInt64(index))))
        let cycle = index / schedule.count, slot = index % schedule.count
        let kind = schedule[slot]
        let s = seeds[cycle % seeds.count]
        // Occurrences of `kind` on this seed before this index.
        let perCycle = schedule.filter { $0 == kind }.count
        let k = (cycle / seeds.count) * perCycle + schedule[..<slot].filter { $0 == kind }.count
        var mutations = [FuzzMutation]()
        var bytes = apply(kind, occurrence: k, seed: s, to: s.bytes, rng: &rng, into: &mutations)
        // Byte-level kinds sometimes get a second byte-level mutation on top (structure-aware
        // edits are left alone: a random flip in a JSON header mostly just breaks the JSON).
        if Self.byteLevel.contains(kind), rng.next() % 4 == 0 {
            let extra: [FuzzMutationKind] = [.bitFlip, .byteSet, .truncate, .insert, .delete]
            bytes = apply(extra[Int(rng.next() % UInt64(extra.count))], occurrence: nil, seed: s, to: bytes, rng: &rng, into: &mutations)
        }
        return FuzzMutant(index: index, seedName: s.name, bytes: bytes, mutations: mutations)
    }

    /// The k-th element of a full-cycle seeded permutation of 0..<n (k counts from 0).
    func cycled(_ k: Int, _ n: Int, salt: UInt64) -> Int {
        let offset = Int(Self.mix(seed ^ salt) % UInt64(n))
        var stride = Int(Self.mix(seed ^ salt ^ 0x5bd1e995) % UInt64(n)) | 1
        while gcd(stride, n) != 1 { stride += 1 }
        return (offset + (k % n) * stride) % n
    }

    private func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    private func salt(_ s: FuzzSeed, _ kind: FuzzMutationKind) -> UInt64 {
        var h: UInt64 = 1469598103934665603
        for b in (s.name + "/" + kind.rawValue).utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
        return h
    }

    /// A position for a byte-level mutation: mostly in the seed's hot range when it has one.
    private func position(_ count: Int, _ s: FuzzSeed, _ rng: inout RandomGenerator) -> Int {
        if let hot = s.hotRange, hot.upperBound <= count, !hot.isEmpty, rng.next() % 8 != 0 {
            return hot.lowerBound + Int(rng.next() % UInt64(hot.count))
        }
        return Int(rng.next() % UInt64(count))
    }

    private func apply(_ kind: FuzzMutationKind, occurrence k: Int?, seed s: FuzzSeed, to input: [UInt8],
                       rng: inout RandomGenerator, into mutations: inout [FuzzMutation]) -> [UInt8] {
        var b = input
        switch kind {
        case .bitFlip:
            guard !b.isEmpty else { return insertBytes(b, s, &rng, &mutations) }
            let n = 1 + Int(rng.next() % 8)
            var flips = [String]()
            for _ in 0..<n {
                let at = position(b.count, s, &rng), bit = Int(rng.next() % 8)
                b[at] ^= UInt8(1 << bit)
                flips.append("byte \(at) bit \(bit)")
            }
            mutations.append(FuzzMutation(.bitFlip, flips.joined(separator: ", ")))
        case .byteSet:
            guard !b.isEmpty else { return insertBytes(b, s, &rng, &mutations) }
            let n = 1 + Int(rng.next() % 4)
            var sets = [String]()
            for _ in 0..<n {
                let at = position(b.count, s, &rng)
                let v = Self.interestingBytes[Int(rng.next() % 4)]
                b[at] = v
                sets.append("byte \(at) = 0x\(String(v, radix: 16))")
            }
            mutations.append(FuzzMutation(.byteSet, sets.joined(separator: ", ")))
        case .truncate:
            let structural = s.boundaries.filter { $0 < b.count }
            let at: Int
            let what: String
            if let k, !structural.isEmpty, k % 3 != 2 {
                at = structural[cycled(k - k / 3, structural.count, salt: salt(s, kind))]
                what = "at structural boundary \(at)"
            } else if !structural.isEmpty, k == nil, rng.next() % 2 == 0 {
                at = structural[Int(rng.next() % UInt64(structural.count))]
                what = "at structural boundary \(at)"
            } else {
                at = b.isEmpty ? 0 : Int(rng.next() % UInt64(b.count))
                what = "at random point \(at)"
            }
            b.removeSubrange(at...)
            mutations.append(FuzzMutation(.truncate, "to \(at) of \(input.count) bytes, \(what)"))
        case .insert:
            return insertBytes(b, s, &rng, &mutations)
        case .delete:
            guard b.count > 1 else { return insertBytes(b, s, &rng, &mutations) }
            let at = position(b.count, s, &rng)
            let n = Swift.min(b.count - at, [1, 1, 2, 4, 8, 16, 100][Int(rng.next() % 7)])
            b.removeSubrange(at..<(at + n))
            mutations.append(FuzzMutation(.delete, "\(n) byte(s) at \(at)"))
        default:
            guard let list = s.edits[kind], !list.isEmpty else {
                return apply(.bitFlip, occurrence: nil, seed: s, to: b, rng: &rng, into: &mutations)
            }
            let e = list[k.map { cycled($0, list.count, salt: salt(s, kind)) } ?? Int(rng.next() % UInt64(list.count))]
            b = e.apply(b)
            mutations.append(FuzzMutation(kind, e.detail))
        }
        return b
    }

    private func insertBytes(_ input: [UInt8], _ s: FuzzSeed, _ rng: inout RandomGenerator, _ mutations: inout [FuzzMutation]) -> [UInt8] {
        var b = input
        let at = b.isEmpty ? 0 : position(b.count + 1, s, &rng)
        let block: [UInt8]
        let what: String
        switch rng.next() % 4 {
        case 0:
            let n = 1 + Int(rng.next() % 16)
            block = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            what = "\(n) random byte(s)"
        case 1:
            let v = Self.interestingBytes[Int(rng.next() % 4)]
            let n = 1 + Int(rng.next() % 8)
            block = [UInt8](repeating: v, count: n)
            what = "\(n) byte(s) 0x\(String(v, radix: 16))"
        case 2:
            let v: UInt8 = rng.next() % 2 == 0 ? 0 : 0xff
            block = [UInt8](repeating: v, count: 4096)
            what = "a block of 4096 bytes 0x\(String(v, radix: 16))"
        default:
            // A copy of a piece of the input itself (duplicated structure).
            let from = b.isEmpty ? 0 : Int(rng.next() % UInt64(b.count))
            let n = Swift.min(b.count - from, 1 + Int(rng.next() % 64))
            block = Array(b[from..<(from + n)])
            what = "a copy of the \(n) byte(s) at \(from)"
        }
        b.insert(contentsOf: block, at: Swift.min(at, b.count))
        mutations.append(FuzzMutation(.insert, "\(what) at \(Swift.min(at, input.count))"))
        return b
    }
}

// MARK: - Length fields

/// A length/count field in a binary header.
public struct FuzzLengthField {
    public let name: String
    public let offset: Int
    public let width: Int
    public let bigEndian: Bool

    public init(name: String, offset: Int, width: Int, bigEndian: Bool) {
        self.name = name
        self.offset = offset
        self.width = width
        self.bigEndian = bigEndian
    }

    public func read(_ b: [UInt8]) -> UInt64 {
        var v: UInt64 = 0
        for j in 0..<width {
            let byte = UInt64(b[offset + (bigEndian ? j : width - 1 - j)])
            v = v << 8 | byte
        }
        return v
    }

    public func write(_ value: UInt64, into b: inout [UInt8]) {
        var v = value
        for j in 0..<width {
            b[offset + (bigEndian ? width - 1 - j : j)] = UInt8(v & 0xff)
            v >>= 8
        }
    }

    /// Values worth trying given the current one: 0, 1, off by one, huge, negative as signed.
    public func interestingValues(current v: UInt64) -> [(UInt64, String)] {
        let maxValue: UInt64 = width == 8 ? .max : (1 << UInt64(8 * width)) - 1
        let signMin: UInt64 = 1 << UInt64(8 * width - 1)
        var out: [(UInt64, String)] = [(0, "0"), (1, "1"), (v &- 1, "\(v) - 1 (one short)"), (v &+ 1, "\(v) + 1 (one over)"),
                                      (v &* 2, "2x (\(v &* 2))"), (65536, "65536"), (signMin - 1, "the largest signed value"),
                                      (signMin, "negative as signed (\(signMin))"), (maxValue, "-1 as signed (all ones)"),
                                      (maxValue - 7, "-8 as signed")]
        if width >= 4 { out.append((4_000_000_000 & maxValue, "4e9")) }
        if width == 8 { out += [(1 << 32, "2^32"), (1_000_000_000_000_000_000, "1e18")] }
        return out.filter { $0.0 != v && $0.0 <= maxValue }
    }

    /// An edit per interesting value.
    public func edits(of seedBytes: [UInt8], extra: [(UInt64, String)] = []) -> [FuzzEdit] {
        guard offset + width <= seedBytes.count else { return [] }
        let current = read(seedBytes)
        return (interestingValues(current: current) + extra).map { value, what in
            FuzzEdit("\(name) (\(width) bytes at \(offset), was \(current)) set to \(what)") { b in
                guard offset + width <= b.count else { return b }
                var out = b
                write(value, into: &out)
                return out
            }
        }
    }
}
