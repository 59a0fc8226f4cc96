"""The model's rules in one place, read without torch or fairseq by every engine.

    options  the `--ea-*` options, their defaults per checkpoint format, their checks, and the
             activation names the model accepts
    chains   the chain plan: which attention mixes, convolves, receives and hands on a map
    config   what a checkpoint's model is, from its stored configuration (flat or nested)

The fairseq plugin (evo_mt.models), the lean engine (evo_mt.inference) and the export
(evo_mt.export) build their models from these; none restates them.
"""
