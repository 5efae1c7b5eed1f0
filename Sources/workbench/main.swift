import Engine

Interrupt.install()
var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "bench" { arguments = BenchCommand.joiningThreadCounts(arguments) }
if Workbench.isHelpRequest(arguments) {
    print(Workbench.helpText())
} else {
    Workbench.main(arguments)
}
