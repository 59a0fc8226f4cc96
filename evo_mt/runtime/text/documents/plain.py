"""Text documents: plain text line by line, and Markdown (evo_mt.runtime.text.markdown)."""

from __future__ import annotations

from typing import List

from evo_mt.runtime.base.lines import split_lines
from evo_mt.runtime.text.documents.formats import Translate, decoded
from evo_mt.runtime.text.inline import Marked


def plain_texts(translate: Translate, texts: List[str]) -> List[str]:
    """`texts` translated, each as one unit without marks."""
    return [found.text for found in translate([Marked(text) for text in texts])]


def _ending(text: str) -> str:
    return "\n" if text.endswith("\n") else ""


def translate_text(data: bytes, translate: Translate) -> bytes:
    """Each line translated, as `evo-mt translate` translates it; blank lines kept."""
    text = decoded(data, "text")
    lines = plain_texts(translate, split_lines(text))
    return ("\n".join(lines) + _ending(text)).encode("utf-8")


def translate_markdown_document(data: bytes, translate: Translate) -> bytes:
    """A Markdown document, as `evo-mt translate --format markdown` translates it."""
    from evo_mt.runtime.text.markdown import translate_markdown

    text = decoded(data, "Markdown")
    lines = translate_markdown(split_lines(text), lambda texts: plain_texts(translate, texts))
    return ("\n".join(lines) + _ending(text)).encode("utf-8")
