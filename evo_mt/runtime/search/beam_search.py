"""Beam search that chooses what fairseq's SequenceGenerator chooses, in numpy: one search
for every engine (the lean engine hands over its torch log-probabilities as numpy arrays;
the runtime's graph chooses each step's candidates itself by the same rule, evo_mt.export.
graphs, so that its log-probabilities stay in ONNX Runtime).

The same candidates (the 2 x beam best continuations of a sentence's beam), the same rule
for finishing a hypothesis (an end-of-sentence among the beam best candidates, scored by
its mean log-probability over length ** lenpen), the same order of equal candidates (the
lower index first) and the same end (a sentence is done with `beam` finished hypotheses
or at its maximum length). One difference, on purpose: the maximum length is each
sentence's own (evo_mt.runtime.search.decoding), where fairseq uses the longest source of the
batch, so a translation never depends on the sentences it was batched with.

With `constraints` (required target phrases per sentence), the candidates of a sentence that
has some are chosen by dynamic beam allocation (Post & Vilar 2018; evo_mt.runtime.
search.constrained_search); a sentence without any is searched exactly as without constraints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Protocol, Sequence, Tuple

import numpy as np

from evo_mt.runtime.base.vocabulary import EOS, PAD
from evo_mt.runtime.search.constrained_search import Constraints
from evo_mt.runtime.search.decoding import Hypothesis

# fairseq's SequenceGenerator default: no end of sentence as the first token.
MIN_LENGTH = 1
_NEG_INF = -np.inf


class StepDecoder(Protocol):
    def step(self, last_tokens: np.ndarray) -> np.ndarray:
        """Log-probabilities (N, V), float32 and writable, of the next token of the N live
        hypotheses ending in `last_tokens` (N,) int64."""

    def select(self, hypotheses: np.ndarray, sentences: np.ndarray | None) -> None:
        """Keep these hypotheses (and of the batch only these sentences, None: all)."""


class CandidateDecoder(StepDecoder, Protocol):
    """A decoder that can also choose each sentence's candidates itself (the exported graph),
    so that the log-probabilities need not leave it."""

    def step_candidates(
        self, last_tokens: np.ndarray, so_far: np.ndarray | None, limits: StepLimits, beam: int
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What `candidates` gives for the S sentences: the step's log-probabilities with
        `limits` applied, added to the N hypotheses' scores so far (N,; None before the first
        token), the `candidate_count` best of each sentence."""


@dataclass(frozen=True)
class StepLimits:
    """Which of the N hypotheses must end (only </s> may follow) and which may not end yet."""

    only_eos: np.ndarray  # (N,) bool
    no_eos: np.ndarray  # (N,) bool

    def applied(self, lprobs: np.ndarray) -> np.ndarray:
        """`lprobs` (N, V) in place: no NaN, no padding, and these limits."""
        lprobs[np.isnan(lprobs)] = _NEG_INF
        lprobs[:, PAD] = _NEG_INF
        if self.only_eos.any():
            eos = lprobs[self.only_eos, EOS]
            lprobs[self.only_eos] = _NEG_INF
            lprobs[self.only_eos, EOS] = eos
        lprobs[self.no_eos, EOS] = _NEG_INF
        return lprobs


