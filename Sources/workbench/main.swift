import Engine

Interrupt.install()
var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "bench" { arguments = BenchCommand.joiningThreadCounts(arguments) }
PruneCommand.main(arguments)
