/// Canonical Huffman codes (as DEFLATE's): only the code length of each symbol is stored; the
/// codes follow from the lengths. Symbols sorted by (length, symbol value) get consecutive
/// codes: the first code is 0, and each next code is (previous + 1) shifted left by the growth
/// in length. Lengths are 1...`maxLength`; a single symbol has length 0 (no bits at all).
enum Huffman {
    /// The longest code (the lengths are limited so a code fits a 32-bit read).
    static let maxLength = 24

    /// Code lengths for symbols with these counts (all ≥ 1), from Huffman's construction with
    /// ties broken by creation order (so the lengths are deterministic); when a length would
    /// exceed `maxLength`, the counts are halved (rounding up) and the code built again.
    static func lengths(counts: [Int]) -> [Int] {
        precondition(!counts.isEmpty && counts.allSatisfy { $0 >= 1 })
        if counts.count == 1 { return [0] }
        var weights = counts
        while true {
            let l = unlimitedLengths(weights)
            if l.max()! <= maxLength { return l }
            weights = weights.map { ($0 + 1) / 2 }
        }
    }

    /// Huffman's construction: a min-heap of (weight, order) over leaves and merged nodes.
    private static func unlimitedLengths(_ weights: [Int]) -> [Int] {
        let n = weights.count
        var parent = [Int](repeating: -1, count: 2 * n - 1)
        var heap = Heap()
        for (i, w) in weights.enumerated() { heap.push((w, i)) }
        var next = n
        while heap.count > 1 {
            let a = heap.pop(), b = heap.pop()
            parent[a.1] = next
            parent[b.1] = next
            heap.push((a.0 + b.0, next))
            next += 1
        }
        // Depth of each node: the root (last made) is 0; a parent is always made after its children.
        var depth = [Int](repeating: 0, count: 2 * n - 1)
        for node in stride(from: 2 * n - 3, through: 0, by: -1) { depth[node] = depth[parent[node]] + 1 }
        return Array(depth[0..<n])
    }

    /// The canonical code of each symbol (index into `lengths`).
    static func codes(lengths: [Int]) -> [UInt32] {
        let order = lengths.indices.sorted { (lengths[$0], $0) < (lengths[$1], $1) }
        var codes = [UInt32](repeating: 0, count: lengths.count)
        var code: UInt32 = 0, previous = lengths[order[0]]
        for (k, s) in order.enumerated() {
            if k > 0 { code = (code + 1) << UInt32(lengths[s] - previous) }
            previous = lengths[s]
            codes[s] = code
        }
        return codes
    }

    /// A decoder for canonical codes of `lengths` (1...maxLength each, or one symbol of
    /// length 0), checked to be a prefix code (Kraft sum ≤ 1).
    struct Decoder {
        private var counts = [Int](repeating: 0, count: Huffman.maxLength + 1)
        private var sorted: [Int] = []  // symbol indices by (length, index)
        private let single: Bool

        init(lengths: [Int], what: String) throws {
            single = lengths.count == 1
            if single {
                guard lengths[0] == 0 else { throw EngineError("\(what): a one-symbol code must have length 0, got \(lengths[0])") }
                sorted = [0]
                return
            }
            var kraft: UInt64 = 0  // in units of 2^-maxLength
            for l in lengths {
                guard (1...Huffman.maxLength).contains(l) else {
                    throw EngineError("\(what): code length \(l) is outside 1...\(Huffman.maxLength)")
                }
                counts[l] += 1
                kraft += 1 << UInt64(Huffman.maxLength - l)
            }
            guard kraft <= 1 << UInt64(Huffman.maxLength) else {
                throw EngineError("\(what): the code lengths do not form a prefix code (Kraft sum over 1)")
            }
            sorted = lengths.indices.sorted { (lengths[$0], $0) < (lengths[$1], $1) }
        }

        /// The next symbol index from `reader`.
        @inline(__always) func decode(_ reader: inout BitReader, what: String) throws -> Int {
            if single { return 0 }
            var code = 0, first = 0, index = 0
            for len in 1...Huffman.maxLength {
                code |= Int(try reader.bit())
                let count = counts[len]
                if code - first < count { return sorted[index + code - first] }
                index += count
                first = (first + count) << 1
                code <<= 1
            }
            throw EngineError("\(what): a bit pattern that is no code of the table")
        }
    }
}

/// A binary min-heap of (weight, order) pairs, smallest weight first, then smallest order.
private struct Heap {
    private var items: [(Int, Int)] = []
    var count: Int { items.count }

    private static func less(_ a: (Int, Int), _ b: (Int, Int)) -> Bool { a.0 != b.0 ? a.0 < b.0 : a.1 < b.1 }

    mutating func push(_ x: (Int, Int)) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard Self.less(items[i], items[p]) else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> (Int, Int) {
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && Self.less(items[l], items[m]) { m = l }
                if r < items.count && Self.less(items[r], items[m]) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
