/// Indexed access along dimension 1 (Torch's `index`, `indexFill`, `indexCopy`, `indexAdd`,
/// `nonzero`): the slices of dimension 1 are rows of `count / shape[0]` elements, and a list
/// of 0-based row numbers picks them. Sparse training keeps its active and grown positions as
/// such lists over a weight's flat view, so a rewiring touches only those entries.
extension Tensor {
    /// Elements per slice of dimension 1.
    var rowLength: Int { shape.isEmpty || shape[0] == 0 ? 0 : count / shape[0] }

    /// Checks every row number against dimension 1 (`what` names the operation in the error).
    func checkRows(_ rows: [Int], _ what: String) throws {
        let n = dim == 0 ? 0 : shape[0]
        for r in rows where r < 0 || r >= n {
            throw EngineError("\(what): index \(r + 1) out of range: dimension 1 has size \(n) (1..\(n))")
        }
    }

    /// y[i] = self[rows[i]]: a new tensor with `rows.count` slices (Torch's `index(1, idx)`).
    public func indexSelect(rows: [Int]) throws -> Tensor {
        try checkRows(rows, "index")
        let len = rowLength
        let out = Tensor(shape: [rows.count] + Array(shape.dropFirst()))
        let p = data, q = out.data
        if len == 1 {
            for (i, r) in rows.enumerated() { q[i] = p[r] }
        } else {
            for (i, r) in rows.enumerated() { (q + i * len).update(from: p + r * len, count: len) }
        }
        return out
    }

    /// self[rows[i]] = value for every i.
    public func indexFill(rows: [Int], _ value: Float) throws {
        try checkRows(rows, "indexFill")
        let len = rowLength, p = data
        for r in rows { (p + r * len).update(repeating: value, count: len) }
    }

    /// self[rows[i]] = src[i]; `src` has `rows.count` slices of this tensor's row length.
    /// A row named twice gets the later slice.
    public func indexCopy(rows: [Int], from src: Tensor) throws {
        try checkRows(rows, "indexCopy")
        let len = rowLength
        guard src.count == rows.count * len else {
            throw EngineError("indexCopy: \(rows.count) indices need a source of \(rows.count * len) elements, got \(shapeString(src.shape))")
        }
        let p = data, q = src.data
        for (i, r) in rows.enumerated() { (p + r * len).update(from: q + i * len, count: len) }
    }

    /// self[rows[i]] += alpha·src[i], in the order of `rows`: a row named several times gets the
    /// sum of its slices (the scatter-add of tied weights' gradients), the same bits every run.
    public func indexAdd(rows: [Int], from src: Tensor, alpha: Float = 1) throws {
        try checkRows(rows, "indexAdd")
        let len = rowLength
        guard src.count == rows.count * len else {
            throw EngineError("indexAdd: \(rows.count) indices need a source of \(rows.count * len) elements, got \(shapeString(src.shape))")
        }
        let p = data, q = src.data
        if len == 1 {
            for (i, r) in rows.enumerated() { p[r] += alpha * q[i] }
        } else {
            for (i, r) in rows.enumerated() {
                let a = p + r * len, b = q + i * len
                for j in 0..<len { a[j] += alpha * b[j] }
            }
        }
    }

    /// The 0-based flat positions of the nonzero elements, in increasing order (NaN counts as
    /// nonzero, as in Torch).
    public func nonzeroPositions() -> [Int] {
        var out = [Int]()
        let p = data
        for i in 0..<count where p[i] != 0 { out.append(i) }
        return out
    }

    /// The tensor's values as 0-based row numbers: each must be a whole number in
    /// 1...2^24 (exact in float32), 1-based as Lua writes them.
    public func oneBasedRows(_ what: String) throws -> [Int] {
        let p = data, n = count
        // One pass without branches (v in range and v = (float)(int)v), so that it vectorises;
        // the first bad index is looked for only when there is one.
        var bad: UInt32 = 0
        let out = [Int](unsafeUninitializedCapacity: n) { buffer, initialised in
            let o = buffer.baseAddress!
            for i in 0..<n {
                let v = p[i]
                let inRange = v >= 1 && v <= 16_777_216   // out of range (or NaN): r = 1, which differs from v
                let r = Int32(inRange ? v : 1)
                bad |= (Float(r) == v ? 0 : 1)
                o[i] = Int(r) - 1
            }
            initialised = n
        }
        if bad == 0 { return out }
        for i in 0..<n {
            let v = p[i]
            guard v >= 1, v <= 16_777_216, Float(Int32(v)) == v else {
                throw EngineError("\(what): index \(v) at position \(i + 1) is not a positive whole number (1-based, at most 2^24)")
            }
        }
        return out
    }
}
