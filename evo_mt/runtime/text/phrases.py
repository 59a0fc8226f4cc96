"""Required phrases as users give them, checked and encoded into a model's target indices.

Input lines in fairseq's format (`fairseq-interactive --constraints`): the source, then each
required target phrase, tab-separated. A phrase is encoded with the model's sentencepiece
model as text of its own, so it starts a word (its first piece carries the word-start mark
"▁"); with `mid_word`, that mark is dropped and the phrase may also continue a word (a
suffix such as "haus" in "Krankenhaus"). The search matches pieces: a phrase is met when its
pieces appear in that order in the translation and end a word, the piece after them not
continuing it (evo_mt.runtime.search.constrained_search): "Datei" is not met by "Dateien".
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, List, Protocol, Sequence, Tuple

from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.vocabulary import UNK, WORD_START
from evo_mt.runtime.search.constrained_search import check_constraint_count


class ConstraintError(UserError):
    """A required phrase that cannot be searched for; the caller adds where it came from."""


def split_constraint_line(line: str) -> Tuple[str, List[str]]:
    """(source, phrases) of a `source<TAB>phrase<TAB>...` line."""
    source, *phrases = line.split("\t")
    for number, phrase in enumerate(phrases, 1):
        if not phrase.strip():
            raise ConstraintError(f"constraint {number} is empty")
    return source, [" ".join(phrase.split()) for phrase in phrases]


def split_constraint_lines(lines: Sequence[str], first_line: int = 1) -> Tuple[List[str], List[List[str]]]:
    """The sources and phrases of `source<TAB>phrase...` lines; a ConstraintError naming the
    line (counted from `first_line`) of an empty phrase."""
    sources, phrases = [], []
    for number, line in enumerate(lines, first_line):
        with named(f"line {number}"):
            source, wanted = split_constraint_line(line)
        sources.append(source)
        phrases.append(wanted)
    return sources, phrases


@contextlib.contextmanager
def named(where: str) -> Iterator[None]:
    """A ConstraintError raised inside starts with `where` ("line 3")."""
    try:
        yield
    except ConstraintError as error:
        raise ConstraintError(f"{where}: {error}") from None


class TargetSide(Protocol):
    """What encoding a phrase needs of a translator: its sentencepiece model, its target
    vocabulary and its beam size."""

    spm: Any  # sentencepiece.SentencePieceProcessor
    beam: int

    def target_indices(self, pieces: List[str]) -> List[int]: ...


def encode_phrases(
    translator: TargetSide, phrases: Sequence[str], *, mid_word: bool = False, beam: int | None = None
) -> List[List[int]]:
    """The target indices of each phrase; a ConstraintError for an empty phrase, one the
    target vocabulary cannot spell, or more distinct phrases than the beam (the translator's
    unless given) can carry."""
    encoded: List[List[int]] = []
    for phrase in phrases:
        if not phrase.strip():
            raise ConstraintError("an empty constraint")
        pieces = translator.spm.encode(phrase, out_type=str)
        if mid_word:
            pieces = _without_word_start(pieces)
        indices = translator.target_indices(pieces)
        unknown = [piece for piece, index in zip(pieces, indices, strict=True) if index == UNK]
        if unknown:
            raise ConstraintError(
                f"constraint {phrase!r} cannot be encoded: the model's target vocabulary lacks "
                f"{' '.join(unknown)}"
            )
        if indices not in encoded:
            encoded.append(indices)
    problem = check_constraint_count(len(encoded), translator.beam if beam is None else beam)
    if problem:
        raise ConstraintError(problem)
    return encoded


def _without_word_start(pieces: List[str]) -> List[str]:
    if pieces and pieces[0] == WORD_START:
        return pieces[1:]
    if pieces and pieces[0].startswith(WORD_START):
        return [pieces[0][1:], *pieces[1:]]
    return pieces
