"""`evo-mt export`: a trained model as a self-contained folder that the runtime runs.

graphs    the lean engine's Transformer (evo_mt.inference) wrapped as two graphs: the
          encoder, and one decoding step with its cached state as inputs and outputs
exporter  torch.onnx on those graphs, optional int8 (onnxruntime.quantization), the
          sentencepiece model, dictionaries and decoding settings, the manifest
          (evo_mt.runtime.model.folder), written atomically
vocabulary_map
          the map of a vocabulary shortlist (`--shortlist`), learnt from the run's training pairs
run_cache a run's checkpoint exported once into the run folder, for `translate RUN` and
          `serve RUN` (redone when the checkpoint's content changes)
"""
