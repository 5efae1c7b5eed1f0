import CLua
import Engine

/// Datasets in Lua: `local train, test = wb.loadData('fashion-mnist', {train = 6000})`.
/// A dataset is read-only: `#d` or `d:size()` images, `d.name`, `d.classes`,
/// `d:subset(n, seed)` (seeded random subset), `d:head(n)` (the first n),
/// `d:batch(i, j)` (images i..j as a [n, C, H, W] tensor and their 1-based labels),
/// `d:relabel(map, classes)` (labels mapped to other classes).
public enum DatasetBindings: LuaBindingArea {
    public static let className = "wb.Dataset"

    public static func install(in lua: LuaRuntime) throws {
        lua.register(LuaClass(name: className, methods: methods, metamethods: metamethods, getField: field))
        lua.register(library: "wb", [
            // wb.loadData(nameOrFolder [, {train = N, test = N, root = 'data'}]) -> train, test
            "loadData": { call in
                let name = try call.string(1)
                let o = try LuaOptions(call, 2, allowed: ["train", "test", "root"])
                let train = try o.integer("train", default: 0, atLeast: 0)
                let test = try o.integer("test", default: 0, atLeast: 0)
                let splits = try Datasets.load(name, trainLimit: train == 0 ? nil : train, testLimit: test == 0 ? nil : test,
                                               dataRoot: try o.string("root") ?? "data")
                call.pushObject(splits.train, className: className)
                call.pushObject(splits.test, className: className)
                return 2
            },
        ])
    }

    static func dataset(_ call: LuaCall, _ i: Int) throws -> Dataset {
        try call.requireObject(i, className, expected: "dataset (from wb.loadData)")
    }

    static let methods: [String: LuaFunction] = [
        "size": { call in call.push(try dataset(call, 1).count); return 1 },
        "subset": { call in
            let d = try dataset(call, 1)
            let n = try call.integer(2, atLeast: 1)
            let seed = try call.optionalInteger(3) ?? 0
            call.pushObject(d.randomSubset(n, seed: UInt64(truncatingIfNeeded: seed)), className: className)
            return 1
        },
        "head": { call in
            let d = try dataset(call, 1)
            call.pushObject(d.prefix(try call.integer(2, atLeast: 0)), className: className)
            return 1
        },
        // d:tail(n): the last n images
        "tail": { call in
            let d = try dataset(call, 1)
            call.pushObject(d.suffix(try call.integer(2, atLeast: 0)), className: className)
            return 1
        },
        // d:relabel(map, classes): label c becomes map[c] (1-based, one entry per class), classes in all
        "relabel": { call in
            let d = try dataset(call, 1)
            let map = try call.integerArray(2)
            let classes = try call.integer(3, atLeast: 1)
            if let k = map.firstIndex(where: { $0 < 1 || $0 > classes }) {
                throw call.argumentError(2, "class \(k + 1) maps to \(map[k]), outside 1..\(classes)")
            }
            do { call.pushObject(try d.relabelled(map.map { $0 - 1 }, classes: classes), className: className) } catch let e as EngineError {
                throw call.error(e.message)
            }
            return 1
        },
        "batch": { call in
            let d = try dataset(call, 1)
            let i = try call.integer(2, atLeast: 1)
            let j = try call.optionalInteger(3) ?? d.count
            guard i <= j, j <= d.count else { throw call.error("batch(\(i), \(j)): the dataset has images 1..\(d.count)") }
            let x = Tensor(), y = Tensor()
            d.fillBatch((i - 1)..<j, inputs: x, targets: y)
            y.addScalar(1)
            call.push(x)
            call.push(y)
            return 2
        },
    ]

    static let metamethods: [String: LuaFunction] = [
        "__len": { call in call.push(try dataset(call, 1).count); return 1 },
        "__tostring": { call in
            let d = try dataset(call, 1)
            call.push("wb.Dataset(\(d.name): \(d.count) images of \(d.channels)x\(d.height)x\(d.width), \(d.classes) classes)")
            return 1
        },
    ]

    static let field: LuaFunction = { call in
        let d = try dataset(call, 1)
        switch try call.string(2) {
        case "name": call.push(d.name)
        case "classes": call.push(d.classes)
        case "channels": call.push(d.channels)
        case "height": call.push(d.height)
        case "width": call.push(d.width)
        default: return 0
        }
        return 1
    }
}
