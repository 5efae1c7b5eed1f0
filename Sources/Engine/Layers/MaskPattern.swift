import Kernels

/// The active entries of a 0/1 mask M [rows × columns] (row-major) in the layout of sparse
/// rows: row r's entries are at columns `columnIndex[rowStart[r]..<rowStart[r+1]]`, increasing;
/// entry e of the list is the flat position `r · columns + columnIndex[e]`.
///
/// Kept with the mask's nonzero positions as flags (a byte per entry, 1/4 of the mask's
/// bytes), so that `matches(m)` tells whether m still has its nonzeros exactly there: training on the
/// active entries rebuilds the layout only when the mask changed, whoever changed it (a
/// rewiring in Lua, DeepR's op, `setMask`), with nothing to track. (Only which entries are
/// nonzero matters: the values the sparse products read are W_eff = W ⊙ M.)
public final class MaskPattern {
    public let rows: Int, columns: Int
    public private(set) var rowStart: [Int32]
    public private(set) var columnIndex: [Int32]
    /// 1 where the mask was nonzero when the layout was read (or moved), else 0.
    private var active: [UInt8]

    /// The layout of `m`'s entries that are not ±0.
    public init(_ m: Tensor, rows: Int, columns: Int) {
        precondition(m.count == rows * columns, "a mask of \(m.count) entries is not \(rows) × \(columns)")
        self.rows = rows
        self.columns = columns
        // The sparse rows of the mask itself: its positions (the values, 1s, are dropped).
        let layout = SparseRows(dense: m.data, pattern: m.data, rows: rows, columns: columns)
        rowStart = layout.rowStart
        columnIndex = layout.columnIndex
        let x = m.data
        active = (0..<m.count).map { x[$0] != 0 ? 1 : 0 }
    }

    /// The number of active entries.
    public var count: Int { columnIndex.count }

    /// Whether `m` has its nonzero entries exactly at this layout's positions.
    public func matches(_ m: Tensor) -> Bool {
        guard m.count == rows * columns else { return false }
        return compare(m, zeroing: nil)
    }

    /// Whether the entry at flat position p is active here.
    @inline(__always) private func isActive(_ p: Int) -> Bool { active[p] != 0 }

    /// Whether m's nonzeros are at the layout's positions, and (with `x`) x = +0 where m = ±0
    /// in the same pass, as `Parameter.applyMask` (the same bits). Split across the engine's
    /// threads; each chunk compares its part.
    private func compare(_ m: Tensor, zeroing x: Tensor?) -> Bool {
        let n = m.count
        var equal = [Bool](repeating: true, count: Parallel.chunkCount(n, costPerItem: 2))
        let k = m.data, v = x?.data
        active.withUnsafeBufferPointer { f in
            equal.withUnsafeMutableBufferPointer { e in
                Parallel.forChunksIndexed(n, costPerItem: 2) { chunk, r in
                    e[chunk] = MaskPattern.entriesMatch(k, f.baseAddress!, zeroing: v, r)
                }
            }
        }
        return !equal.contains(false)
    }

    /// Entries `r`: whether the mask is nonzero exactly where the flags are 1, and (with x)
    /// x = +0 where the mask is ±0 (the select of `Parameter.applyMask`). One read-only loop
    /// that vectorises (the flags widened, the differences ORed, and the bits of x where the
    /// mask is ±0 ORed as well); x is written only when that found a bit set there (a value,
    /// -0 included, that something wrote under the mask), by the select itself: a mask that
    /// keeps x zeroed costs no writes.
    private static func entriesMatch(_ m: UnsafePointer<Float>, _ f: UnsafePointer<UInt8>, zeroing x: UnsafeMutablePointer<Float>?,
                                     _ r: Range<Int>) -> Bool {
        var diff: UInt32 = 0
        if let x {
            let bits = UnsafeRawPointer(x).assumingMemoryBound(to: UInt32.self)
            var stray: UInt32 = 0
            for i in r {
                let on = m[i] != 0, b = bits[i]   // x read whatever m is, so that this is a select
                diff |= (on ? 1 : 0) ^ UInt32(f[i])
                stray |= b & (on ? 0 : ~0)
            }
            if stray != 0 { for i in r { x[i] = m[i] == 0 ? 0 : x[i] } }
        } else {
            for i in r { diff |= (m[i] != 0 ? 1 : 0) ^ UInt32(f[i]) }
        }
        return diff == 0
    }

    /// x = 0 (+0) where m = ±0, as `Parameter.applyMask` (the same select, the same bits), and
    /// in the same pass whether m's nonzeros are still at this layout's positions: one read of
    /// m for both.
    func applyMask(_ m: Tensor, to x: Tensor) -> Bool {
        precondition(m.count == x.count, "a mask of \(m.count) entries for \(x.count) values")
        guard m.count == rows * columns else {
            let k = m.data, v = x.data
            for i in 0..<m.count { v[i] = k[i] == 0 ? 0 : v[i] }
            return false
        }
        return compare(m, zeroing: x)
    }
}

extension MaskPattern {
    /// The layout and flags of the mask after the entries at the flat positions `removing`
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
        for (i, p) in out.enumerated() where p < 0 || p >= n || !isActive(p) || (i > 0 && out[i - 1] == p) { return false }
        for (i, p) in into.enumerated() where p < 0 || p >= n || isActive(p) || (i > 0 && into[i - 1] == p) { return false }
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
        for p in out { active[p] = 0 }
        for p in into { active[p] = 1 }
        return true
    }
}

extension Parameter {
    /// The layout of the mask's active entries, as a [rows × columns] matrix (nil without a
    /// mask): the one read last while the mask still matches it, else read anew.
    /// `verified`: this pass's `prepareForward` found the mask unchanged (no second read).
    public func activePattern(rows: Int, columns: Int, verified: Bool = false) -> MaskPattern? {
        guard let m = mask else { maskPattern = nil; return nil }
        if let p = maskPattern, p.rows == rows, p.columns == columns, verified || p.matches(m) { return p }
        let p = MaskPattern(m, rows: rows, columns: columns)
        maskPattern = p
        return p
    }
}

extension MaskPattern {
    /// Calls `body` with the flat position of every active entry of `rows` (all by default),
    /// row by row.
    @inline(__always) public func forEachPosition(rows: Range<Int>? = nil, _ body: (Int) -> Void) {
        rowStart.withUnsafeBufferPointer { start in
            columnIndex.withUnsafeBufferPointer { index in
                for r in rows ?? 0..<self.rows {
                    let base = r * columns
                    for e in Int(start[r])..<Int(start[r + 1]) { body(base + Int(index[e])) }
                }
            }
        }
    }
}
