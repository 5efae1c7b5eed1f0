/// A stream of n non-negative integers (index gaps, row lengths, column indices, codebook
/// indices), coded in whichever of two ways is shorter (fixed width on a tie):
///
///     byte 0        coding: 0 = fixed width, 1 = canonical Huffman
///     bytes 1-4     n, the number of values (u32, little-endian)
///     coding 0:
///       byte 5      w, the bits per value (0...32; 0 when every value is 0)
///       then        ⌈n·w/8⌉ bytes: the values, w bits each (`BitWriter` order)
///     coding 1:
///       bytes 5-8   u, the number of distinct values (u32 LE; 1...n)
///       then        u LEB128 varints: the distinct values in increasing order, the first
///                   as it is, each next one as (value − previous − 1)
///       then        u bytes: their code lengths, in the same order (`Huffman`)
///       then        the n values' codes (`BitWriter` order), padded to a byte
///
/// The stream is exactly that long: a reader refuses trailing bytes. Readers give the count
/// they expect and the largest value allowed, and check both before allocating.
enum IntegerStream {
    static func encode(_ values: [Int]) -> [UInt8] {
        let fixed = encodeFixed(values)
        guard values.count >= 2 else { return fixed }
        let huffman = encodeHuffman(values)
        return huffman.count < fixed.count ? huffman : fixed
    }

    private static func header(_ coding: UInt8, _ n: Int) -> [UInt8] {
        precondition(n <= Int(UInt32.max))
        return [coding] + littleEndian32(n)
    }

    static func littleEndian32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func encodeFixed(_ values: [Int]) -> [UInt8] {
        let maxValue = values.max() ?? 0
        precondition(values.allSatisfy { $0 >= 0 } && maxValue <= Int(UInt32.max))
        let w = maxValue == 0 ? 0 : Int.bitWidth - maxValue.leadingZeroBitCount
        var writer = BitWriter()
        for v in values { writer.write(UInt32(v), width: w) }
        return header(0, values.count) + [UInt8(w)] + writer.finish()
    }

    static func encodeHuffman(_ values: [Int]) -> [UInt8] {
        var counts = [Int: Int]()
        for v in values { counts[v, default: 0] += 1 }
        let symbols = counts.keys.sorted()
        let lengths = Huffman.lengths(counts: symbols.map { counts[$0]! })
        let codes = Huffman.codes(lengths: lengths)
        var out = header(1, values.count) + littleEndian32(symbols.count)
        var previous = -1
        for s in symbols {
            var d = previous < 0 ? s : s - previous - 1
            previous = s
            repeat {
                let low = UInt8(d & 0x7f)
                d >>= 7
                out.append(d == 0 ? low : low | 0x80)
            } while d != 0
        }
        out += lengths.map { UInt8($0) }
        var index = [Int: Int]()
        for (i, s) in symbols.enumerated() { index[s] = i }
        var writer = BitWriter()
        for v in values {
            let i = index[v]!
            writer.write(codes[i], width: lengths[i])
        }
        return out + writer.finish()
    }

    /// Decodes the stream `bytes[range]`, which must hold exactly `count` values, each at most
    /// `maxValue`; `what` names the stream in errors.
    static func decode(_ bytes: [UInt8], _ range: Range<Int>, count: Int, maxValue: Int, what: String) throws -> [Int] {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count)
        var p = range.lowerBound
        let end = range.upperBound
        func byte() throws -> Int {
            guard p < end else { throw EngineError("\(what): truncated (\(range.count) bytes)") }
            defer { p += 1 }
            return Int(bytes[p])
        }
        func u32() throws -> Int {
            var v = 0
            for k in 0..<4 { v |= try byte() << (8 * k) }
            return v
        }
        let coding = try byte()
        let n = try u32()
        guard n == count else { throw EngineError("\(what): holds \(n) values, expected \(count)") }
        var out = [Int]()
        switch coding {
        case 0:
            let w = try byte()
            guard w <= 32 else { throw EngineError("\(what): \(w) bits per value (at most 32)") }
            let (bits, overflow) = n.multipliedReportingOverflow(by: w)
            guard !overflow, (bits + 7) / 8 == end - p else {
                throw EngineError("\(what): \(end - p) bytes of values, but \(n) values of \(w) bits need \(overflow ? "more" : String((bits + 7) / 8))")
            }
            var reader = BitReader(bytes, from: p, to: end, what: what)
            out.reserveCapacity(n)
            for i in 0..<n {
                let v = Int(try reader.read(width: w))
                guard v <= maxValue else { throw EngineError("\(what): value \(v) at position \(i + 1) is over the largest allowed, \(maxValue)") }
                out.append(v)
            }
            return out
        case 1:
            let u = try u32()
            guard u >= 1, u <= n else { throw EngineError("\(what): \(u) distinct values for \(n) values") }
            // Each distinct value takes at least 2 bytes (its varint and its length).
            guard u <= (end - p) / 2 else { throw EngineError("\(what): \(u) distinct values do not fit in \(end - p) bytes") }
            var symbols = [Int](), previous = -1
            symbols.reserveCapacity(u)
            for _ in 0..<u {
                var d = 0, shift = 0
                while true {
                    let b = try byte()
                    guard shift < 35 else { throw EngineError("\(what): a varint longer than 5 bytes") }
                    d |= (b & 0x7f) << shift
                    shift += 7
                    if b & 0x80 == 0 { break }
                }
                let s = previous < 0 ? d : previous + 1 + d
                guard s <= maxValue else { throw EngineError("\(what): value \(s) in the code table is over the largest allowed, \(maxValue)") }
                symbols.append(s)
                previous = s
            }
            var lengths = [Int]()
            lengths.reserveCapacity(u)
            for _ in 0..<u { lengths.append(try byte()) }
            let decoder = try Huffman.Decoder(lengths: lengths, what: what)
            var reader = BitReader(bytes, from: p, to: end, what: what)
            out.reserveCapacity(n)
            for _ in 0..<n { out.append(symbols[try decoder.decode(&reader, what: what)]) }
            guard reader.bytePosition == end else {
                throw EngineError("\(what): \(end - reader.bytePosition) bytes after the last code")
            }
            return out
        default:
            throw EngineError("\(what): unknown coding \(coding) (0 = fixed width, 1 = Huffman)")
        }
    }
}
