"""The `evo-mt` command line: Typer commands over the `evo_mt` library (see app.py)."""
