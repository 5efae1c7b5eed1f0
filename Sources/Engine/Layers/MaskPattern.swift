import Kernels

/// The active entries of a 0/1 mask M [rows × columns] (row-major) in the layout of sparse
/// rows: row r's entries are at columns `columnIndex[rowStart[r]..<rowStart[r+1]]`, increasing;
/// entry e of the list is the flat position `r · columns + columnIndex[e]`.
///
/// Kept with a copy of the mask it was read from, so that `matches(m)` (one comparison of the
/// two, which vectorises) tells whether the mask is still the same: training on the active
/// entries rebuilds the layout only when the mask changed, whoever changed it (a rewiring in
/// Lua, DeepR's op, `setMask`), with nothing to track.
public final class MaskPattern {
    public let rows: Int, columns: Int
    public let rowStart: [Int32]
    public let columnIndex: [Int32]
    /// The mask as it was when the layout was read.
    private let copy: [Float]

    /// The layout of `m`'s entries that are not ±0.
    public init(_ m: Tensor, rows: Int, columns: Int) {
        precondition(m.count == rows * columns, "a mask of \(m.count) entries is not \(rows) × \(columns)")
        self.rows = rows
        self.columns = columns
        // The sparse rows of the mask itself: its positions (the values, 1s, are dropped).
        let layout = SparseRows(dense: m.data, pattern: m.data, rows: rows, columns: columns)
        rowStart = layout.rowStart
        columnIndex = layout.columnIndex
        copy = Array(m.buffer)
    }

    /// The number of active entries.
    public var count: Int { columnIndex.count }

    /// Whether `m` is, bit for bit, the mask this layout was read from.
    public func matches(_ m: Tensor) -> Bool {
        guard m.count == copy.count else { return false }
        return copy.withUnsafeBufferPointer { c in
            MaskPattern.equalBits(UnsafeRawPointer(m.data), UnsafeRawPointer(c.baseAddress!), count: m.count)
        }
    }

    /// Whether two float arrays are the same bit patterns: XORs of 8 lanes ORed together, with
    /// no branch inside a stretch of 1,024 entries; a difference stops at the end of its stretch.
    static func equalBits(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count n: Int) -> Bool {
        var i = 0
        while i + 8 <= n {
            var diff = SIMD8<UInt32>()
            let end = Swift.min(n, i + 1024) & ~7
            while i < end {
                diff |= a.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<UInt32>.self) ^ b.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<UInt32>.self)
                i += 8
            }
            if diff != SIMD8<UInt32>() { return false }
        }
        while i < n {
            if a.load(fromByteOffset: 4 * i, as: UInt32.self) != b.load(fromByteOffset: 4 * i, as: UInt32.self) { return false }
            i += 1
        }
        return true
    }
}

extension Parameter {
    /// The layout of the mask's active entries, as a [rows × columns] matrix (nil without a
    /// mask): the one read last while the mask still matches it, else read anew.
    public func activePattern(rows: Int, columns: Int) -> MaskPattern? {
        guard let m = mask else { maskPattern = nil; return nil }
        if let p = maskPattern, p.rows == rows, p.columns == columns, p.matches(m) { return p }
        let p = MaskPattern(m, rows: rows, columns: columns)
        maskPattern = p
        return p
    }
}

extension MaskPattern {
    /// Calls `body` with the flat position of every active entry, row by row.
    @inline(__always) public func forEachPosition(_ body: (Int) -> Void) {
        rowStart.withUnsafeBufferPointer { start in
            columnIndex.withUnsafeBufferPointer { index in
                for r in 0..<rows {
                    let base = r * columns
                    for e in Int(start[r])..<Int(start[r + 1]) { body(base + Int(index[e])) }
                }
            }
        }
    }
}
