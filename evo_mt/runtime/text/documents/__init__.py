"""Documents translated in their own format, their structure and formatting kept.

formats.py    the formats by name and extension, each a reader and writer around one
              translation step (units of prose in, their translations out)
errors.py     DocumentError: a document that cannot be translated, in one line
archives.py   a ZIP-based document checked before a library reads it (damage, passwords,
              zip bombs, XML entities)
plain.py      plain text and Markdown
html.py       HTML: blocks as units, inline tags as spans (Python's html.parser)
subtitles.py  .srt and .vtt (pysubs2)
runs.py       runs of formatted text as one unit with spans, and back
word.py       .docx (python-docx)
slides.py     .pptx (python-pptx)
opendocument.py  .odt and .odp (odfpy)
epub.py       .epub (ebooklib; its XHTML through html.py)
"""
