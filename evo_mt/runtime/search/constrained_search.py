"""Lexically constrained beam search: required target phrases, by dynamic beam allocation.

Post & Vilar (2018), as fairseq's LexicallyConstrainedBeamSearch runs it, in numpy inside
evo_mt.runtime.search.beam_search. At each step a constrained sentence's candidates are the usual
2 x beam best continuations, plus each hypothesis' best token, plus each hypothesis' next
token of every phrase it has not met yet. A candidate's "bank" is the number of phrases it
has met. The beam is dealt round-robin over the banks, fullest bank first: the first
candidate of every bank, then the second of every bank, and so on. Within a bank the best
score comes first, then the candidate furthest inside an unfinished phrase (so that a phrase
of several tokens gets finished), then the others by score. A hypothesis may only end (</s>)
when every phrase is met, except at its sentence's maximum length, which the caller extends
by the phrases' tokens; the hypotheses that met every phrase are then put before those that
did not.

Where this differs from fairseq's implementation, on purpose:
- Banks count phrases met, not tokens. With token banks a sentence has more banks than a
  beam of 5 has places, and the hypotheses that force every phrase token early crowd out the
  one that would meet the phrases where the model puts them: on the toy model with an
  aligned-term glossary, 7 of 60 sentences changed (mostly for the worse) with token banks,
  2 with phrase banks, though the unconstrained translations met 99.7% of the terms already.
  With at most beam - 1 phrases (LIMIT_HELP), every bank's best candidate has a place.
- Each phrase is tracked on its own (a Knuth-Morris-Pratt automaton per phrase): a phrase
  is met when its tokens appear contiguously anywhere in the output, also overlapping
  another phrase, and the token after them does not continue their word (`continues_word`
  (V,): a piece without the word-start mark that begins with a letter, mark or number;
  evo_mt.runtime.base.vocabulary), so that a required word comes back as that word, not as the
  start of a longer one (Post & Vilar 2018 and Hu et al. 2019 complete a constraint as a
  word). A hypothesis that has placed a phrase's tokens waits for that next token: it counts
  in the bank of a met phrase and may end (</s> ends a word), its candidates include its
  best token that ends the word, and a token that continues the word falls back as any
  mismatch does. A mismatch falls back to the longest matched prefix, not to nothing.
  fairseq's trie needs non-overlapping occurrences, restarts from its root and knows no
  words.
- A phrase given twice is required once.
- Equal sort keys keep a fixed order (the lower beam x vocabulary index first), so the
  lean engine and the exported runtime, given the same log-probabilities, choose the same.
"""

from __future__ import annotations

from typing import List, Sequence

import numpy as np

from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.base.vocabulary import EOS, PAD
from evo_mt.runtime.search.decoding import Hypothesis

_NEG_INF = -np.inf
LIMIT_HELP = "at most beam size - 1 constraints per sentence"  # a place in the beam for each bank


def check_constraint_count(count: int, beam: int) -> str | None:
    """Why `count` phrases cannot be searched with this beam (None: they can)."""
    if count > beam - 1:
        return f"{count} constraints are more than beam {beam} can carry ({LIMIT_HELP}; raise --beam)"
    return None


def phrases_met(
    tokens: Sequence[int], phrases: Sequence[Sequence[int]], continues_word: np.ndarray | None = None
) -> List[bool]:
    """For each phrase, whether it occurs contiguously in `tokens` (indices), with
    `continues_word` (V,) followed by a token that does not continue its word, or last."""
    tokens = list(tokens)
    met = []
    for phrase in phrases:
        n = len(phrase)
        met.append(
            any(
                tokens[i : i + n] == list(phrase)
                and (continues_word is None or i + n == len(tokens) or not continues_word[tokens[i + n]])
                for i in range(len(tokens) - n + 1)
            )
        )
    return met


