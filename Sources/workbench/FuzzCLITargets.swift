import Bridge
import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// The fuzz targets that live in the command line rather than in the Engine: the flow's
// `.conf` files (read by Lua) and the harness's self-test.

/// The `.conf` files of the default flow (two CSV lines), read by scripts/lib/flow.lua's
/// `flow.readConf` in a Lua runtime.
final class ConfFuzzTarget: FuzzTarget {
    let name = "conf"
    let fileExtension = "conf"
    let seeds = [FuzzSeeds.conf(name: "lenet5.conf", text: "1,4,8,10,12\n0.5,0.7,0.95,0.7,0.5\n"),
                 FuzzSeeds.conf(name: "tiny.conf", text: "2,4\n0.5,0.25\n")]
    let schedule: [FuzzMutationKind] = [.text, .bitFlip, .text, .truncate, .byteSet, .text, .insert, .delete]
    private let lua: LuaRuntime

    init() throws {
        lua = try LuaRuntime()
        guard lua.context.scriptsDirectory != nil else {
            throw CLIError("cannot find the scripts/ folder (with scripts/lib/flow.lua); run from the repository or set WORKBENCH_SCRIPTS")
        }
    }

    func run(path: String, mutant: FuzzMutant) throws -> FuzzOutcome {
        lua.setGlobal("fuzzConf", .string(path))
        let result: [LuaValue]
        do {
            result = try lua.run(string: """
                local flow = require 'lib.flow'
                local layers, fractions = flow.readConf(fuzzConf)
                for i, l in ipairs(layers) do
                  if math.type(l) ~= 'integer' then return 'layer ' .. i .. ' is not an integer: ' .. tostring(l) end
                end
                for i, p in ipairs(fractions) do
                  if p ~= p then return 'fraction ' .. i .. ' is NaN' end
                end
                if #layers ~= #fractions then return #layers .. ' layers but ' .. #fractions .. ' fractions' end
                return 'ok'
                """, chunkName: "fuzz-conf")
        } catch let e as LuaError {
            throw FuzzError(e.message)
        }
        lua.collectGarbage()
        if case .string(let s) = result.first, s != "ok" { return FuzzOutcome(.wrong, s) }
        return FuzzOutcome(.accepted)
    }
}

/// A hidden format that checks the harness itself: input 4k+1 crashes (a Swift trap), 4k+2
/// hangs, 4k+3 runs away with memory, the others are accepted.
final class SelfTestFuzzTarget: FuzzTarget {
    static let formatName = "selftest"
    let name = SelfTestFuzzTarget.formatName
    let fileExtension = "bin"
    let seeds = [FuzzSeed(name: "bytes", bytes: Array("selftest".utf8))]
    let schedule: [FuzzMutationKind] = [.bitFlip]

    func run(path: String, mutant: FuzzMutant) throws -> FuzzOutcome {
        switch mutant.index % 4 {
        case 1:
            let empty = [Int]()
            return FuzzOutcome(.accepted, "\(empty[mutant.index])")
        case 2:
            while true { sleep(1) }
        case 3:
            let n = 1 << 29
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
            p.initialize(repeating: 1, count: n)
            sleep(2)
            p.deallocate()
            return FuzzOutcome(.accepted)
        default:
            return FuzzOutcome(.accepted)
        }
    }
}