def beam_search(
    decoder: StepDecoder | CandidateDecoder,
    max_lengths: np.ndarray,
    *,
    beam: int,
    lenpen: float,
    constraints: Sequence[Sequence[Sequence[int]]] | None = None,
    continues_word: np.ndarray | None = None,
) -> List[List[Hypothesis]]:
    """The finished hypotheses of each sentence, best first (at most `beam` of them).

    `max_lengths` (S,) is each sentence's maximum number of target tokens before </s>; the
    decoder starts with `beam` copies of each of the S sentences, in order. A decoder that is
    also a CandidateDecoder chooses the candidates itself (without `constraints`). `constraints`,
    when given, holds each sentence's required phrases (target indices, no </s>; an empty
    list for a sentence without any); the caller leaves room for them in `max_lengths`
    (DecodingSettings.max_length's `constraint_tokens`). `continues_word` (V,) bool, with
    `constraints`: the tokens that continue the word before them (Vocabulary.continues_word),
    which may not follow a phrase (it is required as a whole word; None: any may).
    """
    bsz = len(max_lengths)
    required: Constraints | None = None
    if constraints is not None:
        required = Constraints(constraints, beam, continues_word)
    longest = int(max_lengths.max())
    tokens = np.full((bsz * beam, longest + 2), PAD, dtype=np.int64)
    tokens[:, 0] = EOS
    scores = np.zeros((bsz * beam, longest + 1), dtype=np.float32)
    search = _Search(beam, lenpen, np.asarray(max_lengths, dtype=np.int64).copy(), bsz)
    cand_size = 2 * beam
    bbsz_offsets = (np.arange(bsz) * beam)[:, None]
    cand_offsets = np.arange(cand_size)
    cands_to_ignore = np.zeros((bsz, beam), dtype=bool)
    choosing = getattr(decoder, "step_candidates", None)
    reorder: np.ndarray | None = None
    batch_idxs: np.ndarray | None = None
    for step in range(longest + 1):
        if reorder is not None:
            if batch_idxs is not None:  # renumber from the shrunk batch to the decoder's rows
                shift = batch_idxs - np.arange(len(batch_idxs))
                reorder = (reorder.reshape(-1, beam) + shift[:, None] * beam).reshape(-1)
            decoder.select(reorder, batch_idxs)
        last_tokens = np.ascontiguousarray(tokens[:, step])
        if required is None and choosing is not None:  # the same choice, made by the decoder
            so_far = scores[:, step - 1] if step > 0 else None
            cand_scores, cand_indices, cand_beams = choosing(last_tokens, so_far, search.limits(step), beam)
        else:
            lprobs = search.limits(step).applied(decoder.step(last_tokens))
            if required is not None:
                required.hold_back_eos(lprobs, search.max_lengths, step)
            so_far = scores[:, step - 1].reshape(bsz, beam) if step > 0 else None
            cand_scores, cand_indices, cand_beams = candidates(lprobs.reshape(bsz, beam, -1), so_far, beam)
        if required is not None:
            required.allocate(
                step, lprobs.reshape(bsz, beam, -1), scores, cand_scores, cand_indices, cand_beams
            )
        cand_bbsz_idx = cand_beams + bbsz_offsets
        eos_mask = (cand_indices == EOS) & (cand_scores != _NEG_INF)
        eos_mask[:, :beam][cands_to_ignore] = False
        eos_bbsz_idx = cand_bbsz_idx[:, :beam][eos_mask[:, :beam]]
        done: List[int] = []
        if eos_bbsz_idx.size > 0:
            eos_scores = cand_scores[:, :beam][eos_mask[:, :beam]]
            done = search.finalize(step, eos_bbsz_idx, eos_scores, tokens, scores)
        if search.remaining == 0:
            break
        if done:
            keep = np.ones(bsz, dtype=bool)
            keep[done] = False
            batch_idxs = np.flatnonzero(keep)
            bsz = len(batch_idxs)
            search.shrink(batch_idxs)
            if required is not None:
                required.shrink(batch_idxs)
            eos_mask, cand_beams = eos_mask[batch_idxs], cand_beams[batch_idxs]
            bbsz_offsets = bbsz_offsets[:bsz]
            cand_bbsz_idx = cand_beams + bbsz_offsets
            cand_scores, cand_indices = cand_scores[batch_idxs], cand_indices[batch_idxs]
            cands_to_ignore = cands_to_ignore[batch_idxs]
            scores = scores.reshape(-1, beam * scores.shape[1])[batch_idxs].reshape(bsz * beam, -1)
            tokens = tokens.reshape(-1, beam * tokens.shape[1])[batch_idxs].reshape(bsz * beam, -1)
        else:
            batch_idxs = None
        # The beam best candidates that did not end, in rank order; finished slots sort last.
        eos_mask[:, :beam] = ~((~cands_to_ignore) & (~eos_mask[:, :beam]))
        active_mask = eos_mask.astype(np.int64) * cand_size + cand_offsets[: eos_mask.shape[1]]
        active_hypos = np.argsort(active_mask, axis=1, kind="stable")[:, :beam]  # values are distinct
        cands_to_ignore = np.take_along_axis(active_mask, active_hypos, axis=1) >= cand_size
        active_bbsz_idx = np.take_along_axis(cand_bbsz_idx, active_hypos, axis=1).reshape(-1)
        tokens[:, : step + 1] = tokens[active_bbsz_idx, : step + 1]
        tokens[:, step + 1] = np.take_along_axis(cand_indices, active_hypos, axis=1).reshape(-1)
        if step > 0:
            scores[:, :step] = scores[active_bbsz_idx, :step]
        scores[:, step] = np.take_along_axis(cand_scores, active_hypos, axis=1).reshape(-1)
        reorder = active_bbsz_idx
        if required is not None:
            required.keep(active_hypos)
    found = [_best_first(hypotheses) for hypotheses in search.finalized]
    return found if required is None else required.met_first(found)


