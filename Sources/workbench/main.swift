import Engine

Interrupt.install()
PruneCommand.main()
