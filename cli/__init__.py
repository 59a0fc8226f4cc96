"""The evo-mt command line (installed as the `evo_mt_cli` package)."""
