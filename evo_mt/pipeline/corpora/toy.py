"""The toy recipe's corpus: a synthetic English-like → German-like language pair.

It is generated deterministically (no download) and has the structure attention must learn:

- agreement: German-like determiners and adjective endings follow the noun's gender,
  number and case (a preposition selects the dative); verbs agree with their subject;
- reordering: an initial adverb moves the verb before the subject (verb-second), and a
  subordinate "that" clause puts its verb last;
- a vocabulary of invented words built from syllables, which the target spells with other
  syllables: thousands of word forms, so subword units pay off.
"""

import functools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from evo_mt.pipeline.corpora.splits import write_split
from evo_mt.pipeline.recipes import Recipe
from evo_mt.runtime.base.errors import OptionError, UserError

VALID_SENTENCES = 500
TEST_SENTENCES = 500

_SOURCE_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
_TARGET_SYLLABLES = [c + v for c in "bdfghklmnprstw" for v in "aeiou"]

_ADVERBS = {"yesterday": "gestern", "today": "heute", "often": "oft", "rarely": "selten"}
_PREPOSITIONS = {"with": "mit", "near": "bei", "under": "unter", "behind": "hinter"}
_DEFINITE = {
    ("nom", "m"): "der", ("nom", "f"): "die", ("nom", "n"): "das", ("nom", "pl"): "die",
    ("dat", "m"): "dem", ("dat", "f"): "der", ("dat", "n"): "dem", ("dat", "pl"): "den",
}
_INDEFINITE = {
    ("nom", "m"): "ein", ("nom", "f"): "eine", ("nom", "n"): "ein", ("nom", "pl"): "einige",
    ("dat", "m"): "einem", ("dat", "f"): "einer", ("dat", "n"): "einem", ("dat", "pl"): "einigen",
}
_PLURAL_ENDING = {"m": "e", "f": "en", "n": "er"}


@dataclass(frozen=True)
class Lexicon:
    nouns: List[Tuple[str, str, str]]  # (source lemma, target lemma, gender)
    verbs: List[Tuple[str, str]]
    adjectives: List[Tuple[str, str]]


def _lexicon(rng: random.Random, nouns: int = 300, verbs: int = 80, adjectives: int = 60) -> Lexicon:
    """Invented words; the target spells each source syllable with its own syllable."""
    shuffled = rng.sample(_TARGET_SYLLABLES, len(_SOURCE_SYLLABLES))
    spelling = dict(zip(_SOURCE_SYLLABLES, shuffled, strict=True))
    seen = set()

    def word() -> Tuple[str, str]:
        while True:
            syllables = rng.choices(_SOURCE_SYLLABLES, k=rng.choice((2, 2, 3, 3, 4)))
            source = "".join(syllables)
            if source not in seen:
                seen.add(source)
                return source, "".join(spelling[s] for s in syllables)

    return Lexicon(
        nouns=[(*word(), rng.choice("mfn")) for _ in range(nouns)],
        verbs=[word() for _ in range(verbs)],
        adjectives=[word() for _ in range(adjectives)],
    )


