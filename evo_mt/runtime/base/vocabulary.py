"""fairseq's dictionary files (dict.txt) read without fairseq, for encoding and decoding.

A dictionary is `<s> <pad> </s> <unk>` (indices 0-3) followed by one "symbol count" line per
symbol in file order; fairseq-preprocess pads it with "madeupword" symbols, which are
ordinary entries here.
"""

from __future__ import annotations

import unicodedata
from functools import cached_property
from pathlib import Path
from typing import Dict, Iterable, List, Sequence

import numpy as np

from evo_mt.runtime.base.errors import CheckpointError, UserError
from evo_mt.runtime.base.lines import split_lines

# sentencepiece's mark of a word's start.
WORD_START = "\u2581"


def word_character(character: str) -> bool:
    """Whether `character` belongs to a word: a letter, a mark (the vowel signs of many
    scripts) or a number; punctuation, symbols and spaces stand between words."""
    return unicodedata.category(character)[0] in "LMN"


def continues_word(piece: str) -> bool:
    """Whether a target piece, after a word, makes that word longer: it does not carry the
    word-start mark and begins with a word character (`en` after `Datei`; not `.` or `▁der`)."""
    return not piece.startswith(WORD_START) and piece[:1] != "" and word_character(piece[0])


class VocabularyError(UserError):
    """A dictionary file that cannot be read; the message names it."""


SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")
PAD, EOS, UNK = 1, 2, 3
# A flag fairseq writes after the count of a symbol that may repeat an earlier one.
OVERWRITE = "#fairseq:overwrite"


class Vocabulary:
    """Subword pieces to indices and back, as fairseq's Dictionary maps them."""

    def __init__(self, symbols: List[str]) -> None:
        self.symbols = symbols
        self.indices: Dict[str, int] = {}
        for index, symbol in enumerate(symbols):
            self.indices[symbol] = index

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        symbols = list(SPECIALS)
        try:
            lines = split_lines(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise VocabularyError(f"{path}: cannot read the dictionary: {error.strerror}") from error
        for number, line in enumerate(lines, 1):
            fields = line.rstrip().rsplit(" ", 2 if line.rstrip().endswith(OVERWRITE) else 1)
            if len(fields) < 2 or not fields[1].lstrip("-").isdigit():
                raise VocabularyError(f"{path}:{number}: not a 'symbol count' line of a fairseq dictionary")
            symbols.append(fields[0])
        return cls(symbols)

    def __len__(self) -> int:
        return len(self.symbols)

    @cached_property
    def continues_word(self) -> np.ndarray:
        """(V,) bool: which indices are pieces that make the word before them longer
        (continues_word; the special symbols do not), so that a
        required phrase is met only as a whole word (evo_mt.runtime.search.constrained_search)."""
        found = np.array([continues_word(symbol) for symbol in self.symbols], dtype=bool)
        found[: len(SPECIALS)] = False
        return found

    def encode(self, pieces: Iterable[str]) -> List[int]:
        """Indices of `pieces` (unknown ones as <unk>) followed by </s>, as fairseq encodes a line."""
        return [self.indices.get(piece, UNK) for piece in pieces] + [EOS]

    def decode(self, indices: Iterable[int]) -> List[str]:
        """Pieces of a hypothesis, without </s> and padding; <unk> stays visible as "<unk>"."""
        return [self.symbols[i] for i in indices if i not in (EOS, PAD)]


def dictionary_files(folder: Path, languages: Sequence[str | None], checkpoint: Path) -> List[Path]:
    """The dict.<language>.txt of `folder` for a checkpoint's (source, target) languages; a
    CheckpointError saying whose they are when the folder lacks them (another run's checkpoint)."""
    if None in languages:
        raise CheckpointError(f"{checkpoint}: it does not name its languages; not a translation checkpoint?")
    paths = [Path(folder) / f"dict.{language}.txt" for language in languages]
    if not all(path.is_file() for path in paths):
        held = sorted(path.name[len("dict.") : -len(".txt")] for path in Path(folder).glob("dict.*.txt"))
        raise CheckpointError(
            f"{checkpoint}: a {'-'.join(map(str, languages))} model, but {folder} holds dictionaries of "
            f"{', '.join(held) or 'no language'}: a checkpoint of another run?"
        )
    return paths
