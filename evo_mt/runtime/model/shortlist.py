"""A vocabulary shortlist: the target pieces a batch's translations may use, chosen from its
source pieces, so that a decoding step scores those instead of the whole vocabulary.

The map is a text file in CTranslate2's vocabulary-map layout (its `use_vmap`; unigram keys
only): one line per source piece, `piece<TAB>target target ...`, and one line with an empty
key whose targets are always allowed. A batch may use the always-allowed pieces, the
targets of every source piece it holds, the pieces its required phrases spell, and the
special symbols. The allowed pieces are kept in vocabulary order, the specials first, so
that beam search's rules read the same over the shortlist's columns as over the whole
vocabulary: padding and </s> are at their own columns, and of equal scores the lower piece
number comes first. The softmax is over the allowed pieces only, so a shortlist may change a
translation (docs/export.md, "A vocabulary shortlist", measures by how much).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Sequence

import numpy as np

from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.lines import read_lines
from evo_mt.runtime.base.vocabulary import SPECIALS, Vocabulary
from evo_mt.runtime.search.decoding import Hypothesis

Phrases = Sequence[Sequence[Sequence[int]]] | None  # per sentence: required target phrases


class ShortlistError(UserError):
    """A vocabulary map that cannot be read; the message names the file and line."""


def write_map(path: Path, always: Sequence[str], targets: Dict[str, Sequence[str]]) -> None:
    """Write a map: the pieces `always` allowed, and each source piece's target pieces."""
    lines = ["\t" + " ".join(always)]
    lines += [f"{piece}\t{' '.join(pieces)}" for piece, pieces in targets.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Shortlist:
    """A map read against a model's vocabularies: per source index, its allowed target indices."""

    def __init__(self, always: np.ndarray, targets: Dict[int, np.ndarray]) -> None:
        self.always = np.union1d(np.arange(len(SPECIALS)), always)
        self.targets = targets

    @classmethod
    def load(cls, path: Path, source: Vocabulary, target: Vocabulary) -> Shortlist:
        """The map at `path`; pieces a vocabulary does not hold are refused in one line (the map
        of another model)."""
        always: np.ndarray | None = None
        targets: Dict[int, np.ndarray] = {}
        for number, line in enumerate(read_lines(path), 1):
            key, tab, pieces = line.partition("\t")
            if not tab:
                raise ShortlistError(f"{path}:{number}: not a 'source piece<TAB>target pieces' line")
            indices = np.array(_indices(pieces.split(), target, path, number), dtype=np.int64)
            if key == "":
                always = indices
            else:
                targets[_indices([key], source, path, number)[0]] = indices
        if always is None:
            raise ShortlistError(f"{path}: no line of always-allowed pieces (an empty source piece)")
        return cls(always, targets)

    def allowed(self, sources: Iterable[Sequence[int]], required: Phrases = None) -> np.ndarray:
        """The target indices, sorted, that a batch of sources (and its required phrases) may use."""
        parts = [self.always]
        for source in sources:
            parts += [self.targets[index] for index in set(source) if index in self.targets]
        for phrases in required or ():
            parts += [np.asarray(phrase, dtype=np.int64) for phrase in phrases]
        return np.unique(np.concatenate(parts))


def searched(
    search: Callable[[Phrases, np.ndarray], List[List[Hypothesis]]],
    phrases: Phrases,
    continues_word: np.ndarray,
    allowed: np.ndarray | None,
) -> List[List[Hypothesis]]:
    """`search(phrases, continues_word)` over the columns of the shortlist `allowed` (None:
    the whole vocabulary), its hypotheses given back in vocabulary indices; `continues_word`
    (V,) says which target pieces continue a word (Vocabulary.continues_word)."""
    if allowed is None:
        return search(phrases, continues_word)
    return widened(search(narrowed(phrases, allowed), continues_word[allowed]), allowed)


def narrowed(phrases: Phrases, allowed: np.ndarray) -> Phrases:
    """Required phrases as columns of the shortlist `allowed` (which holds all their tokens)."""
    if phrases is None:
        return None
    return [[np.searchsorted(allowed, phrase).tolist() for phrase in sentence] for sentence in phrases]


def widened(found: List[List[Hypothesis]], allowed: np.ndarray) -> List[List[Hypothesis]]:
    """Hypotheses found over the columns of the shortlist `allowed`, in vocabulary indices."""
    return [
        [dataclasses.replace(h, tokens=allowed[np.asarray(h.tokens, dtype=np.int64)].tolist()) for h in best]
        for best in found
    ]


def _indices(pieces: List[str], vocabulary: Vocabulary, path: Path, number: int) -> List[int]:
    missing = [piece for piece in pieces if piece not in vocabulary.indices]
    if missing:
        raise ShortlistError(f"{path}:{number}: {missing[0]!r} is not in the model's vocabulary")
    return [vocabulary.indices[piece] for piece in pieces]