class _Generator:
    def __init__(self, lexicon: Lexicon, rng: random.Random) -> None:
        self.lex = lexicon
        self.rng = rng

    def noun_phrase(self, case: str) -> Tuple[List[str], List[str], bool]:
        """(source words, target words, plural) of a determiner, adjectives and a noun."""
        rng = self.rng
        source_noun, target_noun, gender = rng.choice(self.lex.nouns)
        plural = rng.random() < 0.35
        definite = rng.random() < 0.6
        key = (case, "pl" if plural else gender)
        source = ["the" if definite else ("some" if plural else "a")]
        target = [(_DEFINITE if definite else _INDEFINITE)[key]]
        for source_adj, target_adj in rng.sample(self.lex.adjectives, rng.choice((0, 0, 1, 1, 2))):
            source.append(source_adj)
            if definite:
                ending = "en" if plural or case == "dat" else "e"
            elif case == "dat":
                ending = "en"
            else:
                ending = "e" if plural else {"m": "er", "f": "e", "n": "es"}[gender]
            target.append(target_adj + ending)
        source.append(source_noun + ("s" if plural else ""))
        target.append(target_noun + (_PLURAL_ENDING[gender] if plural else ""))
        return source, target, plural

    def clause(self, subordinate: bool) -> Tuple[List[str], List[str]]:
        rng = self.rng
        subject_src, subject_tgt, plural = self.noun_phrase("nom")
        object_src, object_tgt, _ = self.noun_phrase("nom")
        verb_src, verb_tgt = rng.choice(self.lex.verbs)
        verb_src += "" if plural else "s"
        verb_tgt += "en" if plural else "t"
        extra_src: List[str] = []
        extra_tgt: List[str] = []
        if rng.random() < 0.4:
            preposition = rng.choice(list(_PREPOSITIONS))
            phrase_src, phrase_tgt, _ = self.noun_phrase("dat")
            extra_src, extra_tgt = [preposition, *phrase_src], [_PREPOSITIONS[preposition], *phrase_tgt]
        source = [*subject_src, verb_src, *object_src, *extra_src]
        if subordinate:
            return source, [*subject_tgt, *object_tgt, *extra_tgt, verb_tgt]
        if rng.random() < 0.3:
            adverb = rng.choice(list(_ADVERBS))
            return [adverb, *source], [_ADVERBS[adverb], verb_tgt, *subject_tgt, *object_tgt, *extra_tgt]
        return source, [*subject_tgt, verb_tgt, *object_tgt, *extra_tgt]

    def sentence(self) -> Tuple[str, str]:
        source, target = self.clause(subordinate=False)
        if self.rng.random() < 0.3:
            sub_source, sub_target = self.clause(subordinate=True)
            source += ["that", *sub_source]
            target += [",", "dass", *sub_target]
        return " ".join(source) + " .", " ".join(target) + " ."


def generate(sentences: int, seed: int) -> Dict[str, List[Tuple[str, str]]]:
    """Train, valid and test pairs; the same arguments always give the same corpus."""
    lexicon = _lexicon(random.Random(seed))
    splits = {"train": sentences, "valid": VALID_SENTENCES, "test": TEST_SENTENCES}
    return {
        split: [generator.sentence() for _ in range(n)]
        for split, n in splits.items()
        for generator in [_Generator(lexicon, random.Random(f"{seed}-{split}"))]
    }


def write_raw(recipe: Recipe, source: str | None, downloads: Path, out: Path) -> None:
    """Write out/{train,valid,test}.{src,tgt} of the generated corpus."""
    if source is not None:
        raise OptionError("source", "does not apply to the toy corpus: it is generated")
    if recipe.corpus.sentences < 1:
        raise UserError(f"{recipe.folder}: corpus.sentences must be positive for the toy corpus")
    for split, pairs in generate(recipe.corpus.sentences, recipe.corpus.seed).items():
        write_split(recipe, out, split, pairs)


_TARGET_ENDINGS = ("", "e", "en", "er", "es", "t", *_PLURAL_ENDING.values())


CONTENT_WORDS = ("noun", "verb", "adjective")


def counterparts(source: str, target: str, seed: int, kinds: Sequence[str] = CONTENT_WORDS) -> Dict[int, int]:
    """Where each content word (of `kinds`: noun, verb, adjective) of a source sentence of the
    corpus generated with `seed` has its counterpart in `target` (a translation, or the
    reference): source word position -> target word position, both counted in
    whitespace-separated words.
    The counterpart is the target word spelled from the source word's stem with an ending of
    the generator's; a word whose counterpart is not in `target` exactly once is left out."""
    stems = _content_stems(seed, tuple(kinds))
    words = target.split()
    found: Dict[int, int] = {}
    for position, word in enumerate(source.split()):
        stem = stems.get(word)
        if stem is None:
            continue
        at = [i for i, w in enumerate(words) if w.startswith(stem) and w[len(stem) :] in _TARGET_ENDINGS]
        if len(at) == 1:
            found[position] = at[0]
    return found


@functools.lru_cache(maxsize=4)
def _content_stems(seed: int, kinds: Tuple[str, ...]) -> Dict[str, str]:
    """Each content word form of `kinds` in the source language (a lemma, or a plural noun or
    a verb with its -s) -> the target stem that spells it."""
    lexicon = _lexicon(random.Random(seed))
    words = {
        "noun": [(s, t) for s, t, _ in lexicon.nouns], "verb": lexicon.verbs, "adjective": lexicon.adjectives
    }
    return {form: t for kind in kinds for s, t in words[kind] for form in (s, s + "s")}
