"""The fairseq plugin: the `ea_transformer` model and its architectures.

`--user-dir evo_mt` makes fairseq import every module of this folder (fairseq's convention
for a user directory's `models/`); importing registers the model and changes nothing else.
The fixes evo-mt applies to fairseq itself (fairseq_fixes) are applied by evo-mt's own
commands, or by fairseq's commands when EVO_MT_FAIRSEQ_FIXES=1 asks for them.
"""

from evo_mt.models import ea_transformer, fairseq_fixes  # noqa: F401  (registration on import)

if fairseq_fixes.opted_in():
    fairseq_fixes.apply()