class _Phrases:
    """One sentence's distinct phrases, padded into arrays, with their failure functions.

    A hypothesis' progress through a phrase is the number of its tokens placed; at the
    phrase's length it waits for a token that ends the word, which makes it length + 1: met."""

    def __init__(self, phrases: Sequence[Sequence[int]], continues_word: np.ndarray | None) -> None:
        distinct: List[List[int]] = []
        for phrase in phrases:
            if list(phrase) not in distinct:
                distinct.append(list(phrase))
        longest = max(len(p) for p in distinct)
        self.tokens = np.full((len(distinct), longest), -1, dtype=np.int64)
        self.fail = np.zeros((len(distinct), longest), dtype=np.int64)
        for c, phrase in enumerate(distinct):
            self.tokens[c, : len(phrase)] = phrase
            self.fail[c, : len(phrase)] = _failure(phrase)
        self.lengths = np.array([len(p) for p in distinct], dtype=np.int64)
        self.columns = np.arange(len(distinct))[None, :]
        self.continues_word = continues_word

    def advance(self, progress: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """The progress (K, C) after appending `tokens` (K,) to hypotheses at `progress` (K, C)."""
        met = progress > self.lengths
        state = progress.copy()
        last = self.tokens.shape[1] - 1
        token = tokens[:, None]
        word_goes_on = (
            np.zeros_like(token, dtype=bool) if self.continues_word is None else self.continues_word[token]
        )
        for _ in range(last + 2):
            waiting = state == self.lengths
            differs = self.tokens[self.columns, np.minimum(state, last)] != token
            mismatch = ~met & (state > 0) & np.where(waiting, word_goes_on, differs)
            if not mismatch.any():
                break
            state = np.where(mismatch, self.fail[self.columns, np.clip(state - 1, 0, last)], state)
        waiting = state == self.lengths
        match = ~met & ~waiting & (self.tokens[self.columns, np.minimum(state, last)] == token)
        return np.where(met | (waiting & ~word_goes_on), self.lengths + 1, np.where(match, state + 1, 0))

    def next_tokens(self, progress: np.ndarray, cumulative: np.ndarray) -> np.ndarray:
        """(K, 2C) tokens that continue or start each phrase not placed yet, and for a placed
        phrase waiting for its word to end, the hypothesis' best token that ends it (by
        `cumulative` (K, V)); -1 where met."""
        unmet = progress < self.lengths
        waiting = progress == self.lengths
        last = self.tokens.shape[1] - 1
        cont = self.tokens[self.columns, np.minimum(progress, last)]
        if waiting.any():
            ending = cumulative
            if self.continues_word is not None:
                ending = np.where(self.continues_word, _NEG_INF, cumulative)
            cont = np.where(waiting, ending.argmax(axis=1)[:, None], cont)
        start = np.broadcast_to(self.tokens[:, 0], progress.shape)
        return np.where(
            np.concatenate([unmet | waiting, unmet], axis=1), np.concatenate([cont, start], axis=1), -1
        )


def _failure(phrase: List[int]) -> List[int]:
    """Knuth-Morris-Pratt: for each prefix, the length of its longest proper border."""
    fail = [0] * len(phrase)
    k = 0
    for i in range(1, len(phrase)):
        while k > 0 and phrase[i] != phrase[k]:
            k = fail[k - 1]
        if phrase[i] == phrase[k]:
            k += 1
        fail[i] = k
    return fail


class Constraints:
    """Each sentence's phrases and each live hypothesis' progress through them."""

    def __init__(
        self,
        constraints: Sequence[Sequence[Sequence[int]]],
        beam: int,
        continues_word: np.ndarray | None = None,
    ) -> None:
        """`continues_word` (V,): which tokens continue the word before them (None: none do,
        every token ends a word)."""
        self.beam = beam
        self.continues_word = continues_word
        self.phrases: List[_Phrases | None] = []
        for number, phrases in enumerate(constraints):
            for phrase in phrases:
                if len(phrase) == 0:
                    raise OptionError("constraints", f"of sentence {number + 1}: an empty phrase")
                if EOS in phrase or PAD in phrase:
                    raise OptionError(
                        "constraints", f"of sentence {number + 1}: a phrase holds </s> or <pad>"
                    )
            table = _Phrases(phrases, continues_word) if phrases else None
            if table is not None and (problem := check_constraint_count(len(table.lengths), beam)):
                raise OptionError("constraints", f"of sentence {number + 1}: {problem}")
            self.phrases.append(table)
        self.given = [[list(p) for p in phrases] for phrases in constraints]  # by sentence, never shrunk
        self.progress = [
            None if t is None else np.zeros((beam, len(t.lengths)), np.int64) for t in self.phrases
        ]
        self.candidate_progress: List[np.ndarray | None] = [None] * len(self.phrases)

    def hold_back_eos(self, lprobs: np.ndarray, max_lengths: np.ndarray, step: int) -> None:
        """No </s> for a hypothesis with a phrase unmet, unless at its sentence's maximum length."""
        for row, table in enumerate(self.phrases):
            if table is None or step >= max_lengths[row]:
                continue
            unmet = (self.progress[row] < table.lengths).any(axis=1)
            lprobs[row * self.beam : (row + 1) * self.beam][unmet, EOS] = _NEG_INF

    def allocate(
        self,
        step: int,
        lprobs: np.ndarray,
        scores: np.ndarray,
        cand_scores: np.ndarray,
        cand_indices: np.ndarray,
        cand_beams: np.ndarray,
    ) -> None:
        """Replace the candidates of each constrained sentence by dynamic beam allocation's."""
        bsz, beam, vocab = lprobs.shape
        k = cand_scores.shape[1]
        for row, table in enumerate(self.phrases):
            if table is None:
                continue
            live = 1 if step == 0 else beam  # at the first step every beam holds the same start
            cumulative = lprobs[row, :live]
            if step > 0:
                cumulative = cumulative + scores.reshape(bsz, beam, -1)[row, :, step - 1][:, None]
            progress = self.progress[row][:live]
            wanted = table.next_tokens(progress, cumulative)
            pool_beams = [cand_beams[row], np.repeat(np.arange(live), wanted.shape[1])]
            pool_tokens = [cand_indices[row], wanted.reshape(-1)]
            if step > 0:
                pool_beams.append(np.arange(live))
                pool_tokens.append(cumulative.argmax(axis=1))
            beams_all, tokens_all = np.concatenate(pool_beams), np.concatenate(pool_tokens)
            keys = np.unique((beams_all * vocab + tokens_all)[tokens_all >= 0])
            beams_, tokens_ = keys // vocab, keys % vocab
            found = cumulative[beams_, tokens_]
            reached = table.advance(progress[beams_], tokens_)
            phrases = len(table.lengths)
            bank = (reached >= table.lengths).sum(axis=1)
            by_bank = np.lexsort((keys, -found.astype(np.float64), -bank))
            sorted_bank = bank[by_bank]
            positions = np.arange(len(by_bank))
            first_of_bank = np.maximum.accumulate(
                np.where(np.r_[True, sorted_bank[1:] != sorted_bank[:-1]], positions, 0)
            )
            # Each bank's best candidate first, then its candidate furthest inside a phrase
            # (so that a phrase of several tokens gets finished), then the others by score.
            partial = np.where(reached < table.lengths, reached, 0).sum(axis=1)[by_bank]
            partial[positions == first_of_bank] = 0
            furthest = np.lexsort((positions, -partial, sorted_bank))
            heads = furthest[np.r_[True, sorted_bank[furthest][1:] != sorted_bank[furthest][:-1]]]
            promoted = heads[partial[heads] > 0]
            place = np.where(positions == first_of_bank, 0, 2)
            place[promoted] = 1
            by_bank = by_bank[np.lexsort((positions, place, -sorted_bank))]
            stripe = (positions - first_of_bank) * (phrases + 1) + (phrases - sorted_bank)
            # Impossible continuations (-inf) go last, whatever their bank.
            stripe = stripe + (found[by_bank] == _NEG_INF) * (len(by_bank) + 1) * (phrases + 1)
            chosen = by_bank[np.argsort(stripe, kind="stable")][:k]
            cand_scores[row], cand_indices[row], cand_beams[row] = (
                found[chosen],
                tokens_[chosen],
                beams_[chosen],
            )
            self.candidate_progress[row] = reached[chosen]

    def keep(self, active: np.ndarray) -> None:
        """The progress of the candidates chosen as the next step's hypotheses (S, beam)."""
        for row, chosen in enumerate(self.candidate_progress):
            if chosen is not None:
                self.progress[row] = chosen[active[row]]

    def met_first(self, found: List[List[Hypothesis]]) -> List[List[Hypothesis]]:
        """Each sentence's hypotheses that hold all its phrases first (keeping their order):
        at the maximum length a hypothesis ends whether or not it met them."""
        ordered = []
        for phrases, hypotheses in zip(self.given, found, strict=True):
            met = [all(phrases_met(h.tokens, phrases, self.continues_word)) for h in hypotheses]
            ordered.append([hypotheses[i] for i in sorted(range(len(met)), key=lambda i: not met[i])])
        return ordered

    def shrink(self, kept_rows: np.ndarray) -> None:
        rows = kept_rows.tolist()
        self.phrases = [self.phrases[i] for i in rows]
        self.progress = [self.progress[i] for i in rows]
        self.candidate_progress = [self.candidate_progress[i] for i in rows]
