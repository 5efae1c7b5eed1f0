/// Where the stored entries of a sparse tensor are: increasing flat (row-major, 0-based)
/// positions p_0 < p_1 < ... < p_{nnz-1} in a tensor seen as a matrix of `rows` × `columns`
/// (rows = the first dimension: a layer's outputs). Two layouts, each a set of
/// `IntegerStream`s; the encoder writes whichever is shorter (relative on a tie):
///
/// - **relative** (Deep Compression's relative indices): one stream "gaps", nnz values
///   g_i = p_i − p_{i−1} − 1 with p_{−1} = −1 (the zeros skipped before each entry);
/// - **csr** (compressed sparse rows): "rows", `rows` values, the entries in each row; and
///   "columns", nnz values, each entry's column (increasing within a row).
public enum SparseLayout: String, CaseIterable {
    case relative, csr

    /// The streams of this layout, by name.
    var streamNames: [String] { self == .relative ? ["gaps"] : ["rows", "columns"] }
}

enum SparsePositions {
    /// The shorter encoding of `positions` (increasing, in 0..<rows·columns).
    static func encode(_ positions: [Int], rows: Int, columns: Int) -> (layout: SparseLayout, streams: [(name: String, bytes: [UInt8])]) {
        var gaps = [Int](), previous = -1
        gaps.reserveCapacity(positions.count)
        for p in positions { gaps.append(p - previous - 1); previous = p }
        let relative = [("gaps", IntegerStream.encode(gaps))]
        var rowLengths = [Int](repeating: 0, count: rows), cols = [Int]()
        cols.reserveCapacity(positions.count)
        for p in positions {
            rowLengths[p / columns] += 1
            cols.append(p % columns)
        }
        let csr = [("rows", IntegerStream.encode(rowLengths)), ("columns", IntegerStream.encode(cols))]
        let size = { (s: [(String, [UInt8])]) in s.reduce(0) { $0 + $1.1.count } }
        return size(csr) < size(relative) ? (.csr, csr) : (.relative, relative)
    }

    /// The positions from the streams of `layout` (`stream(name)` gives a stream's bytes),
    /// checked: exactly `count` increasing positions inside the matrix.
    static func decode(_ layout: SparseLayout, count: Int, rows: Int, columns: Int, what: String,
                       stream: (String) throws -> (bytes: [UInt8], range: Range<Int>)) throws -> [Int] {
        let size = rows * columns
        var positions = [Int]()
        positions.reserveCapacity(count)
        switch layout {
        case .relative:
            let s = try stream("gaps")
            let gaps = try IntegerStream.decode(s.bytes, s.range, count: count, maxValue: Swift.max(size - 1, 0), what: "\(what) gaps")
            var p = -1
            for (i, g) in gaps.enumerated() {
                p += g + 1
                guard p < size else { throw EngineError("\(what): entry \(i + 1) lands at position \(p + 1), beyond the \(size) of the tensor") }
                positions.append(p)
            }
        case .csr:
            let r = try stream("rows"), c = try stream("columns")
            let lengths = try IntegerStream.decode(r.bytes, r.range, count: rows, maxValue: columns, what: "\(what) rows")
            let total = lengths.reduce(0, +)  // each ≤ columns, so no overflow for a real tensor
            guard total == count else { throw EngineError("\(what): the rows hold \(total) entries, expected \(count)") }
            let cols = try IntegerStream.decode(c.bytes, c.range, count: count, maxValue: Swift.max(columns - 1, 0), what: "\(what) columns")
            var k = 0
            for (row, n) in lengths.enumerated() {
                var last = -1
                for _ in 0..<n {
                    guard cols[k] > last else {
                        throw EngineError("\(what): in row \(row + 1) column \(cols[k] + 1) follows column \(last + 1); columns must increase")
                    }
                    last = cols[k]
                    positions.append(row * columns + cols[k])
                    k += 1
                }
            }
        }
        return positions
    }
}
