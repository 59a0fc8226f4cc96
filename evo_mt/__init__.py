"""evo-mt: the Evolving Attention Transformer as a fairseq plugin (``--user-dir evo_mt``).

Importing the package registers the ``ea_transformer`` model and its architectures and
applies the fixes fairseq 0.12 needs on current torch (see `evo_mt.fairseq_fixes`).
"""

from evo_mt import ea_transformer, fairseq_fixes  # noqa: F401  (registration on import)

__version__ = "0.1.0"
