"""The `rag` command line: one small module per command, wired together in `cli.main`."""
