"""From raw corpus text to clean, line-aligned pairs: the pieces the corpus readers share.

Lines are split on "\\n" alone and their whitespace squeezed, so that a stray carriage return or
Unicode line separator inside a sentence can never shift one side against the other later on.
"""

import itertools
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterable, Iterator, List, Sequence, TextIO, Tuple

from sacrebleu.dataset.fake_sgml import FakeSGMLDataset

from evo_mt_cli.errors import UserError
from evo_mt_cli.files import atomic_file
from evo_mt_cli.recipes import Recipe

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


def check_recipe(recipe: Recipe, corpus: str, languages: Sequence[str]) -> None:
    """The language pair and validation split a training-corpus reader can honour."""
    pair = {recipe.source_lang, recipe.target_lang}
    if pair != set(languages):
        raise UserError(
            f"recipe {recipe.name}: {corpus} translates between {' and '.join(languages)}, "
            f"not {recipe.source_lang}-{recipe.target_lang}"
        )
    if recipe.corpus.valid_every < 1:
        raise UserError(f"recipe {recipe.name}: {corpus} needs corpus.valid_every >= 1 (it has no valid set)")


def corpus_lines(path: Path) -> Iterator[str]:
    """The lines of a (possibly huge) text file, streamed, without their newline."""
    # newline="\n" splits as the Perl/awk pipeline does: universal newlines would also split on a
    # lone "\r", which some crawled sentences hold, and misalign the sides. Invalid UTF-8 (rare in
    # crawled text) becomes U+FFFD instead of ending an hour-long run.
    with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        for line in f:
            yield line.rstrip("\n")


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


def validation_split(number: int, valid_every: int) -> str:
    """Pair `number` (counting from 1) goes to valid if it is a multiple of valid_every (awk NR%n==0)."""
    return "valid" if number % valid_every == 0 else "train"


_SGML = FakeSGMLDataset("evo-mt")  # only its text extraction is used, never its downloads


def sgml_segments(path: Path) -> List[str]:
    """The text of each `<seg id=..>` line of a WMT .sgm or IWSLT .xml file, as sacrebleu extracts it."""
    # sacrebleu's extraction only looks at lines starting with "<seg ": IWSLT's XML indents them.
    with tempfile.TemporaryDirectory() as tmp:
        flush, text = Path(tmp) / "flush.sgm", Path(tmp) / "segments.txt"
        with open(flush, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(line.lstrip() + "\n" for line in corpus_lines(path))
        _SGML._convert_format(str(flush), str(text))
        return list(corpus_lines(text))


@contextmanager
def _text_file(path: Path) -> Iterator[TextIO]:
    with atomic_file(path) as scratch, open(scratch, "w", encoding="utf-8") as f:
        yield f


def write_parallel(
    out: Path, languages: Sequence[str], splits: Sequence[str], items: Iterable[Tuple[str, Pair]]
) -> None:
    """Stream each (split, pair) into out/<split>.<language>; every file appears whole or not at all."""
    with ExitStack() as stack:
        files = {
            split: [stack.enter_context(_text_file(out / f"{split}.{lang}")) for lang in languages]
            for split in splits
        }
        for split, pair in items:
            for f, line in zip(files[split], pair, strict=True):
                f.write(line + "\n")
