import Foundation

/// Matrix and vector products, transposition and norms (Torch7's `mm`, `mv`, `addmm`, `addmv`,
/// `addr`, `t`, `transpose`, `norm`). Products run through `BLAS.gemm`. Tensors are always
/// contiguous, so a transpose is a new tensor holding the transposed elements, not a view.
/// Shape errors name the operation and every shape involved.
extension Tensor {
    /// Whether the two tensors share memory (one is a view of the other, or both of a third).
    func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }

    // MARK: matrix products

    /// self = β·M + α·(A·B), for A of shape m×k and B of shape k×n; M has m·n elements and
    /// self is resized to m×n (it must be empty or already hold m·n elements).
    /// β = 0 ignores M's values (NaNs in it included), as BLAS does.
    public func addmm(beta: Float = 1, _ M: Tensor, alpha: Float = 1, _ A: Tensor, _ B: Tensor) throws {
        guard A.dim == 2, B.dim == 2 else {
            throw EngineError("addmm: expected two matrices (2D), got \(A.dim)D (\(shapeString(A.shape))) and \(B.dim)D (\(shapeString(B.shape)))")
        }
        let m = A.shape[0], k = A.shape[1], n = B.shape[1]
        guard B.shape[0] == k else {
            throw EngineError("addmm: matrices of sizes \(shapeString(A.shape)) and \(shapeString(B.shape)) cannot be multiplied (\(k) columns against \(B.shape[0]) rows)")
        }
        try gemmInto(beta: beta, M, alpha: alpha, A, B, m: m, n: n, k: k, shape: [m, n], what: "addmm")
    }

    /// self = β·v₀ + α·(M·v), for M of shape m×k and v a vector of k elements; v₀ has m
    /// elements and self is resized to a vector of m (it must be empty or hold m elements).
    public func addmv(beta: Float = 1, _ v0: Tensor, alpha: Float = 1, _ M: Tensor, _ v: Tensor) throws {
        guard M.dim == 2, v.dim == 1 else {
            throw EngineError("addmv: expected a matrix (2D) and a vector (1D), got \(M.dim)D (\(shapeString(M.shape))) and \(v.dim)D (\(shapeString(v.shape)))")
        }
        let m = M.shape[0], k = M.shape[1]
        guard v.count == k else {
            throw EngineError("addmv: a matrix of size \(shapeString(M.shape)) cannot multiply a vector of size \(v.count) (\(k) columns against \(v.count) elements)")
        }
        try gemmInto(beta: beta, v0, alpha: alpha, M, v, m: m, n: 1, k: k, shape: [m], what: "addmv")
    }

    /// self = β·M + α·(v₁ ⊗ v₂), i.e. self[i][j] = β·M[i][j] + α·v₁[i]·v₂[j], for vectors v₁ of
    /// m and v₂ of n elements; M has m·n elements and self is resized to m×n.
    public func addr(beta: Float = 1, _ M: Tensor, alpha: Float = 1, _ v1: Tensor, _ v2: Tensor) throws {
        guard v1.dim == 1, v2.dim == 1 else {
            throw EngineError("addr: expected two vectors (1D), got \(v1.dim)D (\(shapeString(v1.shape))) and \(v2.dim)D (\(shapeString(v2.shape)))")
        }
        // The outer product is the m×1 by 1×n matrix product.
        try gemmInto(beta: beta, M, alpha: alpha, v1, v2, m: v1.count, n: v2.count, k: 1, shape: [v1.count, v2.count], what: "addr")
    }

    /// A·B for A of shape m×k and B of shape k×n: a new m×n tensor.
    public static func mm(_ A: Tensor, _ B: Tensor) throws -> Tensor {
        let r = Tensor()
        try r.addmm(beta: 0, r, A, B)
        return r
    }

    /// M·v for M of shape m×k and a vector v of k elements: a new vector of m.
    public static func mv(_ M: Tensor, _ v: Tensor) throws -> Tensor {
        let r = Tensor()
        try r.addmv(beta: 0, r, M, v)
        return r
    }

    /// Torch's `a * b` for two tensors: the dot product Σᵢ aᵢbᵢ of two vectors (a number), M·v,
    /// or A·B.
    public static func product(_ a: Tensor, _ b: Tensor) throws -> ProductResult {
        switch (a.dim, b.dim) {
        case (1, 1):
            guard a.count == b.count else { throw EngineError("dot product of vectors of sizes \(a.count) and \(b.count)") }
            return .number(a.dot(b))
        case (2, 1): return .tensor(try mv(a, b))
        case (2, 2): return .tensor(try mm(a, b))
        default:
            throw EngineError("tensor * tensor needs 1D·1D, 2D×1D or 2D×2D operands, got \(a.dim)D (\(shapeString(a.shape))) and \(b.dim)D (\(shapeString(b.shape)))")
        }
    }

    /// What `product` gives: a number for two vectors, else a tensor.
    public enum ProductResult {
        case number(Double)
        case tensor(Tensor)
    }

    /// self = β·C + α·(X·Y) with X read as m×k and Y as k×n (row-major), self resized to
    /// `shape` (m·n elements). Reads C, X and Y before writing self when they share memory.
    private func gemmInto(beta: Float, _ C: Tensor, alpha: Float, _ X: Tensor, _ Y: Tensor,
                          m: Int, n: Int, k: Int, shape newShape: [Int], what: String) throws {
        let size = m * n
        guard count == size || count == 0 else {
            throw EngineError("\(what): the result tensor has size \(shapeString(shape)) (\(count) elements), the product needs \(shapeString(newShape)) (\(size))")
        }
        // An empty self as its own addend (`torch.Tensor():addmm(A, B)`) adds nothing.
        let addend: Tensor? = beta == 0 || (C === self && count == 0) ? nil : C
        if let addend, addend.count != size {
            throw EngineError("\(what): the tensor added has size \(shapeString(addend.shape)) (\(addend.count) elements), the product has size \(shapeString(newShape)) (\(size))")
        }
        let aliased = sharesStorage(with: X) || sharesStorage(with: Y) || (addend.map { $0 !== self && sharesStorage(with: $0) } ?? false)
        let target = aliased ? Tensor(shape: newShape) : resize(newShape)
        if let addend {
            if addend !== target { target.copy(from: addend) }
        } else {
            target.zero()   // β = 0: whatever self held (NaNs included) is not read
        }
        BLAS.gemm(m: m, n: n, k: k, alpha: alpha, a: X.data, b: Y.data, beta: addend == nil ? 0 : beta, c: target.data)
        if aliased {
            resize(newShape)
            copy(from: target)
        }
    }

    // MARK: transposition

    /// The tensor with dimensions `d1` and `d2` (0-based) swapped, as a new contiguous tensor:
    /// out[…, j, …, i, …] = self[…, i, …, j, …].
    public func transposed(_ d1: Int, _ d2: Int) throws -> Tensor {
        guard d1 >= 0, d1 < dim, d2 >= 0, d2 < dim else {
            throw EngineError("transpose: dimensions \(d1 + 1) and \(d2 + 1) out of range for a \(dim)D tensor (\(shapeString(shape)))")
        }
        var outShape = shape
        outShape.swapAt(d1, d2)
        let out = Tensor(shape: outShape)
        if d1 == d2 || count == 0 {
            out.copy(from: self)
            return out
        }
        // Strides of self, permuted to the output's order of dimensions.
        var strides = [Int](repeating: 1, count: dim)
        for d in stride(from: dim - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
        strides.swapAt(d1, d2)
        let p = data, q = out.data
        var index = [Int](repeating: 0, count: dim)
        var source = 0
        for i in 0..<count {
            q[i] = p[source]
            // Next output index, odometer-style, keeping the source offset in step.
            var d = dim - 1
            while d >= 0 {
                index[d] += 1
                source += strides[d]
                if index[d] < outShape[d] { break }
                source -= strides[d] * outShape[d]
                index[d] = 0
                d -= 1
            }
        }
        return out
    }

    /// The transpose of a matrix (Torch's `t()`): out[j][i] = self[i][j], a new tensor.
    public func transposed() throws -> Tensor {
        guard dim == 2 else { throw EngineError("t(): expected a matrix (2D), got a \(dim)D tensor (\(shapeString(shape))); use transpose(d1, d2)") }
        return try transposed(0, 1)
    }

    // MARK: repetition

    /// Torch's `repeatTensor(counts)`: the tensor tiled `counts[d]` times along each dimension
    /// d, its shape right-aligned with `counts` (missing leading dimensions are 1):
    /// out[i₁, …, iₙ] = self[i₁ mod s₁, …, iₙ mod sₙ].
    public func repeated(_ counts: [Int]) throws -> Tensor {
        guard counts.count >= dim else {
            throw EngineError("repeatTensor: \(counts.count) repetition counts for a \(dim)D tensor (\(shapeString(shape))); give at least \(dim)")
        }
        guard counts.allSatisfy({ $0 >= 0 }) else { throw EngineError("repeatTensor: repetition counts must be >= 0, got \(counts)") }
        let inShape = [Int](repeating: 1, count: counts.count - dim) + shape
        let outShape = zip(inShape, counts).map { $0 * $1 }
        let out = Tensor(shape: outShape)
        guard out.count > 0 else { return out }
        var strides = [Int](repeating: 1, count: inShape.count)
        for d in stride(from: inShape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * inShape[d + 1] }
        let p = data, q = out.data
        var index = [Int](repeating: 0, count: outShape.count)
        for i in 0..<out.count {
            var source = 0
            for d in 0..<index.count { source += (index[d] % inShape[d]) * strides[d] }
            q[i] = p[source]
            var d = index.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < outShape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return out
    }

    // MARK: norms

    /// The p-norm (Σᵢ |xᵢ|ᵖ)^(1/p) for p > 0, in double precision.
    public func norm(_ p: Double = 2) throws -> Double {
        guard p > 0, p.isFinite else { throw EngineError("norm: p must be a finite number > 0, got \(p)") }
        let x = data
        var s = 0.0
        if p == 1 {
            for i in 0..<count { s += Double(Swift.abs(x[i])) }
            return s
        }
        if p == 2 {
            for i in 0..<count { s += Double(x[i]) * Double(x[i]) }
            return s.squareRoot()
        }
        for i in 0..<count { s += Foundation.pow(Double(Swift.abs(x[i])), p) }
        return Foundation.pow(s, 1 / p)
    }
}
