import ArgumentParser

/// `workbench`: the root command. Without a subcommand it runs the default one, the
/// reference tool's flow with its single-dash flags (`PruneCommand`); `run` runs any Lua
/// script, `imp` runs iterative magnitude pruning from a .ini file, `freezeout` trains with
/// FreezeOut, `edge-popup` finds a subnetwork of a random net, `sparse-train` runs dynamic
/// sparse training (DSR, SET, DeepR) and its peers, `sweep` runs sensitivity sweeps (in one
/// process, local worker processes or a Slurm job array), `bench` measures the engine,
/// `fuzz` feeds the file loaders mutated files.
struct Workbench: ParsableCommand {
    static let abstract = "Prune, retrain, measure and compare neural networks on the CPU, scripted in Lua."

    static let configuration = CommandConfiguration(
        commandName: "workbench",
        abstract: abstract,
        subcommands: [PruneCommand.self, RunCommand.self, ImpCommand.self, FreezeOutCommand.self, EdgePopupCommand.self, SparseTrainCommand.self, SweepCommand.self, BenchCommand.self, CompressCommand.self, ExportCommand.self, FuzzCommand.self],
        defaultSubcommand: PruneCommand.self
    )

    /// Whether `arguments` ask for the tool's help: `-h`, `--help` or `help` alone, or the
    /// default subcommand's help (`prune --help`, `help prune`: what a usage error of the
    /// flow points to).
    static func isHelpRequest(_ arguments: [String]) -> Bool {
        switch arguments {
        case ["-h"], ["--help"], ["help"], ["prune", "-h"], ["prune", "--help"], ["help", "prune"]: return true
        default: return false
        }
    }

    /// The tool's help: the default flow's (its overview, examples and every flag, since
    /// these are what `workbench` without a subcommand takes), then the subcommands.
    static func helpText(columns: Int? = nil) -> String {
        let flow = helpMessage(for: PruneCommand.self, columns: columns)
        let root = helpMessage(columns: columns)
        guard let subcommands = root.range(of: "SUBCOMMANDS:") else { return flow }
        return flow + "\n" + root[subcommands.lowerBound...]
    }
}
