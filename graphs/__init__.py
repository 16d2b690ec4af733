"""Pure computations of cohortscan: tables in, tables out (no I/O, no config, no printing)."""