def candidates(
    lprobs: np.ndarray, so_far: np.ndarray | None, beam: int
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fairseq's BeamSearch.step: the 2 x beam best (score, token, beam) of each sentence, from
    its hypotheses' limited log-probabilities (S, beam, V) added to their scores so far
    (S, beam); None before the first token, when every beam holds the same start."""
    bsz, _, vocab = lprobs.shape
    if so_far is None:  # look at the first only
        lprobs = lprobs[:, :1, :]
    else:
        lprobs = lprobs + so_far[:, :, None]
    flat = lprobs.reshape(bsz, -1)
    k = candidate_count(beam, flat.shape[1])
    # The k best of each row (argpartition), then sorted: best first, equal scores by index.
    best = np.argpartition(-flat, k - 1, axis=1)[:, :k]
    best_scores = np.take_along_axis(flat, best, axis=1)
    # Of the scores equal to the k-th best, the partition keeps any; the lowest indices are
    # the rule (ONNX's TopK keeps them: the exported graph's choice, evo_mt.export.graphs).
    kth = best_scores.min(axis=1, keepdims=True)
    unsure = np.flatnonzero((flat == kth).sum(axis=1) > (best_scores == kth).sum(axis=1))
    for row in unsure:  # rare: exactly equal scores across the k-th place
        best[row] = np.argsort(-flat[row], kind="stable")[:k]
        best_scores[row] = flat[row, best[row]]
    order = np.lexsort((best, -best_scores), axis=1)
    top_indices = np.take_along_axis(best, order, axis=1)
    top_scores = np.take_along_axis(best_scores, order, axis=1)
    return top_scores, top_indices % vocab, top_indices // vocab


def candidate_count(beam: int, choices: int) -> int:
    """How many candidates a sentence's `choices` (hypotheses x vocabulary) give: 2 x beam."""
    return min(beam * 2, choices - 1)


class _Search:
    """The bookkeeping of finished hypotheses: which sentence each batch row is, and its limits."""

    def __init__(self, beam: int, lenpen: float, max_lengths: np.ndarray, bsz: int) -> None:
        self.beam, self.lenpen = beam, lenpen
        self.max_lengths = max_lengths  # per row of the (shrinking) batch
        self.sentence_of_row = np.arange(bsz)
        self.finalized: List[List[Hypothesis]] = [[] for _ in range(bsz)]
        self.finished = [False] * bsz
        self.remaining = bsz

    def limits(self, step: int) -> StepLimits:
        """Only </s> at a sentence's maximum length; no </s> before MIN_LENGTH."""
        at_limit = np.repeat(self.max_lengths <= step, self.beam)
        return StepLimits(at_limit, ~at_limit if step < MIN_LENGTH else np.zeros_like(at_limit))

    def finalize(
        self, step: int, bbsz_idx: np.ndarray, eos_scores: np.ndarray, tokens: np.ndarray, scores: np.ndarray
    ) -> List[int]:
        """Record the hypotheses ending at `step`; the batch rows whose sentence is now done."""
        ended = tokens[bbsz_idx, 1 : step + 2]
        ended[:, step] = EOS
        normalised = eos_scores / np.float32((step + 1) ** self.lenpen)
        rows = (bbsz_idx // self.beam).tolist()
        for i, row in enumerate(rows):
            hypotheses = self.finalized[int(self.sentence_of_row[row])]
            if len(hypotheses) < self.beam:
                hypotheses.append(Hypothesis(ended[i].tolist(), float(normalised[i])))
        done = []
        for row in sorted(set(rows)):
            sentence = int(self.sentence_of_row[row])
            full = len(self.finalized[sentence]) == self.beam
            if not self.finished[sentence] and (full or step == int(self.max_lengths[row])):
                self.finished[sentence] = True
                done.append(row)
        self.remaining -= len(done)
        return done

    def shrink(self, kept_rows: np.ndarray) -> None:
        self.max_lengths = self.max_lengths[kept_rows]
        self.sentence_of_row = self.sentence_of_row[kept_rows]


def _best_first(hypotheses: List[Hypothesis]) -> List[Hypothesis]:
    # A stable sort: of equal scores, the hypothesis that finished first comes first.
    order = np.argsort(-np.array([h.score for h in hypotheses], dtype=np.float64), kind="stable")
    return [hypotheses[i] for i in order]
