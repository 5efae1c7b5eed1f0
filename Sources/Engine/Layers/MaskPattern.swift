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
    public private(set) var rowStart: [Int32]
    public private(set) var columnIndex: [Int32]
    /// The mask as it was when the layout was read (or moved).
    private var copy: [Float]

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

extension MaskPattern {
    /// The layout and copy of the mask after the entries at the flat positions `removing`
    /// (active here) became 0 and those at `adding` (inactive here) became 1, as reading the
    /// changed mask anew would give them, in O(count + rows + k log k) instead of a pass over
    /// the whole mask: a rewiring that moves a few connections per step (DeepR) keeps the
    /// object, so an optimiser that stepped under it knows the layout it has to update. False,
    /// with nothing changed, when a position to remove is not active here, one to add is
    /// active, or one repeats.
    public func move(removing: [Int], adding: [Int]) -> Bool {
        if removing.isEmpty && adding.isEmpty { return true }
        let n = rows * columns
        let out = removing.sorted(), into = adding.sorted()
        for (i, p) in out.enumerated() where p < 0 || p >= n || copy[p] == 0 || (i > 0 && out[i - 1] == p) { return false }
        for (i, p) in into.enumerated() where p < 0 || p >= n || copy[p] != 0 || (i > 0 && into[i - 1] == p) { return false }
        let oldStart = rowStart, oldIndex = columnIndex   // locals: no exclusivity checks in the loops
        var index = [Int32]()
        index.reserveCapacity(oldIndex.count - out.count + into.count)
        var start = [Int32](repeating: 0, count: rows + 1)
        var o = 0, a = 0
        for r in 0..<rows {
            let base = r * columns, end = base + columns
            let entries = Int(oldStart[r])..<Int(oldStart[r + 1])
            if (o == out.count || out[o] >= end) && (a == into.count || into[a] >= end) {
                index.append(contentsOf: oldIndex[entries])   // a row without a change, copied whole
                start[r + 1] = Int32(index.count)
                continue
            }
            for e in entries {
                let position = base + Int(oldIndex[e])
                while a < into.count && into[a] < position { index.append(Int32(into[a] - base)); a += 1 }
                if o < out.count && out[o] == position { o += 1 } else { index.append(oldIndex[e]) }
            }
            while a < into.count && into[a] < end { index.append(Int32(into[a] - base)); a += 1 }
            start[r + 1] = Int32(index.count)
        }
        rowStart = start
        columnIndex = index
        for p in out { copy[p] = 0 }
        for p in into { copy[p] = 1 }
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
