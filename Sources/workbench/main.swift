import ArgumentParser
import Bridge
import Engine
import Foundation

/// `workbench`: the pruning workbench. Without a subcommand it runs the reference tool's
/// pruning flow (`workbench -l 8 -p 0.7 -reTrain`); `run` runs any Lua script; `bench`
/// measures the engine.
struct Workbench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workbench",
        abstract: "Prune, retrain, measure and compare neural networks on the CPU, scripted in Lua.",
        discussion: """
        Without a subcommand, runs the pruning flow of the 2016 Torch7 pruner (scripts/main.lua) with its \
        single-dash flags (see `workbench prune --help` for all of them).

        Examples:
          workbench -l 8 -p 0.7 -reTrain              prune 70% of layer 8 of inp/lenet5.safetensors, retrain
          workbench -iPruning 10 -reTrain -nEpochs 3 -l 8 -p 0.7
                                                      iterative pruning in 10 steps of 7%
          workbench -reLoad -iPruning 20 -l 8 -p 1    sensitivity data: one-shot pruning at 5%, 10%, ... 100%
          workbench                                   layers and fractions from inp/lenet5.conf
          workbench -l 8 -p 0.9 -pruner taylor2       another pruning criterion
          workbench -test                             total compression and error of out/lenet5.safetensors
          workbench -train -nEpochs 20                train scripts/models/lenet5.lua into inp/lenet5.safetensors
          workbench run scripts/examples/prune-fc-iteratively.lua
          workbench bench --json                      speed and memory of the engine on this machine
        """,
        subcommands: [PruneCommand.self, RunCommand.self, BenchCommand.self],
        defaultSubcommand: PruneCommand.self
    )
}

Interrupt.install()
Workbench.main()
