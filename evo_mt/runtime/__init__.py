"""The runtime: what a deployment needs to translate with an exported model.

Layers, each importing only from those before it (an import-linter contract):

    base     user errors, lines of text, the vocabulary, atomic writes and file hashes
    search   decoding settings and results, beam search, constrained search
    model    the exported folder's format, its graphs on ONNX Runtime, the shortlist
    text     sentences and units, phrases, glossary, Markdown, batching, results, the
             pipeline every caller shares, the translators, the read-ahead loop
    serving  the HTTP server (LibreTranslate's API, the page, keys, metrics, the batcher)

It imports numpy, sentencepiece, onnxruntime and the format and serving libraries, never
torch or fairseq (an import-linter contract and a test keep it so); the lab (the rest of
`evo_mt`) may import it, never the reverse.
"""
