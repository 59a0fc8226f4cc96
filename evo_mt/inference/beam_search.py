"""Beam search that chooses what fairseq's SequenceGenerator chooses, without fairseq.

The same candidates (the 2 x beam best continuations of a sentence's beam), the same rule
for finishing a hypothesis (an end-of-sentence among the beam best candidates, scored by
its mean log-probability over length ** lenpen), the same tie order (torch.topk over the
same tensors) and the same end (a sentence is done with `beam` finished hypotheses or at
its maximum length). One difference, on purpose: the maximum length is each sentence's
own (`max_len_a` x its length + `max_len_b`), where fairseq uses the longest source of the
batch, so a translation never depends on the sentences it was batched with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Protocol

import torch
from torch import Tensor

from evo_mt.inference.vocabulary import EOS, PAD

# fairseq's SequenceGenerator default: no end of sentence as the first token.
MIN_LENGTH = 1


@dataclass(frozen=True)
class Hypothesis:
    tokens: List[int]  # ends with </s>
    score: float  # sum of log-probabilities / length ** lenpen
    positional_scores: List[float]


class StepDecoder(Protocol):
    def step(self, last_tokens: Tensor) -> Tensor:
        """Log-probabilities (N, V) of the next token of the N live hypotheses."""

    def select(self, hypotheses: Tensor, sentences: Tensor | None) -> None:
        """Keep these hypotheses (and of the batch only these sentences, None: all)."""


def beam_search(
    decoder: StepDecoder, max_lengths: Tensor, *, beam: int, lenpen: float
) -> List[List[Hypothesis]]:
    """The finished hypotheses of each sentence, best first (at most `beam` of them).

    `max_lengths` (S,) is each sentence's maximum number of target tokens before </s>; the
    decoder starts with `beam` copies of each of the S sentences, in order.
    """
    bsz = max_lengths.numel()
    longest = int(max_lengths.max())
    on = {"device": max_lengths.device}
    tokens = torch.full((bsz * beam, longest + 2), PAD, dtype=torch.long, **on)
    tokens[:, 0] = EOS
    scores = torch.zeros(bsz * beam, longest + 1, **on)
    search = _Search(beam, lenpen, max_lengths.clone(), bsz)
    cand_size = 2 * beam
    bbsz_offsets = (torch.arange(bsz, **on) * beam).unsqueeze(1)
    cand_offsets = torch.arange(cand_size, **on)
    cands_to_ignore = torch.zeros(bsz, beam, dtype=torch.bool, **on)
    reorder: Tensor | None = None
    batch_idxs: Tensor | None = None
    for step in range(longest + 1):
        if reorder is not None:
            if batch_idxs is not None:  # renumber from the shrunk batch to the decoder's rows
                shift = batch_idxs - torch.arange(batch_idxs.numel(), **on)
                reorder = (reorder.view(-1, beam) + shift.unsqueeze(-1) * beam).view(-1)
            decoder.select(reorder, batch_idxs)
        lprobs = decoder.step(tokens[:, step])
        lprobs = search.constrained(lprobs, step)
        cand_scores, cand_indices, cand_beams = _candidates(
            step, lprobs.view(bsz, beam, -1), scores.view(bsz, beam, -1)[:, :, :step], beam
        )
        cand_bbsz_idx = cand_beams + bbsz_offsets
        eos_mask = cand_indices.eq(EOS) & cand_scores.ne(-math.inf)
        eos_mask[:, :beam][cands_to_ignore] = False
        eos_bbsz_idx = torch.masked_select(cand_bbsz_idx[:, :beam], mask=eos_mask[:, :beam])
        done: List[int] = []
        if eos_bbsz_idx.numel() > 0:
            eos_scores = torch.masked_select(cand_scores[:, :beam], mask=eos_mask[:, :beam])
            done = search.finalize(step, eos_bbsz_idx, eos_scores, tokens, scores)
        if search.remaining == 0:
            break
        if done:
            keep = torch.ones(bsz, dtype=torch.bool, **on)
            keep[done] = False
            batch_idxs = torch.arange(bsz, **on).masked_select(keep)
            bsz = batch_idxs.numel()
            search.shrink(batch_idxs)
            eos_mask, cand_beams = eos_mask[batch_idxs], cand_beams[batch_idxs]
            bbsz_offsets = bbsz_offsets[:bsz]
            cand_bbsz_idx = cand_beams + bbsz_offsets
            cand_scores, cand_indices = cand_scores[batch_idxs], cand_indices[batch_idxs]
            cands_to_ignore = cands_to_ignore[batch_idxs]
            scores = scores.view(-1, beam * scores.size(1))[batch_idxs].view(bsz * beam, -1)
            tokens = tokens.view(-1, beam * tokens.size(1))[batch_idxs].view(bsz * beam, -1)
        else:
            batch_idxs = None
        # The beam best candidates that did not end, in rank order; finished slots sort last.
        eos_mask[:, :beam] = ~((~cands_to_ignore) & (~eos_mask[:, :beam]))
        active_mask = eos_mask.long() * cand_size + cand_offsets[: eos_mask.size(1)]
        new_cands_to_ignore, active_hypos = torch.topk(active_mask, k=beam, dim=1, largest=False)
        cands_to_ignore = new_cands_to_ignore.ge(cand_size)[:, :beam]
        active_bbsz_idx = torch.gather(cand_bbsz_idx, dim=1, index=active_hypos).view(-1)
        tokens[:, : step + 1] = torch.index_select(tokens[:, : step + 1], dim=0, index=active_bbsz_idx)
        tokens.view(bsz, beam, -1)[:, :, step + 1] = torch.gather(cand_indices, dim=1, index=active_hypos)
        if step > 0:
            scores[:, :step] = torch.index_select(scores[:, :step], dim=0, index=active_bbsz_idx)
        scores.view(bsz, beam, -1)[:, :, step] = torch.gather(cand_scores, dim=1, index=active_hypos)
        reorder = active_bbsz_idx
    return [_best_first(hypotheses) for hypotheses in search.finalized]


def _candidates(step: int, lprobs: Tensor, scores: Tensor, beam: int):
    """fairseq's BeamSearch.step: the 2 x beam best (score, token, beam) of each sentence."""
    bsz, _, vocab = lprobs.shape
    if step == 0:  # every beam holds the same start: look at the first only
        lprobs = lprobs[:, ::beam, :].contiguous()
    else:
        lprobs = lprobs + scores[:, :, step - 1].unsqueeze(-1)
    flat = lprobs.view(bsz, -1)
    top_scores, top_indices = torch.topk(flat, k=min(beam * 2, flat.size(1) - 1))
    return top_scores, top_indices.fmod(vocab), torch.div(top_indices, vocab, rounding_mode="trunc")


