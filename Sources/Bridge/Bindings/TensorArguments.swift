import CLua
import Engine

/// Reading and pushing tensors and sizes (Torch's `LongStorage`) in Swift functions.
extension LuaCall {
    /// Pushes `t` as a `torch.FloatTensor` userdata (the same userdata for the same tensor
    /// while Lua holds it).
    public func push(_ t: Tensor) { pushObject(t, className: TensorBindings.className) }

    /// Pushes an optional tensor, nil when absent.
    public func push(_ t: Tensor?) { if let t { push(t) } else { pushNil() } }

    public func isTensor(_ i: Int) -> Bool { object(i, TensorBindings.className, as: Tensor.self) != nil }

    /// The tensor argument at `i`.
    public func tensor(_ i: Int) throws -> Tensor {
        try requireObject(i, TensorBindings.className, expected: "torch.FloatTensor")
    }

    public func optionalTensor(_ i: Int) throws -> Tensor? { isNoneOrNil(i) ? nil : try tensor(i) }

    /// Whether the value at `i` is a size table (`t:size()`, `torch.LongStorage{...}`).
    public func isSizeTable(_ i: Int) -> Bool {
        guard isTable(i), lua_getmetatable(L, Int32(i)) != 0 else { return false }
        wb_getmetatable_named(L, TensorBindings.sizeClassName)
        let same = lua_rawequal(L, -1, -2) != 0
        wb_pop(L, 2)
        return same
    }

    /// Sizes given from argument `i` on, as Torch accepts them: numbers `(2, 3)`, or one table
    /// (`t:size()`, `torch.LongStorage{2, 3}`, `{2, 3}`). `allowInferred` accepts one -1
    /// (for `view`). No arguments give `[]`.
    public func sizes(from i: Int, allowInferred: Bool = false) throws -> [Int] {
        var s: [Int]
        if isTable(i) {
            s = try integerArray(i)
            guard argumentCount <= i else { throw argumentError(i + 1, "no more arguments expected after a size table") }
        } else {
            s = []
            var k = i
            while k <= argumentCount {
                s.append(try integer(k))
                k += 1
            }
        }
        let inferred = s.filter { $0 == -1 }.count
        for (k, d) in s.enumerated() where d < 0 && !(allowInferred && d == -1 && inferred == 1) {
            throw argumentError(isTable(i) ? i : i + k, "size \(d) is not allowed (sizes must be >= 0\(allowInferred ? ", or one -1" : ""))")
        }
        try TensorBindings.checkElementCount(s.filter { $0 >= 0 }, call: self)
        return s
    }

    /// Pushes sizes as a `torch.LongStorage`-like table: `s[1]`, `#s`, `s:size()`,
    /// `tostring(s)` work as in Torch.
    public func pushSizes(_ s: [Int]) {
        lua_createtable(L, Int32(s.count), 0)
        for (k, d) in s.enumerated() {
            lua_pushinteger(L, lua_Integer(d))
            lua_rawseti(L, -2, lua_Integer(k + 1))
        }
        luaL_setmetatable(L, TensorBindings.sizeClassName)
    }

    /// A dimension argument (1-based in Lua, negative counts from the end) as a 0-based index.
    public func dimension(_ i: Int, of t: Tensor) throws -> Int {
        let d = try integer(i)
        let z = d < 0 ? t.dim + d : d - 1
        guard z >= 0 && z < t.dim else {
            throw argumentError(i, "dimension \(d) out of range for a \(t.dim)D tensor")
        }
        return z
    }

    /// A tensor with as many elements as `t`, for elementwise operations.
    public func tensor(_ i: Int, sameCountAs t: Tensor) throws -> Tensor {
        let x = try tensor(i)
        guard x.count == t.count else {
            throw argumentError(i, "tensor of size \(shapeString(x.shape)) does not match size \(shapeString(t.shape)) (\(x.count) vs \(t.count) elements)")
        }
        return x
    }
}
