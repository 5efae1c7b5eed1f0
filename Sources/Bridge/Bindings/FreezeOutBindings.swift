import CLua
import Engine

/// FreezeOut's plan in Lua (`wb.freezeOut`) and the forward cost of a model's modules
/// (`wb.forwardFLOPs`): the numbers come from the Engine (`FreezeOut`, `ForwardCost`); the
/// per-iteration schedule and the freezing run in the script (scripts/lib/freezeout.lua).
public enum FreezeOutBindings: LuaBindingArea {
    public static func install(in lua: LuaRuntime) throws {
        lua.register(library: "wb", functions)
    }

    /// The `input` option: an image shape {C, H, W} of positive integers.
    static func imageShape(_ call: LuaCall, _ o: LuaOptions) throws -> [Int] {
        guard let i = try o.tableIndex("input") else { throw call.error("option 'input' = {channels, height, width} is needed") }
        defer { wb_pop(call.L, 1) }
        let shape = try call.integerArray(i)
        guard shape.count == 3, shape.allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }) else {
            throw call.error("option 'input' must be {channels, height, width}, each in 1...65536, got {\(shape.map(String.init).joined(separator: ", "))}")
        }
        return shape
    }

    static let functions: [String: LuaFunction] = [
        // wb.forwardFLOPs(model, {input = {C, H, W}}) -> {c_1, ..., c_n}: the forward FLOPs of
        // each top-level module for one image
        "forwardFLOPs": { call in
            let model = try WorkbenchBindings.sequential(call, 1)
            let shape = try imageShape(call, try LuaOptions(call, 2, allowed: ["input"]))
            let costs: [Double]
            do { costs = try ForwardCost.perModule(model, imageShape: shape) } catch let e as EngineError { throw call.error(e.message) }
            try call.pushArray(costs) { call.push($0) }
            return 1
        },
        // wb.freezeOut(model, {input = {C, H, W}, t0 = 0.8, howScale = 'cubic', scaleLR = true,
        // lr = 0.1, iterations = J, epochs = n}) -> {speedup = s, constTimeEpochs = n',
        // layers = {{first, last, modules, cost, t, lr, freezeAt, classifier}, ...}}: the layers
        // (1-based module ranges), each one's forward FLOPs c_i, freeze point t_i, initial rate
        // α_i(0) and freeze iteration t_i·J; n' = n / (1 − s) rounded (--const_time)
        "freezeOut": { call in
            let model = try WorkbenchBindings.sequential(call, 1)
            let o = try LuaOptions(call, 2, allowed: ["input", "t0", "howScale", "scaleLR", "lr", "iterations", "epochs"])
            let shape = try imageShape(call, o)
            let t0 = try o.number("t0", default: 0.8)
            let how = try o.string("howScale") ?? "cubic"
            guard let scaling = FreezeOut.Scaling(rawValue: how) else {
                throw call.error("howScale must be linear, squared or cubic, got '\(how)'")
            }
            let scaled = try o.boolean("scaleLR", default: true)
            let lr = try o.number("lr", default: 0.1)
            guard lr.isFinite && lr > 0 else { throw call.error("option 'lr' must be a finite number > 0, got \(lr)") }
            let J = try o.integer("iterations", default: 1, atLeast: 1)
            let epochs = try o.integer("epochs", default: 1, atLeast: 0)
            let layers: [ClosedRange<Int>], costs: [Double], t: [Double], speedup: Double
            do {
                layers = try FreezeOut.layers(of: model)
                costs = try FreezeOut.layerCosts(of: model, layers: layers, imageShape: shape)
                t = try FreezeOut.freezePoints(layers: layers.count, t0: t0, scaling: scaling)
                speedup = try FreezeOut.estimatedSpeedup(costs: costs, freezePoints: t)
            } catch let e as EngineError { throw call.error(e.message) }
            let list: [LuaValue] = layers.indices.map { i in
                .record([
                    "first": .number(Double(layers[i].lowerBound + 1)), "last": .number(Double(layers[i].upperBound + 1)),
                    "modules": .array(layers[i].map { .module(model.modules[$0]) }),
                    "cost": .number(costs[i]), "t": .number(t[i]),
                    "lr": .number(FreezeOut.initialRate(lr, freezePoint: t[i], scaled: scaled)),
                    "freezeAt": .number(t[i] * Double(J)), "classifier": .boolean(i == layers.count - 1),
                ])
            }
            try call.ensureStack(8)
            LuaValue.record(["speedup": .number(speedup), "layers": .array(list),
                             "constTimeEpochs": .number(Double(FreezeOut.constantTimeEpochs(epochs, speedup: speedup)))]).push(call.L)
            return 1
        },
    ]
}
