"""The shell of cohortscan: configuration, reading and writing, the batch chain, reports, CLI."""

__version__ = "0.1.0"
