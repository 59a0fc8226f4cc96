"""The lean inference engine: evo-mt's checkpoints translated in plain PyTorch, no fairseq.

vocabulary (fairseq's dict.txt) → architecture (the model, read from the checkpoint's
stored options) → transformer (encoder, decoder and evolving chains; the chains' maths is
evo_mt.evolving_maths, shared with the fairseq plugin) → beam_search (fairseq's search) →
engine (`LeanModel.load(checkpoint, dictionaries)`, `LeanModel.generate(...)`).
Nothing here imports fairseq; import-linter checks it.
"""
