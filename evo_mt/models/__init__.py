"""The fairseq plugin: the `ea_transformer` model and the fixes fairseq 0.12 needs.

`--user-dir evo_mt` makes fairseq import every module of this folder (fairseq's convention
for a user directory's `models/`); Python code that builds or loads a model through fairseq
imports this package, which does the same.
"""

from evo_mt.models import ea_transformer, fairseq_fixes  # noqa: F401  (registration on import)