class _Search:
    """The bookkeeping of finished hypotheses: which sentence each batch row is, and its limits."""

    def __init__(self, beam: int, lenpen: float, max_lengths: Tensor, bsz: int) -> None:
        self.beam, self.lenpen = beam, lenpen
        self.max_lengths = max_lengths  # per row of the (shrinking) batch
        self.sentence_of_row = torch.arange(bsz, device=max_lengths.device)
        self.finalized: List[List[Hypothesis]] = [[] for _ in range(bsz)]
        self.finished = [False] * bsz
        self.remaining = bsz

    def constrained(self, lprobs: Tensor, step: int) -> Tensor:
        """No NaN and no padding; only </s> at a sentence's maximum length, no </s> before MIN_LENGTH."""
        lprobs[lprobs != lprobs] = -math.inf
        lprobs[:, PAD] = -math.inf
        at_limit = (self.max_lengths <= step).repeat_interleave(self.beam)
        if bool(at_limit.any()):
            eos = lprobs[at_limit, EOS]
            lprobs[at_limit] = -math.inf
            lprobs[at_limit, EOS] = eos
        if step < MIN_LENGTH:
            lprobs[~at_limit, EOS] = -math.inf
        return lprobs

    def finalize(
        self, step: int, bbsz_idx: Tensor, eos_scores: Tensor, tokens: Tensor, scores: Tensor
    ) -> List[int]:
        """Record the hypotheses ending at `step`; the batch rows whose sentence is now done."""
        ended = tokens.index_select(0, bbsz_idx)[:, 1 : step + 2]
        ended[:, step] = EOS
        positional = scores.index_select(0, bbsz_idx)[:, : step + 1]
        positional[:, step] = eos_scores
        positional[:, 1:] = positional[:, 1:] - positional[:, :-1]
        normalised = eos_scores / (step + 1) ** self.lenpen
        rows = torch.div(bbsz_idx, self.beam, rounding_mode="trunc").tolist()
        for i, row in enumerate(rows):
            hypotheses = self.finalized[int(self.sentence_of_row[row])]
            if len(hypotheses) < self.beam:
                hypotheses.append(Hypothesis(ended[i].tolist(), float(normalised[i]), positional[i].tolist()))
        done = []
        for row in sorted(set(rows)):
            sentence = int(self.sentence_of_row[row])
            full = len(self.finalized[sentence]) == self.beam
            if not self.finished[sentence] and (full or step == int(self.max_lengths[row])):
                self.finished[sentence] = True
                done.append(row)
        self.remaining -= len(done)
        return done

    def shrink(self, kept_rows: Tensor) -> None:
        self.max_lengths = self.max_lengths[kept_rows]
        self.sentence_of_row = self.sentence_of_row[kept_rows]


def _best_first(hypotheses: List[Hypothesis]) -> List[Hypothesis]:
    # torch.sort, as fairseq sorts them, so that equal scores keep fairseq's order.
    order = torch.sort(torch.tensor([h.score for h in hypotheses]), descending=True).indices
    return [hypotheses[i] for i in order.tolist()]
