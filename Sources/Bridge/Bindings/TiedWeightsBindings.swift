import CLua
import Engine

/// Tied weights' gradient sums (Engine `TiedWeights`), from Lua:
/// `local t = wb.TiedWeights(buckets, B)` with `buckets` a tensor of each position's value
/// (1-based, 1...B); `t:sumGradients(gradWeight, weight [, rescale [, l1]])` replaces each
/// position's gradient by its value's sum over positions (÷ the value's count with `rescale`,
/// + l1·sign(value)), in place; `t.counts` is the tensor of positions per value.
public enum TiedWeightsBindings: LuaBindingArea {
    public static let className = "wb.TiedWeights"

    public static func install(in lua: LuaRuntime) throws {
        lua.register(LuaClass(name: className, methods: methods, metamethods: [
            "__tostring": { call in
                let t = try tied(call, 1)
                call.push("wb.TiedWeights(\(t.values) values over \(t.buckets.count) positions)")
                return 1
            },
        ], getField: { call in
            let t = try tied(call, 1)
            switch try call.string(2) {
            case "counts": call.push(Tensor(shape: [t.values], values: t.counts))
            default: return 0
            }
            return 1
        }))
        lua.register(library: "wb", [
            // wb.TiedWeights(buckets, values) -> the map of positions to shared values
            "TiedWeights": { call in
                let values = try call.integer(2)
                let buckets: [Int]
                do { buckets = try call.tensor(1).oneBasedRows("wb.TiedWeights") } catch let e as EngineError {
                    throw call.argumentError(1, e.message)
                }
                do { call.pushObject(try TiedWeights(buckets: buckets, values: values), className: className) } catch let e as EngineError {
                    throw call.error(e.message)
                }
                return 1
            },
        ])
    }

    static func tied(_ call: LuaCall, _ i: Int) throws -> TiedWeights {
        try call.requireObject(i, className, expected: "tied weights (from wb.TiedWeights)")
    }

    static let methods: [String: LuaFunction] = [
        // t:sumGradients(gradWeight, weight [, rescale [, l1]]) -> t
        "sumGradients": { call in
            let t = try tied(call, 1)
            let g = try call.tensor(2), w = try call.tensor(3)
            let rescale = try call.boolean(4, default: false)
            let l1 = try call.optionalNumber(5) ?? 0
            guard l1.isFinite && l1 >= 0 else { throw call.argumentError(5, "l1 must be a finite number >= 0, got \(l1)") }
            do { try t.sumGradients(g, weight: w, rescale: rescale, l1: Float(l1)) } catch let e as EngineError {
                throw call.error(e.message)
            }
            lua_settop(call.L, 1)
            return 1
        },
    ]
}
