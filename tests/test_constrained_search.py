"""Constrained beam search (evo_mt.runtime.search.constrained_search) on a made-up model: every
required phrase is met, as a whole word, a sentence without phrases is searched as without
constraints, and what the search cannot do is refused in one line."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.base.vocabulary import EOS, SPECIALS, Vocabulary, continues_word
from evo_mt.runtime.search.beam_search import beam_search
from evo_mt.runtime.search.constrained_search import _failure, _Phrases, phrases_met

VOCAB = 24
# A made-up vocabulary's pieces: 4-11 start a word, 12-19 continue one, 20-23 are punctuation.
PIECES = [f"\u2581w{i}" for i in range(4, 12)] + [f"c{i}" for i in range(12, 20)] + list(".,;!")
CONTINUES = Vocabulary([*SPECIALS, *PIECES]).continues_word


class MadeUpDecoder:
    """Log-probabilities that depend on a hypothesis' sentence and whole prefix only (a seeded
    generator per prefix), so a hypothesis is scored the same in any batch."""

    def __init__(self, sentences: int, beam: int) -> None:
        self.prefixes = [(s,) for s in range(sentences) for _ in range(beam)]

    def step(self, last_tokens: np.ndarray) -> np.ndarray:
        self.prefixes = [p + (int(t),) for p, t in zip(self.prefixes, last_tokens, strict=True)]
        rows = []
        for prefix in self.prefixes:
            logits = np.random.default_rng(abs(hash(prefix)) % 2**32).normal(size=VOCAB) * 3
            logits[EOS] += 0.3 * len(prefix)  # ever likelier to end
            rows.append(logits - np.log(np.exp(logits).sum()))
        return np.array(rows, dtype=np.float32)

    def select(self, hypotheses: np.ndarray, sentences: np.ndarray | None) -> None:
        self.prefixes = [self.prefixes[i] for i in hypotheses]


class WordGoesOnDecoder(MadeUpDecoder):
    """The made-up model, sure that a continuation piece (13) follows the tokens `after`."""

    def __init__(self, sentences: int, beam: int, after: list) -> None:
        super().__init__(sentences, beam)
        self.after = after

    def step(self, last_tokens: np.ndarray) -> np.ndarray:
        lprobs = super().step(last_tokens)
        lprobs[np.isin(last_tokens, self.after), 13] = -0.01
        return lprobs


def search(constraints, beam=5, sentences=3, max_length=12, continues_word=None, decoder=None):
    decoder = decoder or MadeUpDecoder(sentences, beam)
    lengths = np.full(sentences, max_length)
    if constraints is not None:
        lengths = lengths + np.array([sum(map(len, c)) for c in constraints])
    return beam_search(
        decoder, lengths, beam=beam, lenpen=1.0, constraints=constraints, continues_word=continues_word
    )


phrase = st.lists(st.integers(4, VOCAB - 1), min_size=1, max_size=3)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(phrase, max_size=3), min_size=1, max_size=3), st.booleans())
def test_the_best_hypothesis_holds_every_phrase_of_its_sentence(constraints, words):
    continues = CONTINUES if words else None
    found = search(constraints, sentences=len(constraints), continues_word=continues)
    for phrases, hypotheses in zip(constraints, found, strict=True):
        met = [all(phrases_met(h.tokens, phrases, continues)) for h in hypotheses]
        assert met[0], (phrases, hypotheses[0].tokens)
        assert met == sorted(met, reverse=True)  # those that met them first
        for hypothesis in hypotheses:
            assert hypothesis.tokens[-1] == EOS and np.isfinite(hypothesis.score) and hypothesis.score <= 0


def test_a_sentence_without_phrases_is_searched_as_without_constraints():
    plain = search(None)
    mixed = search([[[7, 9]], [], [[11]]])
    assert mixed[1] == plain[1]  # tokens and scores, all beam hypotheses
    assert search([[], [], []]) == plain
    assert mixed[0] != plain[0] and all(phrases_met(h.tokens, [[7, 9]]) for h in mixed[0])


def test_the_best_constrained_hypothesis_scores_no_better_than_the_unconstrained_best():
    plain, constrained = search(None), search([[[5]], [[6, 8]], [[13], [20]]])
    for free, bound in zip(plain, constrained, strict=True):
        assert bound[0].score <= free[0].score + 1e-6 or any(h.tokens == bound[0].tokens for h in free)


def test_a_phrase_overlapping_a_false_start_is_still_found():
    # Knuth-Morris-Pratt: after "5 5" a 6 completes "5 6"; after "5 6 5" a 7 completes "5 6 5 7"...
    assert _failure([5, 6, 5, 7]) == [0, 0, 1, 0]
    assert _failure([5, 5, 6]) == [0, 1, 0]
    assert phrases_met([4, 5, 5, 6, 2], [[5, 6], [5, 5, 6], [6, 5]]) == [True, True, False]


def test_a_piece_that_continues_the_word_undoes_a_placed_phrase_and_a_word_end_meets_it():
    assert CONTINUES[[4, 11, 12, 19, 20, 23, EOS]].tolist() == [False, False, True, True, False, False, False]
    # A vowel sign and a digit go on with a word; an apostrophe, a hyphen, "▁" do not.
    found = [continues_word(p) for p in ["\u093f", "9", "'s", "-haus", "\u2581", ""]]
    assert found == [True, True, False, False, False, False]
    table = _Phrases([[5, 6], [12, 12]], CONTINUES)
    progress = np.zeros((1, 2), dtype=np.int64)
    steps = []
    for token in [5, 6, 12, 5, 6, 20, 12, 12, 12, 4]:
        progress = table.advance(progress, np.array([token]))
        steps.append(progress[0].tolist())
    # [5, 6] waits at 2 for its word's end: "c12" continues it (back to 0), "." ends it (3: met).
    # [12, 12] inside "c12 c12 c12" falls back to its border and waits again; "▁w4" meets it.
    assert steps == [[1, 0], [2, 0], [0, 1], [1, 0], [2, 0], [3, 0], [3, 1], [3, 2], [3, 2], [3, 3]]
    for ending in [4, 21, EOS]:  # a word start, punctuation, the end of the sentence
        assert table.advance(np.array([[2, 0]]), np.array([ending]))[0, 0] == 3
    assert phrases_met([5, 6, 12, EOS], [[5, 6]], CONTINUES) == [False]
    assert phrases_met([5, 6, 12, EOS], [[5, 6]]) == [True]  # as pieces alone
    assert phrases_met([4, 5, 6, 12, 5, 6], [[5, 6]], CONTINUES) == [True]  # last: the sentence ends


def test_a_required_word_is_not_continued_where_the_model_would_continue_it():
    constraints = [[[7]], [[5, 9], [11]], []]
    pieces = search(constraints, decoder=WordGoesOnDecoder(3, 5, [7, 9, 11]))
    words = search(constraints, continues_word=CONTINUES, decoder=WordGoesOnDecoder(3, 5, [7, 9, 11]))
    for phrases, as_pieces, as_words in zip(constraints[:2], pieces[:2], words[:2], strict=True):
        assert all(phrases_met(as_pieces[0].tokens, phrases))  # met as pieces: "▁w7c13" holds "▁w7"
        assert not all(phrases_met(as_pieces[0].tokens, phrases, CONTINUES))
        assert all(phrases_met(as_words[0].tokens, phrases, CONTINUES))
        assert all(all(phrases_met(h.tokens, phrases, CONTINUES)) for h in as_words)
    assert words[2] == pieces[2]  # a sentence without phrases: as without constraints


@pytest.mark.parametrize(
    "constraints, problem",
    [
        ([[[]]], "constraints of sentence 1: an empty phrase"),
        ([[[5, EOS]]], "constraints of sentence 1: a phrase holds </s> or <pad>"),
        (
            [[[5]], [[4], [5], [6], [7], [8]]],
            "constraints of sentence 2: 5 constraints are more than beam 5 can carry",
        ),
    ],
)
def test_what_the_search_cannot_do_is_refused(constraints, problem):
    with pytest.raises(OptionError) as error:
        search(constraints, sentences=len(constraints))
    assert str(error.value).startswith(problem)
