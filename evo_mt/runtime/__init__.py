"""The runtime: what a deployment needs to translate with an exported model.

An exported model folder (manifest, ONNX graphs, vocabulary, sentencepiece model), beam
search, translation and serving. It imports numpy, sentencepiece, onnxruntime and the
serving libraries, never torch or fairseq (an import-linter contract and a test keep it so);
the lab (the rest of `evo_mt`) may import it, never the reverse.
"""
