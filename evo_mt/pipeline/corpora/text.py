"""Text helpers the corpus readers share: reading lines, squeezing, pairing, length cleaning.

Lines are split on "\\n" alone and their whitespace squeezed, so that a stray carriage return or
Unicode line separator inside a sentence can never shift one side against the other later on.
"""

import itertools
import re
from pathlib import Path
from typing import Iterable, Iterator, List, Tuple

from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.lines import file_lines

Pair = Tuple[str, str]


def keep_pair(source: str, target: str, min_tokens: int, max_tokens: int, max_ratio: float) -> bool:
    """Moses' clean-corpus-n.perl on whitespace tokens: both sides within min..max tokens and
    neither longer than `max_ratio` times the other. An empty side is always dropped."""
    # Moses also deletes "|" (its factor separator); fairseq's Moses tokenizer escapes every "|"
    # before cleaning, so leaving the text alone is what reproduces fairseq's output.
    s, t = len(source.split()), len(target.split())
    if s == 0 or t == 0 or min(s, t) < min_tokens or max(s, t) > max_tokens:
        return False
    return s / t <= max_ratio and t / s <= max_ratio


def corpus_lines(path: Path) -> Iterator[str]:
    """The lines of a (possibly huge) text file, streamed, without their newline.

    A line is evo_mt.runtime.base.lines' ("\n" alone ends it), as the Perl/awk pipeline splits:
    splitting on a lone "\r" or U+2028, which crawled sentences hold, would misalign the
    sides. Invalid UTF-8 (rare in crawled text) becomes U+FFFD instead of ending an hour-long run.
    """
    return file_lines(path)


def squeeze(line: str) -> str:
    """One space between tokens, none around them (what Moses' tokenizer leaves)."""
    return " ".join(line.split())


def lowercased(pair: Pair, lowercase: bool) -> Pair:
    return (pair[0].lower(), pair[1].lower()) if lowercase else pair


def aligned(source: Iterable[str], target: Iterable[str], where: str) -> Iterator[Pair]:
    """The pairs of two parallel line streams; a UserError if one side ends first."""
    for source_line, target_line in itertools.zip_longest(source, target):
        if source_line is None or target_line is None:
            raise UserError(f"{where}: the two languages have different numbers of lines")
        yield source_line, target_line


_SEGMENT = re.compile(r"<seg.*?>(.*)</seg>.*?")


def sgml_segments(path: Path) -> List[str]:
    """The text of each `<seg id=..>` line of a WMT .sgm or IWSLT .xml file.

    The rule is sacrebleu's for WMT's SGML (its FakeSGMLDataset): a line that starts with
    "<seg " gives the text between the tags, whitespace squeezed; nothing is unescaped. So the
    references are exactly the ones `sacrebleu -t wmt14/full` scores against. IWSLT's XML
    indents its <seg> lines, so leading whitespace is skipped first.
    """
    segments = []
    for line in corpus_lines(path):
        line = line.lstrip()
        if line.startswith("<seg "):
            segments.append(squeeze(_SEGMENT.sub(r"\1", line)))
    return segments
