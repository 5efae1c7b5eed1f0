/// Bits in bytes, most significant bit first: the first bit written is bit 7 of byte 0 (the
/// order numpy's `unpackbits` reads). A value of w bits is written from its most significant
/// bit down. The last byte is padded with zero bits.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    private var accumulator: UInt64 = 0
    private var pending = 0  // bits in `accumulator` not yet in `bytes`

    /// Appends the low `width` bits (0...32) of `value`, most significant first.
    mutating func write(_ value: UInt32, width: Int) {
        guard width > 0 else { return }
        accumulator = accumulator << UInt64(width) | UInt64(value) & ((1 << UInt64(width)) - 1)
        pending += width
        while pending >= 8 {
            pending -= 8
            bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt64(pending)))
        }
        accumulator &= (1 << UInt64(pending)) - 1
    }

    /// The bytes, the last one padded with zero bits.
    mutating func finish() -> [UInt8] {
        if pending > 0 {
            bytes.append(UInt8(truncatingIfNeeded: accumulator << UInt64(8 - pending)))
            pending = 0
            accumulator = 0
        }
        return bytes
    }
}

/// Reads what `BitWriter` wrote from `bytes[start..<end]`; every read is bounds-checked and a
/// read past `end` is an error naming `what`.
struct BitReader {
    private let bytes: [UInt8]
    private let end: Int
    private(set) var bitPosition: Int  // absolute, in bits
    private let what: String

    init(_ bytes: [UInt8], from start: Int, to end: Int, what: String) {
        precondition(start >= 0 && start <= end && end <= bytes.count)
        self.bytes = bytes
        self.end = end
        bitPosition = start * 8
        self.what = what
    }

    /// The byte offset just past the last bit read (a partly read byte counts as read).
    var bytePosition: Int { (bitPosition + 7) / 8 }

    @inline(__always) mutating func bit() throws -> UInt32 {
        let byte = bitPosition >> 3
        guard byte < end else { throw EngineError("\(what): the bit stream ends early (after \(bitPosition - 0) bits)") }
        let b = UInt32(bytes[byte] >> UInt8(7 - bitPosition & 7)) & 1
        bitPosition += 1
        return b
    }

    /// `width` bits (0...32) as an unsigned value, most significant first.
    mutating func read(width: Int) throws -> UInt32 {
        var v: UInt64 = 0
        for _ in 0..<width { v = v << 1 | UInt64(try bit()) }
        return UInt32(truncatingIfNeeded: v)
    }
}
