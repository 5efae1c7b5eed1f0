import ArgumentParser
import Bridge
import Engine
import Foundation

/// `workbench imp FILE.ini [key=value ...]`: iterative magnitude pruning with rewinding, as
/// phiandark/SiftingFeatures runs it from one `.ini` file. The settings are read and checked
/// here (`IMPSettings`: every key, its default, `FILE:line` in every error), then handed as
/// the table `opt` to scripts/imp.lua, which runs the experiment (docs/imp.md).
struct ImpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imp",
        abstract: "Iterative magnitude pruning with rewinding (lottery tickets), from a .ini file.",
        discussion: """
        Reads the seed's .ini format ([IO], [Data], [Network], [IMP]; # comments): train for \
        `steps` minibatches drawn with replacement, keep the weights at `weights_step`, prune \
        `prune_ratio` of the surviving weights and biases of each pruned layer by magnitude, \
        rewind the survivors and train again, until a pruned layer keeps fewer than \
        `stop_ratio` of its units connected or after `max_iterations`. key=value arguments \
        override the file's values (Section.key=value is accepted too). `rewind` (step, init, \
        random, none, or a comma-separated list of them) chooses what each iteration starts \
        from. Outputs go to <save_dir>/<prefix>_*: _out.dat, _itdata_<it>.json and \
        .safetensors, _findata.csv and SVG plots. Ctrl-C keeps every finished iteration; \
        restart=T rest_it=<next iteration> continues the run. Keys, outputs and measured \
        figures: docs/imp.md.

        Examples:
          workbench imp inp/imp/lenet300.ini
              LeNet-300-100 on Fashion-MNIST, rewinding to step 30
          workbench imp inp/imp/lenet300.ini rewind=step,random,none prefix=modes
              the lottery-ticket experiment and its two controls, one plot
          workbench imp inp/imp/lenet300.ini steps=300 max_iterations=3 save_dir=out/imp-quick
              a quick run
          workbench imp inp/imp/lenet300.ini restart=T rest_it=4
              continue an interrupted run from iteration 4
          workbench imp -threads 1 inp/imp/basic.ini dataset=mnist
              the seed's basic.ini on MNIST, one thread
        """
    )

    @OptionGroup var engine: ThreadOptions
    @OptionGroup var luaLimits: LuaLimitOptions
    @OptionGroup var tensorBoard: TensorBoardOptions

    @Argument(help: "The experiment's .ini file.")
    var file: String

    @Argument(help: "key=value overrides of the file's settings.")
    var overrides: [String] = []

    func validate() throws {
        try engine.check()
        try luaLimits.check()
        try tensorBoard.check()
    }

    func run() throws {
        engine.apply()
        try runReportingErrors {
            let settings = try IMPSettings(contentsOf: file, overrides: overrides)
            let dir = settings.text("save_dir")!, prefix = settings.text("prefix")!
            let lock = try RunLock.acquire(folder: dir, name: prefix + "_imp", what: settings.outputPath("*"),
                                           flag: "save_dir", hint: "another prefix or save_dir")
            defer { lock.release() }
            let lua = try LuaRuntime()
            luaLimits.apply(to: lua)
            guard let scripts = lua.context.scriptsDirectory else {
                throw CLIError("cannot find the scripts/ folder (with scripts/imp.lua); run from the repository or set WORKBENCH_SCRIPTS")
            }
            var options = Self.options(settings, threads: engine.threads)
            tensorBoard.add(to: &options)
            lua.setGlobal("opt", .record(options))
            do { try lua.run(file: scripts + "/imp.lua") } catch where isInterruption(error) {
                // The script keeps in `imp_resume` the overrides that continue the run.
                if case .string(let resume) = lua.global("imp_resume") {
                    FileHandle.standardError.write(Data("workbench: the finished iterations are saved; continue with: workbench imp \(file) \((overrides + [resume]).joined(separator: " "))\n".utf8))
                }
                throw error
            }
        }
    }

    /// The settings as scripts/imp.lua sees them: `opt.<key>` for every key, `opt.layers`
    /// ({kind = 'f', units = n, prune = true}, ...), `opt.rewind` (a list of modes), `opt.file`
    /// and `opt.place[key]` ("FILE:line: key", for the script's own errors).
    static func options(_ s: IMPSettings, threads: Int) -> [String: LuaValue] {
        var o: [String: LuaValue] = [:], place: [String: LuaValue] = [:]
        for (name, setting) in s.values {
            switch setting.value {
            case .text(let t): o[name] = .string(t)
            case .integer(let i): o[name] = .number(Double(i))
            case .real(let x): o[name] = .number(x)
            case .boolean(let b): o[name] = .boolean(b)
            }
            place[name] = .string(s.place(name))
        }
        o["place"] = .record(place)
        o["file"] = .string(s.file)
        o["threads"] = .number(Double(threads))
        o["rewind"] = .array(s.rewind.map { .string($0) })
        o["layers"] = .array(zip(s.layers, s.prune).map { layer, prune in
            var r: [String: LuaValue] = ["kind": .string(layer.letter), "prune": .boolean(prune)]
            switch layer {
            case .fullyConnected(let n): r["units"] = .number(Double(n))
            case .output: break
            case .convolution(let k, let c, let st): r["kernel"] = .number(Double(k)); r["channels"] = .number(Double(c)); r["stride"] = .number(Double(st))
            case .maxPool(let k, let st): r["kernel"] = .number(Double(k)); r["stride"] = .number(Double(st))
            }
            return .record(r)
        })
        return o
    }
}
