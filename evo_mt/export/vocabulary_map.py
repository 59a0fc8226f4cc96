"""A vocabulary map for the runtime's shortlist (evo_mt.runtime.model.shortlist), learnt from a run's
training pairs: for each source piece, the target pieces that occur in the same sentence
pairs most often relative to how often each occurs at all (Dice's coefficient, 2 x both /
(source + target), over sentence pairs), the piece itself where the target vocabulary holds
it (names, numbers, placeholders are copied), and the target side's most frequent pieces.

Measured on gettext_en_de's test set (docs/export.md, "A vocabulary shortlist"): 10 pieces
per source piece and the 100 most frequent cost no BLEU there; 5 and 50 cost 0.1.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Tuple

import numpy as np

from evo_mt.runtime.base.vocabulary import SPECIALS, Vocabulary

PER_PIECE = 10
FREQUENT = 100
# Pairs counted at once: the pair counts of a chunk are merged into the running ones.
_CHUNK = 20_000


def learn_map(
    pairs: Iterable[Tuple[str, str]],
    source: Vocabulary,
    target: Vocabulary,
    *,
    per_piece: int = PER_PIECE,
    frequent: int = FREQUENT,
) -> Tuple[List[str], Dict[str, List[str]]]:
    """(the `frequent` commonest target pieces, {source piece: its `per_piece` best target
    pieces and itself}) from sentence pairs of space-separated pieces."""
    first = len(SPECIALS)  # the specials are always allowed: never counted
    codes, counts = np.zeros(0, np.int64), np.zeros(0, np.int64)
    source_seen = np.zeros(len(source), np.int64)  # sentence pairs holding each piece
    target_seen = np.zeros(len(target), np.int64)
    target_total = np.zeros(len(target), np.int64)  # occurrences
    chunk: List[np.ndarray] = []

    def merge() -> None:
        nonlocal codes, counts
        if chunk:
            joined = np.concatenate([codes, *chunk])
            weights = np.concatenate([counts, np.ones(joined.size - codes.size, np.int64)])
            codes, where = np.unique(joined, return_inverse=True)
            counts = np.bincount(where, weights=weights).astype(np.int64)
            chunk.clear()

    for number, (source_line, target_line) in enumerate(pairs, 1):
        sources = np.unique(_known(source_line, source, first))
        targets = _known(target_line, target, first)
        np.add.at(target_total, targets, 1)
        targets = np.unique(targets)
        source_seen[sources] += 1
        target_seen[targets] += 1
        chunk.append(np.add.outer(sources * len(target), targets).ravel())
        if number % _CHUNK == 0:
            merge()
    merge()
    pair_source, pair_target = codes // len(target), codes % len(target)
    dice = 2 * counts / (source_seen[pair_source] + target_seen[pair_target])
    # Per source piece, the best Dice first; equal ones: the more frequent target piece first.
    order = np.lexsort((-target_total[pair_target], -dice, pair_source))
    targets_of: Dict[str, List[str]] = {}
    for index in order:
        piece = source.symbols[pair_source[index]]
        kept = targets_of.setdefault(piece, [])
        if len(kept) < per_piece:
            kept.append(target.symbols[pair_target[index]])
    for piece, kept in targets_of.items():
        if piece in target.indices and piece not in kept:
            kept.append(piece)
    commonest = np.argsort(-target_total[first:], kind="stable")[:frequent] + first
    always = [target.symbols[i] for i in commonest if target_total[i] > 0]
    return always, targets_of


def _known(line: str, vocabulary: Vocabulary, first: int) -> np.ndarray:
    indices = [vocabulary.indices.get(piece, -1) for piece in line.split()]
    return np.array([i for i in indices if i >= first], dtype=np.int64)
