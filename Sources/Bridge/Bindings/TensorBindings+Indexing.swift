import CLua
import Engine
import Foundation

/// `t[i]`, `t[{i, j}]` and assignment to them, 1-based.
extension TensorBindings {
    /// t[i] for 1 ≤ i ≤ size(1) (negative counts from the end): a number for a 1D tensor, a
    /// view of the i-th slice otherwise.
    static func subTensor(_ call: LuaCall, _ t: Tensor, _ index: Int, argument: Int? = nil) throws -> Tensor {
        guard t.dim >= 1, t.shape[0] > 0 else { throw LuaArgumentError("cannot index an empty tensor") }
        let i = index < 0 ? t.shape[0] + index : index - 1
        guard i >= 0 && i < t.shape[0] else {
            throw LuaArgumentError("index \(index) out of range: dimension 1 has size \(t.shape[0]) (1..\(t.shape[0]))")
        }
        return t.slice(i)
    }

    /// The element or sub-tensor at a path of indices `{i, j, ...}`.
    static func walk(_ call: LuaCall, _ t: Tensor, _ path: [Int]) throws -> Tensor {
        guard path.count <= t.dim else {
            throw LuaArgumentError("\(path.count) indices for a \(t.dim)D tensor")
        }
        var x = t
        for i in path { x = try subTensor(call, x, i) }
        return x
    }

    /// The sub-tensor `t[i]` or `t[{i, j, ...}]` names (key at 2), or nil for another key.
    static func indexed(_ call: LuaCall) throws -> Tensor? {
        let t = try call.tensor(1)
        if call.isNumber(2) { return try subTensor(call, t, try integerKey(call)) }
        if call.isTable(2) { return try walk(call, t, try call.integerArray(2)) }
        return nil
    }

    static let index: LuaFunction = { call in
        guard let x = try indexed(call) else { return 0 }
        if x.dim == 0 { call.push(x[0]) } else { call.push(x) }
        return 1
    }

    static let newIndex: LuaFunction = { call in
        guard let x = try indexed(call) else { return 0 }
        if call.isNumber(3) {
            x.fill(try call.float(3))
        } else if let src: Tensor = call.object(3, className) {
            guard src.count == x.count else {
                throw LuaArgumentError("cannot assign a tensor of size \(shapeString(src.shape)) to a slice of size \(shapeString(x.shape))")
            }
            x.copy(from: src)
        } else {
            throw LuaArgumentError("cannot assign a \(call.typeName(3)) to a tensor element (number or tensor expected)")
        }
        return 1
    }

    static func integerKey(_ call: LuaCall) throws -> Int {
        let v = try call.number(2)
        guard v.rounded() == v, Swift.abs(v) < 9e15 else { throw LuaArgumentError("tensor index \(v) is not an integer") }
        return Int(v)
    }
}

/// Torch's indexed methods along dimension 1, with a tensor of 1-based indices:
/// `t:index(1, idx)` (a new tensor of the rows idx), `t:indexFill(1, idx, v)`,
/// `t:indexCopy(1, idx, src)`, `t:indexAdd(1, idx, src)` (repeated indices accumulate),
/// and `t:nonzero()` (the 1-based positions of the nonzero elements of the flat tensor, as a
/// 1D tensor: Torch gives an n×dim table of coordinates; here flat positions, what a view(-1)
/// of a weight needs).
extension TensorBindings {
    /// The dimension argument at 2, which must be 1, and the 1-based index tensor at 3.
    static func rowsArgument(_ call: LuaCall, _ what: String) throws -> [Int] {
        let t = try call.tensor(1)
        let d = try call.integer(2)
        guard d == 1 || (d == -1 && t.dim == 1) else {
            throw call.argumentError(2, "\(what) works along dimension 1 only (got \(d)); use a view")
        }
        do { return try call.tensor(3).oneBasedRows(what) } catch let e as EngineError {
            throw call.argumentError(3, e.message)
        }
    }

    static let indexedMethods: [String: LuaFunction] = [
        "index": { call in
            let rows = try rowsArgument(call, "index")
            call.push(try call.tensor(1).indexSelect(rows: rows))
            return 1
        },
        "indexFill": returningSelf { call, t in try t.indexFill(rows: try rowsArgument(call, "indexFill"), try call.float(4)) },
        "indexCopy": returningSelf { call, t in try t.indexCopy(rows: try rowsArgument(call, "indexCopy"), from: try call.tensor(4)) },
        "indexAdd": returningSelf { call, t in try t.indexAdd(rows: try rowsArgument(call, "indexAdd"), from: try call.tensor(4)) },
        "nonzero": { call in
            let p = try call.tensor(1).nonzeroPositions()
            call.push(Tensor(shape: [p.count], values: p.map { Float($0 + 1) }))
            return 1
        },
    ]
}
