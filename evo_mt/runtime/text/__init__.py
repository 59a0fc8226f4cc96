"""Raw text in, raw text out.

segmentation.py  a line cut into sentences and those into units the model reads
phrases.py       required phrases checked and encoded
glossary.py      terms whose targets a sentence must hold
alignment.py     word alignments from the cross-attention of a forced pass
inline.py        marked prose (tags, emphasis) translated with its marks placed by them
markdown.py      a Markdown document translated as Markdown
batching.py      batch sizes, batches cut by length, the workers that decode them
results.py       scored translations, joined into lines; their JSON shape
pipeline.py      the steps every caller shares: plan the lines, translate the units, join
translator.py    the translator interface (TextTranslator) over the pipeline
exported.py      the translator of an exported folder (ExportedTranslator)
stream.py        the read-ahead loop of `evo-mt translate`
documents/       documents in their own formats (html.py: an HTML page as HTML)
"""
