"""Subtitles, .srt and .vtt, read and written by pysubs2: every cue kept with its timings, its
text translated as one unit however many lines it is shown on, and given back on as many
lines (cut at the spaces nearest an even share); italic, bold and underlined words keep
their mark on the words of the translation they became."""

from __future__ import annotations

from typing import Dict, List, Tuple

from evo_mt.runtime.text.documents.errors import DocumentError
from evo_mt.runtime.text.documents.formats import Translate, decoded
from evo_mt.runtime.text.inline import Marked, Span

Style = Tuple[bool, bool, bool]  # italic, bold, underline: pysubs2's override tags i, b, u
_PLAIN: Style = (False, False, False)


def translate_srt(data: bytes, translate: Translate) -> bytes:
    return _translate_subtitles(data, translate, "srt")


def translate_vtt(data: bytes, translate: Translate) -> bytes:
    return _translate_subtitles(data, translate, "vtt")


def _translate_subtitles(data: bytes, translate: Translate, kind: str) -> bytes:
    import pysubs2

    text = decoded(data, f".{kind}")
    try:
        subtitles = pysubs2.SSAFile.from_string(text, format_=kind)
    except (pysubs2.Pysubs2Error, ValueError) as error:
        raise DocumentError(f"not a .{kind} file ({error})") from None
    if not len(subtitles) and text.strip():
        raise DocumentError(f"not a .{kind} file: no cue with a timing line found in it")
    cues = [(event, _marked(event.text)) for event in subtitles]
    prose = [(event, unit, rows) for event, (unit, rows) in cues if unit.text.strip()]
    translated = translate([unit for _, unit, _ in prose])
    for (event, _, rows), found in zip(prose, translated, strict=True):
        event.text = _rendered(found, rows)
    return subtitles.to_string(kind).encode("utf-8")


def _marked(text: str) -> Tuple[Marked, int]:
    """A cue's text (pysubs2's SubStation form) as one unit, its line breaks become spaces, each
    run of italic, bold or underlined words a span marked with its Style; and its line count."""
    from pysubs2.formats.substation import parse_tags

    plain, spans = "", []
    for fragment, style in parse_tags(text):
        words = fragment.replace("\\N", " ").replace("\\n", " ").replace("\\h", "\u00a0")
        flags = (bool(style.italic), bool(style.bold), bool(style.underline))
        if flags != _PLAIN and words.strip():
            spans.append(Span(len(plain), len(plain) + len(words), flags))
        plain += words
    return Marked(plain, tuple(spans)), text.count("\\N") + text.count("\\n") + 1


def _rendered(found: Marked, rows: int) -> str:
    """The translation in SubStation form: its spans' override tags around their words, cut
    into `rows` lines."""
    text = found.text.strip()
    shift = len(found.text) - len(found.text.lstrip())
    breaks = _breaks(text, rows)
    opening: Dict[int, str] = {}
    closing: Dict[int, str] = {}
    for span in found.spans:
        tags = [tag for flag, tag in zip(span.mark, "ibu", strict=True) if flag]
        start = min(len(text), max(0, span.start - shift))
        end = min(len(text), max(start, span.end - shift))
        opening[start] = opening.get(start, "") + "".join(f"{{\\{tag}1}}" for tag in tags)
        closing[end] = "".join(f"{{\\{tag}0}}" for tag in reversed(tags)) + closing.get(end, "")
    out = ""
    for at, char in enumerate(text):
        out += closing.get(at, "") + opening.get(at, "")
        out += "\\N" if at in breaks else char
    return out + closing.get(len(text), "")


def _breaks(text: str, rows: int) -> List[int]:
    """Where `text` is cut into `rows` lines: the spaces nearest each even share of it."""
    spaces = [at for at, char in enumerate(text) if char == " "]
    cuts: List[int] = []
    for row in range(1, rows):
        left = [at for at in spaces if not cuts or at > cuts[-1]]
        if not left:
            break
        cuts.append(min(left, key=lambda at: abs(at - row * len(text) / rows)))
    return cuts
