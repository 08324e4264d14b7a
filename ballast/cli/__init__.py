"""The ``ballast`` command line: one module per command group, shared options, progress."""
