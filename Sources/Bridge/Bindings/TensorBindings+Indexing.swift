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
